using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Reads the joblog back as objects, newest last.</summary>
[Cmdlet(VerbsCommon.Get, "FeatureJobLog")]
[OutputType(typeof(JobLogEntry))]
public sealed class GetFeatureJobLogCommand : WorktreeToolsCmdlet
{
    /// <summary>Tickets whose runs to show; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    /// <summary>Jobs whose runs to show; wildcards allowed.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(JobNameCompleter))]
    public string[]? Job { get; set; }

    /// <summary>Shows only the last N matching runs.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Last { get; set; }

    private readonly List<string> tickets = [];

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        if (Ticket is not null)
        {
            tickets.AddRange(Ticket);
        }
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        try
        {
            var ticketPatterns = Patterns(tickets);
            var jobPatterns = Patterns(Job);
            var path = Path.Combine(Workspace.Repository.StateDirectory, "jobs", "joblog");
            var rows = new JobLog(path).Read()
                .Where(e => ticketPatterns.Count == 0
                    || ticketPatterns.Any(p => p.IsMatch(e.Ticket)))
                .Where(e => jobPatterns.Count == 0 || jobPatterns.Any(p => p.IsMatch(e.Job)));
            if (Last > 0)
            {
                // Only the last N rows are kept in memory, however long the joblog is.
                var window = new Queue<JobLogEntry>(Last);
                foreach (var row in rows)
                {
                    if (window.Count == Last)
                    {
                        window.Dequeue();
                    }
                    window.Enqueue(row);
                }
                rows = window;
            }
            foreach (var row in rows)
            {
                WriteObject(row);
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    private static List<WildcardPattern> Patterns(IEnumerable<string>? patterns) =>
        patterns?.Select(p => new WildcardPattern(p, WildcardOptions.IgnoreCase)).ToList() ?? [];
}
