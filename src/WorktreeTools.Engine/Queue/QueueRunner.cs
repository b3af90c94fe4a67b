using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Queue;

/// <summary>Something a queue runner reports to the thread that writes output.</summary>
public abstract record QueueEvent;

/// <summary>An entry's job started in a process group of its own.</summary>
public sealed record QueueEntryStarted(long Id, string Ticket, string Job, int ProcessGroup)
    : QueueEvent;

/// <summary>
/// An entry's attempt ended. <see cref="QueuedJob.State"/> is <c>Queued</c> when the policy
/// runs it again; <paramref name="Result"/> is null when no job ran (its feature is gone).
/// </summary>
public sealed record QueueEntryFinished(QueuedJob Entry, FeatureJobResult? Result) : QueueEvent;

/// <summary>A running entry whose runner had died was cleaned up.</summary>
public sealed record QueueEntryRecovered(QueuedJob Entry, AdoptedEntry Orphan, StopReport Stopped)
    : QueueEvent;

/// <summary>A decision worth a verbose line.</summary>
public sealed record QueueNotice(string Message) : QueueEvent;

/// <summary>The counts behind a runner's progress record.</summary>
public sealed record QueueRunnerProgress(
    int Done,
    int Running,
    int Queued,
    IReadOnlyList<string> RunningEntries,
    string? Waiting = null);

/// <summary>
/// Runs queue entries: claims as many as it has free slots, runs them with a
/// <see cref="JobRunner"/>, records how each one ended and cleans up after dead runners.
/// </summary>
/// <remarks>
/// Everything here, database included, runs on the thread that calls <see cref="Step"/> (the
/// cmdlet's pipeline thread); only the jobs themselves run on the job runner's workers, which
/// report back through its event channel.
/// </remarks>
public sealed class QueueRunner : IAsyncDisposable
{
    private static readonly TimeSpan RecoveryInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CancelPollInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan FeatureCacheTime = TimeSpan.FromSeconds(2);


    private readonly JobQueue queue;
    private readonly RunnerIdentity me;
    private readonly Func<string, FeatureRecord?> findFeature;
    private readonly string logFolder;
    private readonly JobOptions options;
    private readonly QueuePolicy policy;
    private readonly bool once;
    private readonly CancellationToken cancellation;
    private readonly JobRunner jobs;
    private readonly Dictionary<long, JobWork> claimed = [];

    // Entries whose job ended, still owned until the job runner has written their joblog
    // row and last run; their slots are free for the next claims meanwhile.
    private readonly HashSet<long> finishing = [];
    private readonly HashSet<long> retries = [];
    private readonly Dictionary<string, (FeatureRecord? Record, DateTime Read)> features =
        new(StringComparer.OrdinalIgnoreCase);
    private DateTime nextRecovery = DateTime.MinValue;
    private DateTime nextCancelPoll = DateTime.MinValue;
    private int done;
    private bool disposed;

    /// <summary>Starts a runner; nothing is claimed before the first <see cref="Step"/>.</summary>
    /// <param name="queue">The queue, owned by the caller.</param>
    /// <param name="runner">This runner's identity, as recorded on the entries it claims.</param>
    /// <param name="stateDirectory">The state folder, for logs, joblog and last runs.</param>
    /// <param name="findFeature">Finds a feature by ticket, or returns null.</param>
    /// <param name="options">Throttle and time limit for the jobs.</param>
    /// <param name="policy">The retry policy.</param>
    /// <param name="once">End when nothing is left to run now, instead of waiting for more.</param>
    /// <param name="cancellation">Stops every job (Ctrl+C).</param>
    public QueueRunner(
        JobQueue queue,
        RunnerIdentity runner,
        string stateDirectory,
        Func<string, FeatureRecord?> findFeature,
        JobOptions options,
        QueuePolicy policy,
        bool once,
        CancellationToken cancellation)
    {
        this.queue = queue;
        me = runner;
        this.findFeature = findFeature;
        logFolder = Path.Combine(stateDirectory, "logs");

        // The queue retries by queueing again, so any runner can take the next attempt.
        this.options = options with { Retries = 0, FailFast = false, SkipUnchanged = false };
        this.policy = policy;
        this.once = once;
        this.cancellation = cancellation;
        jobs = new JobRunner(stateDirectory, this.options, cancellation);
    }

    /// <summary>True when a runner with -Once has nothing left to do.</summary>
    public bool Completed { get; private set; }

    /// <summary>
    /// Does one round: cleans up after dead runners now and then, passes on stop requests,
    /// claims entries for free slots, and waits up to <paramref name="wait"/> for a job to
    /// start or end. Returns what happened.
    /// </summary>
    public List<QueueEvent> Step(TimeSpan wait)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var happened = new List<QueueEvent>();
        if (Completed || cancellation.IsCancellationRequested)
        {
            return happened;
        }

        var now = DateTime.UtcNow;
        if (now >= nextRecovery)
        {
            nextRecovery = now + RecoveryInterval;
            Recover(happened);
        }
        if (claimed.Count > 0 && now >= nextCancelPoll)
        {
            nextCancelPoll = now + CancelPollInterval;
            foreach (var id in queue.CancelRequests(me))
            {
                if (claimed.TryGetValue(id, out var work))
                {
                    happened.Add(new QueueNotice($"Stopping entry {id} ({work.Feature.Ticket} "
                        + $"{work.Job}): Stop-FeatureJob asked for it."));
                    jobs.Cancel(work);
                }
            }
        }

        // Ended jobs first: their slots are free for the claim that follows.
        var drained = Drain(happened);
        if (Claim(happened) > 0 || drained)
        {
            return happened;
        }
        if (claimed.Count > 0 || finishing.Count > 0)
        {
            WaitForEvent(wait);
            if (Drain(happened))
            {
                Claim(happened);
            }
            return happened;
        }

        // Nothing runs here and nothing could be claimed.
        if (once)
        {
            if (retries.Count > 0)
            {
                retries.IntersectWith(queue.StillQueued(retries));
            }
            if (retries.Count == 0)
            {
                Completed = true;
                return happened;
            }
        }
        cancellation.WaitHandle.WaitOne(wait);
        return happened;
    }

    /// <summary>The counts for a progress record.</summary>
    public QueueRunnerProgress Progress()
    {
        var queued = queue.Count()[QueuedJobState.Queued];
        var jobsNow = jobs.Progress();
        return new QueueRunnerProgress(
            done, jobsNow.Running, queued + jobsNow.Queued, jobsNow.RunningTickets,
            jobsNow.Waiting);
    }

    /// <summary>
    /// Stops the jobs still running (they end Cancelled) and records every claimed entry:
    /// interrupted and queued again by the policy, or queued again unchanged when its job
    /// never started.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        await jobs.DisposeAsync().ConfigureAwait(false);
        var leftover = new List<QueueEvent>();
        while (jobs.Events.TryRead(out var item))
        {
            Handle(item, leftover, "its runner was stopped");
        }
        foreach (var id in claimed.Keys.ToList())
        {
            queue.Release(id, me, "its runner was stopped", DateTimeOffset.Now);
        }

        // The job runner reports every job it ran before it ends, so this is only a guard.
        foreach (var id in finishing.ToList())
        {
            queue.Interrupt(id, me, "its runner was stopped", policy, DateTimeOffset.Now);
        }
        claimed.Clear();
        finishing.Clear();
    }

    private void Recover(List<QueueEvent> happened)
    {
        foreach (var orphan in queue.AdoptOrphans(me))
        {
            var stopped = orphan.ProcessGroup is { } group
                ? OrphanedJob.Stop(group, orphan.GroupStart, options.GracePeriod)
                : StopReport.None;
            var why = $"runner {orphan.DeadRunner} died";
            if (queue.Interrupt(orphan.Id, me, why, policy, DateTimeOffset.Now) is { } entry)
            {
                happened.Add(new QueueEntryRecovered(entry, orphan, stopped));
            }
        }
    }

    private int Claim(List<QueueEvent> happened)
    {
        // Only as many entries as there are free slots: a claimed entry shows as Running, and
        // what this runner cannot start yet must stay free for other runners and for a quick
        // Stop-FeatureJob.
        var free = options.ThrottleLimit - claimed.Count;
        if (free <= 0)
        {
            return 0;
        }
        var entries = queue.Claim(free, me, DateTimeOffset.Now);
        foreach (var entry in entries)
        {
            retries.Remove(entry.Id);
            if (FindFeature(entry.Ticket) is not { } feature)
            {
                var missing = new FeatureJobResult(entry.Ticket, entry.Job, entry.Command)
                {
                    Status = JobStatus.Failed,
                    Reason = $"there is no feature '{entry.Ticket}' any more",
                    End = DateTimeOffset.Now,
                };

                // Running it again would not bring the feature back.
                var final = policy with { MaxAttempts = 1 };
                if (queue.Finish(entry.Id, me, missing, final, DateTimeOffset.Now) is { } failed)
                {
                    done++;
                    happened.Add(new QueueEntryFinished(failed, null));
                }
                continue;
            }
            var work = new JobWork(feature, entry.Job, entry.Command, entry.Id);
            claimed[entry.Id] = work;
            jobs.Add(work);
        }
        return entries.Count;
    }

    private bool Drain(List<QueueEvent> happened)
    {
        var any = false;
        while (jobs.Events.TryRead(out var item))
        {
            any = true;
            Handle(item, happened, null);
        }
        return any;
    }

    private void WaitForEvent(TimeSpan wait)
    {
        try
        {
            jobs.Events.WaitToReadAsync(cancellation).AsTask().Wait(wait);
        }
        catch (AggregateException ex) when (ex.InnerException is OperationCanceledException)
        {
            // Ctrl+C: the caller stops.
        }
    }

    private void Handle(JobEvent item, List<QueueEvent> happened, string? runnerStopped)
    {
        switch (item)
        {
            case JobStarted { Work.Tag: long id } started:
                // The leader's start time tells the group from a later one with the same id.
                var log = Path.Combine(logFolder, started.Ticket, started.Work.Job + ".log");
                queue.MarkStarted(
                    id,
                    me,
                    started.ProcessGroup,
                    RunnerIdentity.StartTicksOf(started.ProcessGroup),
                    log,
                    DateTimeOffset.Now);
                happened.Add(new QueueEntryStarted(
                    id, started.Ticket, started.Work.Job, started.ProcessGroup));
                break;

            case JobEnded { Work.Tag: long id }:
                // The lane is free now; the entry's end is recorded at JobFinished.
                if (claimed.Remove(id))
                {
                    finishing.Add(id);
                }
                break;

            case JobFinished { Work.Tag: long id } finished:
                claimed.Remove(id);
                finishing.Remove(id);
                var entry = queue.Finish(
                    id, me, finished.Result, policy, DateTimeOffset.Now, runnerStopped);
                if (entry is null)
                {
                    happened.Add(new QueueNotice(
                        $"Entry {id} was taken over by another runner; its result is lost."));
                    break;
                }
                if (entry.State == QueuedJobState.Queued && entry.Attempts > 0)
                {
                    retries.Add(id);
                }
                else
                {
                    done++;
                }
                happened.Add(new QueueEntryFinished(entry, finished.Result));
                break;
        }
    }

    private FeatureRecord? FindFeature(string ticket)
    {
        var now = DateTime.UtcNow;
        if (!features.TryGetValue(ticket, out var known) || now - known.Read > FeatureCacheTime)
        {
            known = (findFeature(ticket), now);
            features[ticket] = known;
        }
        return known.Record;
    }
}
