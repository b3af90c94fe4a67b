using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Queue;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Lists the entries of the job queue: waiting, running and finished.</summary>
[Cmdlet(VerbsCommon.Get, "FeatureJob")]
[OutputType(typeof(QueuedJob))]
public sealed class GetFeatureJobCommand : WorktreeToolsCmdlet
{
    private readonly HashSet<long> written = [];
    private List<QueuedJob>? entries;

    /// <summary>Only entries in these states.</summary>
    [Parameter(Position = 0)]
    public QueuedJobState[]? State { get; set; }

    /// <summary>Only entries of these tickets; wildcards allowed.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    /// <summary>Only entries of these jobs; wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(JobNameCompleter))]
    public string[]? Job { get; set; }

    /// <summary>Only the entries with these ids.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public long[]? Id { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            entries ??= ReadEntries();
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
            return;
        }

        var tickets = Patterns(Ticket);
        var jobs = Patterns(Job);
        var ids = Id is { Length: > 0 } ? Id.ToHashSet() : null;
        foreach (var entry in entries)
        {
            if ((ids is null || ids.Contains(entry.Id))
                && (tickets.Count == 0 || tickets.Any(p => p.IsMatch(entry.Ticket)))
                && (jobs.Count == 0 || jobs.Any(p => p.IsMatch(entry.Job)))
                && written.Add(entry.Id))
            {
                WriteObject(entry);
            }
        }
    }

    private List<QueuedJob> ReadEntries()
    {
        using var queue = JobQueue.Open(Workspace.Repository.StateDirectory);
        return queue.List(State?.Distinct().ToList());
    }

    private static List<WildcardPattern> Patterns(IEnumerable<string>? patterns) =>
        patterns?.Select(p => new WildcardPattern(p, WildcardOptions.IgnoreCase)).ToList() ?? [];
}
