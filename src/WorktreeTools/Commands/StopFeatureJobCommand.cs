using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Queue;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Cancels queued entries and stops running ones, with their whole process tree.</summary>
[Cmdlet(
    VerbsLifecycle.Stop,
    "FeatureJob",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = ById)]
[OutputType(typeof(QueuedJob))]
public sealed class StopFeatureJobCommand : WorktreeToolsCmdlet
{
    private const string ById = "ById";

    // A runner looks for stop requests every 250 ms and gives a job 5 s to end before it
    // kills it; this leaves room for both.
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly List<long> requested = [];
    private JobQueue? queue;

    /// <summary>The ids of the entries to stop.</summary>
    [Parameter(
        Mandatory = true,
        Position = 0,
        ValueFromPipelineByPropertyName = true,
        ParameterSetName = ById)]
    public long[] Id { get; set; } = [];

    /// <summary>Entries from Get-FeatureJob.</summary>
    [Parameter(
        Mandatory = true,
        ValueFromPipeline = true,
        ParameterSetName = ParameterSets.ByObject)]
    public QueuedJob[]? InputObject { get; set; }

    /// <summary>Emits each entry as it is after the stop.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

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
        var ids = ParameterSetName == ById ? Id : InputObject!.Select(e => e.Id).ToArray();
        foreach (var id in ids)
        {
            try
            {
                Stop(id);
            }
            catch (WorktreeToolsException failure)
            {
                ThrowFailure(failure);
            }
        }
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        try
        {
            WaitForRunners();
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

    private void Stop(long id)
    {
        var entry = queue!.Find(id);
        if (entry is null)
        {
            WriteError(Errors.Create(
                "QueuedJobNotFound",
                ErrorCategory.ObjectNotFound,
                $"There is no queue entry {id}. Run Get-FeatureJob to see the entries.",
                id));
            return;
        }
        if (entry.IsFinished)
        {
            WriteVerbose($"Entry {id} ({entry.Ticket} {entry.Job}) is already {entry.State}.");
            Emit(entry);
            return;
        }

        var target = $"{entry.Id} {entry.Ticket} {entry.Job} ({entry.State})";
        var action = entry.State == QueuedJobState.Queued
            ? "Cancel queued job"
            : "Stop running job and its processes";
        if (!ShouldProcess(target, action))
        {
            return;
        }

        var (outcome, now) = queue.RequestStop(id, DateTimeOffset.Now);
        switch (outcome)
        {
            case StopOutcome.Requested when queue.OwnerOf(id) is { } owner && !owner.IsAlive():
                Emit(StopOrphan(id) ?? queue.Find(id));
                break;
            case StopOutcome.Requested:
                WriteVerbose($"Asked runner {now?.Runner} to stop entry {id}.");
                requested.Add(id);
                break;
            default:
                Emit(now);
                break;
        }
    }

    /// <summary>Waits until the runners of the requested entries have stopped them.</summary>
    private void WaitForRunners()
    {
        var deadline = DateTime.UtcNow + StopWait;
        var pending = new List<long>(requested);
        if (pending.Count == 0)
        {
            return;
        }
        while (true)
        {
            foreach (var entry in queue!.List(ids: pending))
            {
                if (entry.State != QueuedJobState.Running)
                {
                    pending.Remove(entry.Id);
                    Emit(entry);
                }
                else if (queue.OwnerOf(entry.Id) is { } owner && !owner.IsAlive())
                {
                    // The runner died after the request: nobody else will stop the job.
                    pending.Remove(entry.Id);
                    Emit(StopOrphan(entry.Id) ?? queue.Find(entry.Id));
                }
            }
            if (pending.Count == 0 || DateTime.UtcNow >= deadline
                || Cancellation.WaitHandle.WaitOne(PollInterval))
            {
                break;
            }
        }
        foreach (var entry in pending.Count == 0 ? [] : queue!.List(ids: pending))
        {
            WriteWarning($"Runner {entry.Runner} has not stopped entry {entry.Id} ({entry.Ticket} "
                + $"{entry.Job}) within {StopWait.TotalSeconds:0} s. It stops it when it next "
                + "looks at the queue; Get-FeatureJob shows when it did.");
            Emit(entry);
        }
    }

    /// <summary>Stops what is left of an entry whose runner died, and marks it cancelled.</summary>
    private QueuedJob? StopOrphan(long id)
    {
        var me = RunnerIdentity.Current;
        QueuedJob? stopped = null;
        foreach (var orphan in queue!.AdoptOrphans(me, id))
        {
            var report = orphan.ProcessGroup is { } group
                ? OrphanedJob.Stop(group, orphan.GroupStart, TimeSpan.FromSeconds(5))
                : Engine.Processes.StopReport.None;
            WriteVerbose($"Runner {orphan.DeadRunner} of entry {id} is dead; stopped "
                + $"{Sentences.Count(report.Found, "left-over process", "left-over processes")} "
                + $"of its job, {report.Killed} by force.");
            var why = $"runner {orphan.DeadRunner} died";
            stopped = queue.Interrupt(id, me, why, Workspace.Config.Queue, DateTimeOffset.Now);
        }
        return stopped;
    }

    private void Emit(QueuedJob? entry)
    {
        if (PassThru && entry is not null)
        {
            WriteObject(entry);
        }
    }
}
