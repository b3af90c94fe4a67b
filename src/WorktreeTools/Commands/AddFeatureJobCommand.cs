using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Queue;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Queues a job in features' worktrees, for Start-FeatureJobRunner to run later.</summary>
[Cmdlet(
    VerbsCommon.Add,
    "FeatureJob",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(QueuedJob))]
public sealed class AddFeatureJobCommand : WorktreeToolsCmdlet
{
    private JobQueue? queue;
    private List<FeatureRecord>? features;

    /// <summary>The name of a job from the configuration's Jobs table.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(JobNameCompleter))]
    public string Job { get; set; } = string.Empty;

    /// <summary>Tickets of the features to queue in; wildcards allowed; all if omitted.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    /// <summary>Entries with a higher priority run first.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [WholeNumber]
    public int Priority { get; set; }

    /// <summary>The entries run at this time or later; an empty value means now.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull]
    public DateTime? NotBefore { get; set; }

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        try
        {
            queue = JobQueue.Open(Workspace.Repository.StateDirectory);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            if (FindCommand() is not { } found)
            {
                return;
            }
            var requests = new List<QueueRequest>();
            DateTimeOffset? notBefore = NotBefore is { } time
                ? new DateTimeOffset(time.ToLocalTime())
                : null;
            foreach (var feature in SelectTickets())
            {
                var target = $"{feature.Ticket} ({found.Job}: {found.Command})";
                if (ShouldProcess(target, "Queue job"))
                {
                    requests.Add(new QueueRequest(
                        feature.Ticket, found.Job, found.Command, Priority, notBefore));
                }
            }
            if (requests.Count == 0)
            {
                return;
            }
            foreach (var entry in queue!.Add(requests, DateTimeOffset.Now))
            {
                WriteObject(entry);
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            queue?.Dispose();
            queue = null;
        }
        base.Dispose(disposing);
    }

    /// <summary>The job's configured name and command line, or null after an error.</summary>
    private (string Job, string Command)? FindCommand()
    {
        var jobs = Workspace.Config.Jobs;
        if (jobs.TryGetValue(Job, out var command))
        {
            var name = jobs.Keys.First(k => k.Equals(Job, StringComparison.OrdinalIgnoreCase));
            return (name, command);
        }
        WriteError(Errors.Create(
            "JobNotFound",
            ErrorCategory.ObjectNotFound,
            Workspace.Config.MissingJob(Job) + " The queue runs named jobs only.",
            Job));
        return null;
    }

    private static bool IsTicketText(string pattern)
    {
        try
        {
            FeatureNames.ValidateTicket(pattern.Replace('*', 'x').Replace('?', 'x'));
            return true;
        }
        catch (WorktreeToolsException)
        {
            return false;
        }
    }

    /// <summary>The features the tickets name; a literal ticket naming none is an error.</summary>
    private List<FeatureRecord> SelectTickets()
    {
        features ??= Workspace.Store.LoadAll();
        if (Ticket is not { Length: > 0 })
        {
            if (MyInvocation.ExpectingInput)
            {
                // A piped object with no ticket, such as an unmanaged worktree (Get-Feature -All).
                WriteError(Errors.Create(
                    "TicketRequired",
                    ErrorCategory.InvalidArgument,
                    "A piped object has no Ticket, so there is no feature to queue the job in. "
                    + "Pipe features made by New-Feature, or objects with Ticket and Job "
                    + "properties.",
                    Job));
                return [];
            }
            return features;
        }

        var selected = new List<FeatureRecord>();
        foreach (var pattern in Ticket)
        {
            // Piped strings bind to -Ticket by value, so PowerShell turns a piped object that
            // has no Ticket property into its text, such as '@{Job=test}': no ticket at all.
            if (MyInvocation.ExpectingInput && !IsTicketText(pattern))
            {
                WriteError(Errors.Create(
                    "TicketRequired",
                    ErrorCategory.InvalidArgument,
                    $"A piped object has no Ticket (it was read as '{pattern}'), so there is no "
                    + "feature to queue the job in. Pipe tickets, features made by New-Feature, "
                    + "or objects with Ticket and Job properties.",
                    pattern));
                continue;
            }
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            var matches = features.Where(f => wildcard.IsMatch(f.Ticket)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteFeatureNotFound(pattern);
            }
            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }
        return selected;
    }
}
