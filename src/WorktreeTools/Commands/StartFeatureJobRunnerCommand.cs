using System.Diagnostics;
using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Queue;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Runs the queue's entries a few at a time, until stopped or, with -Once, done.</summary>
[Cmdlet(VerbsLifecycle.Start, "FeatureJobRunner")]
[OutputType(typeof(QueuedJob))]
public sealed class StartFeatureJobRunnerCommand : WorktreeToolsCmdlet
{
    private const string Activity = "Start-FeatureJobRunner";

    // How long one round waits for a job to end, and how often the queue is looked at while
    // nothing runs here.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly Stopwatch sinceProgress = Stopwatch.StartNew();
    private JobQueue? queue;
    private QueueRunner? runner;
    private bool progressShown;

    /// <summary>How many jobs run at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; }

    /// <summary>Runs what can run now and returns, instead of waiting for new entries.</summary>
    [Parameter]
    public SwitchParameter Once { get; set; }

    /// <summary>Seconds one attempt may run before it is stopped.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int TimeoutSec { get; set; }

    /// <summary>
    /// Starts no job while less memory than this is free, in megabytes; 0 for no floor.
    /// </summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int MinFreeMemoryMB { get; set; }

    /// <summary>
    /// Starts no job while the load average, less this runner's jobs, is above this; 0 for
    /// no limit.
    /// </summary>
    [Parameter]
    [ValidateRange(0.0, 100000.0)]
    public double MaxLoad { get; set; }

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        try
        {
            var config = Workspace.Config;
            var state = Workspace.Repository.StateDirectory;
            queue = JobQueue.Open(state);
            var options = WithAdmission(new JobOptions
            {
                ThrottleLimit = ThrottleLimit > 0 ? ThrottleLimit : config.ThrottleLimit,
                Timeout = TimeoutSec > 0 ? TimeSpan.FromSeconds(TimeoutSec) : null,
                LogLimit = config.LogLimitMB * 1024L * 1024L,
            }, MinFreeMemoryMB, MaxLoad);
            WriteVerbose($"Runner {RunnerIdentity.Current} on '{queue.Path}': "
                + $"{options.ThrottleLimit} at once, retry policy {config.Queue}.");
            runner = new QueueRunner(
                queue,
                RunnerIdentity.Current,
                state,
                Workspace.Store.Find,
                options,
                config.Queue,
                Once,
                Cancellation);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        try
        {
            while (!runner!.Completed && !Cancellation.IsCancellationRequested)
            {
                foreach (var item in runner.Step(PollInterval))
                {
                    Write(item);
                }
                ShowProgress();
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
        finally
        {
            CompleteProgress();
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        // After Ctrl+C EndProcessing does not finish: stop the jobs and give back their entries.
        if (disposing)
        {
            try
            {
                runner?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            catch (WorktreeToolsException)
            {
                // Limitation: nothing can be written any more; the next runner recovers the
                // entries that could not be marked, as it would after a crash.
            }
            runner = null;
            queue?.Dispose();
            queue = null;
        }
        base.Dispose(disposing);
    }

    private void Write(QueueEvent item)
    {
        switch (item)
        {
            case QueueEntryStarted started:
                WriteVerbose($"Started entry {started.Id}: {started.Job} in {started.Ticket} "
                    + $"(process group {started.ProcessGroup}).");
                break;
            case QueueEntryFinished { Entry.State: QueuedJobState.Queued } retried:
                var again = retried.Entry;
                WriteVerbose($"Entry {again.Id} ({again.Ticket} {again.Job}): {again.Reason}.");
                break;
            case QueueEntryFinished finished:
                WriteFinished(finished.Entry);
                break;
            case QueueEntryRecovered recovered:
                var stopped = recovered.Stopped.Found == 0
                    ? "none of its processes was left"
                    : "stopped " + Sentences.Count(
                        recovered.Stopped.Found, "left-over process", "left-over processes") + ", "
                        + $"{recovered.Stopped.Killed} by force";
                var entry = recovered.Entry;
                WriteWarning($"Entry {entry.Id} ({entry.Ticket} {entry.Job}) was running under "
                    + $"runner {recovered.Orphan.DeadRunner}, which is dead; {stopped}. "
                    + $"Now {entry.State}: {entry.Reason}.");
                break;
            case QueueNotice notice:
                WriteVerbose(notice.Message);
                break;
        }
    }

    private void WriteFinished(QueuedJob entry)
    {
        WriteObject(entry);
        if (entry.State is QueuedJobState.Failed or QueuedJobState.Interrupted)
        {
            var log = entry.LogPath is null ? string.Empty : $" Its log: {entry.LogPath}";
            WriteError(new ErrorRecord(
                new WorktreeToolsException(
                    "FeatureJobFailed",
                    FailureKind.InvalidOperation,
                    $"The job '{entry.Job}' of queue entry {entry.Id} failed in {entry.Ticket}: "
                    + $"{entry.Reason}.{log}",
                    entry),
                "FeatureJobFailed",
                ErrorCategory.NotSpecified,
                entry));
        }
    }

    private void ShowProgress()
    {
        if (sinceProgress.Elapsed < PollInterval && progressShown)
        {
            return;
        }
        sinceProgress.Restart();
        var progress = runner!.Progress();
        var status = $"{progress.Done} done, {progress.Running} running, {progress.Queued} queued";
        if (progress.Waiting is { } reason)
        {
            status += $"; {reason}";
        }
        var record = new ProgressRecord(1, Activity, status)
        {
            CurrentOperation = progress.RunningEntries.Count == 0
                ? "Waiting for entries"
                : "Running: " + string.Join(", ", progress.RunningEntries),
        };
        var total = progress.Done + progress.Running + progress.Queued;
        if (Once && total > 0)
        {
            record.PercentComplete = (int)(100.0 * progress.Done / total);
        }
        WriteProgress(record);
        progressShown = true;
    }

    private void CompleteProgress()
    {
        if (progressShown)
        {
            WriteProgress(new ProgressRecord(1, Activity, "Done")
            {
                RecordType = ProgressRecordType.Completed,
            });
        }
    }
}
