using System.Text;
using System.Threading.Channels;
using LibGit2Sharp;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Jobs;

/// <summary>
/// Runs one job across features with a bounded number of workers. Features are added while
/// jobs already run; results and output come back as events on <see cref="Events"/>, which
/// one reader (the cmdlet's pipeline thread) drains.
/// </summary>
public sealed class JobRunner : IAsyncDisposable
{
    private const int ChunkSize = 64 * 1024;

    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(250);

    // How long output may go on after the job's group has ended before its holder is sought.
    private static readonly TimeSpan HolderPatience = TimeSpan.FromMilliseconds(200);

    // How often a job held back by the admission limits looks again.
    private static readonly TimeSpan AdmissionPoll = TimeSpan.FromMilliseconds(250);

    private readonly JobOptions options;
    private readonly JobLog jobLog;
    private readonly JobHistory history;
    private readonly RunningJobs runningJobs;
    private readonly string logFolder;
    private readonly Channel<JobWork> pending = Channel.CreateUnbounded<JobWork>();
    private readonly Channel<JobEvent> events = Channel.CreateUnbounded<JobEvent>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource stopping;
    private readonly Task[] workers;
    private readonly Task completion;
    private readonly object gate = new();
    private readonly List<string> running = [];
    private readonly List<TimeSpan> durations = [];

    // Peak memory of each running job's tree, by its process group, sampled from /proc.
    private readonly Dictionary<int, long> peaks = [];

    // Work items stopped one by one with Cancel(JobWork), and the stop of each running attempt.
    private readonly HashSet<JobWork> cancelled = new(ReferenceEqualityComparer.Instance);
    private readonly List<Task> finishing = [];
    private readonly Dictionary<JobWork, CancellationTokenSource> attemptStops =
        new(ReferenceEqualityComparer.Instance);
    private int added;
    private int done;
    private string? waiting;
    private volatile string? failFastCause;

    /// <summary>Starts the workers; they wait for features.</summary>
    public JobRunner(string stateDirectory, JobOptions options, CancellationToken cancellation)
    {
        this.options = options;
        jobLog = new JobLog(Path.Combine(stateDirectory, "jobs", "joblog"));
        history = new JobHistory(stateDirectory);
        runningJobs = new RunningJobs(stateDirectory);
        logFolder = Path.Combine(stateDirectory, "logs");
        stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        workers = Enumerable.Range(0, Math.Max(1, options.ThrottleLimit))
            .Select(_ => Task.Run(WorkAsync))
            .ToArray();
        var sampler = Task.Run(SampleMemoryAsync);
        completion = CompleteAsync(sampler);
    }

    /// <summary>Ends the events once the workers and every job's bookkeeping are done.</summary>
    private async Task CompleteAsync(Task sampler)
    {
        try
        {
            await Task.WhenAll([.. workers, sampler]).ConfigureAwait(false);
            Task[] rest;
            lock (gate)
            {
                rest = [.. finishing];
            }
            await Task.WhenAll(rest).ConfigureAwait(false);
        }
        finally
        {
            events.Writer.TryComplete();
        }
    }

    /// <summary>What the workers report, until every job has ended.</summary>
    public ChannelReader<JobEvent> Events => events.Reader;

    /// <summary>Completes when every job has ended and every event is written.</summary>
    public Task Completion => completion;

    /// <summary>The job log this runner appends to.</summary>
    public JobLog JobLog => jobLog;

    /// <summary>Queues a job in a feature.</summary>
    public void Add(JobWork work)
    {
        Interlocked.Increment(ref added);
        pending.Writer.TryWrite(work);
    }

    /// <summary>
    /// Says that no more features will come; workers end when the queue is empty.
    /// </summary>
    public void Complete() => pending.Writer.TryComplete();

    /// <summary>Stops everything: running jobs are stopped, queued ones are not started.</summary>
    public void Cancel()
    {
        pending.Writer.TryComplete();
        stopping.Cancel();
    }

    /// <summary>
    /// Stops one work item: a running attempt is stopped as a whole and reported Cancelled, a
    /// queued one never starts (NotStarted), and neither is tried again.
    /// </summary>
    public void Cancel(JobWork work)
    {
        CancellationTokenSource? attempt;
        lock (gate)
        {
            cancelled.Add(work);
            attemptStops.TryGetValue(work, out attempt);
        }
        try
        {
            attempt?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The attempt ended meanwhile.
        }
    }

    /// <summary>The counts and estimate for a progress record.</summary>
    public JobProgress Progress()
    {
        lock (gate)
        {
            var queued = Math.Max(0, added - done - running.Count);
            TimeSpan? remaining = null;
            if (durations.Count > 0)
            {
                var average = TimeSpan.FromTicks((long)durations.Average(d => d.Ticks));
                var lanes = Math.Max(1, options.ThrottleLimit);
                remaining = average * Math.Ceiling((queued + running.Count) / (double)lanes);
            }
            return new JobProgress(done, running.Count, queued, [.. running], remaining, waiting);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Cancel();
        await completion.ConfigureAwait(false);
        stopping.Dispose();
    }

    private async Task WorkAsync()
    {
        // The lane is free as soon as a job ends: its joblog row, last run and event are
        // written beside the next job rather than before it starts, in the lane's order.
        var previous = Task.CompletedTask;
        await foreach (var work in pending.Reader.ReadAllAsync(CancellationToken.None))
        {
            var ran = await RunFeatureAsync(work, previous).ConfigureAwait(false);
            events.Writer.TryWrite(new JobEnded(work));
            var before = previous;
            previous = Task.Run(async () =>
            {
                await before.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await FinishAsync(work, ran).ConfigureAwait(false);
            });
            lock (gate)
            {
                finishing.Add(previous);
            }
        }
    }

    /// <summary>Records a job that ran and reports it.</summary>
    private async Task FinishAsync(JobWork work, Ran ran)
    {
        var result = ran.Result;
        await TakeSnapshotAsync(result, ran.Snapshot).ConfigureAwait(false);
        Record(work.Feature, result, ran.Attempt);
        if (ran.Attempt > 0)
        {
            history.Save(work.Feature.Ticket, new LastJob(
                result.Job, result.Status, result.ExitCode, result.Start, result.End,
                result.Commit, result.Clean, result.LogPath, result.Reason));
        }
        string? output = null;
        if (options.Output == JobOutputMode.Block
            && result.LogPath is { } log
            && File.Exists(log))
        {
            output = await File.ReadAllTextAsync(log, Encoding.UTF8).ConfigureAwait(false);
        }
        lock (gate)
        {
            done++;
            if (result.Duration is { } duration && result.Attempts > 0)
            {
                durations.Add(duration);
            }
        }
        events.Writer.TryWrite(new JobFinished(result, output, work));
    }

    /// <summary>
    /// A job's result as its lane leaves it, still to be recorded: <paramref name="Attempt"/>
    /// is its last attempt, or 0 when it never ran (then it is no last run either).
    /// </summary>
    private sealed record Ran(
        FeatureJobResult Result,
        int Attempt = 0,
        Task<(string? Commit, bool? Clean)>? Snapshot = null);

    private static async Task TakeSnapshotAsync(
        FeatureJobResult result,
        Task<(string? Commit, bool? Clean)>? snapshot)
    {
        if (snapshot is not null)
        {
            (result.Commit, result.Clean) = await snapshot.ConfigureAwait(false);
        }
    }

    private async Task<Ran> RunFeatureAsync(JobWork work, Task earlier)
    {
        var feature = work.Feature;
        var result = new FeatureJobResult(feature.Ticket, work.Job, work.Command);
        if (stopping.IsCancellationRequested)
        {
            return new(NotStarted(result, "the invocation was stopped before it started"));
        }
        if (IsCancelled(work))
        {
            return new(NotStarted(result, "cancelled before it started"));
        }
        if (failFastCause is { } cause)
        {
            return new(NotStarted(result, $"not started: -FailFast after {cause} failed"));
        }
        if (!Directory.Exists(feature.Path))
        {
            result.Status = JobStatus.Failed;
            result.Reason = $"the worktree '{feature.Path}' is missing";
            return new(result);
        }

        // The commit and cleanliness the job runs on. -SkipUnchanged needs them first;
        // otherwise they are read while the job starts, off its lane. A job that changes
        // tracked files at once may then be recorded as not clean: it is only not skipped
        // later, which is the safe side.
        if (options.SkipUnchanged)
        {
            (result.Commit, result.Clean) = Snapshot(feature.Path);
            if (history.Find(feature.Ticket, result.Job) is { } last
                && last.Status == JobStatus.Succeeded && last.Clean == true
                && result.Clean == true && last.Commit == result.Commit)
            {
                result.Status = JobStatus.Skipped;
                result.Reason =
                    $"unchanged since it succeeded on {ShortSha(last.Commit)} at {last.End:g}";
                result.LogPath = last.LogPath;
                return new(result);
            }
        }

        if (!await WaitForAdmissionAsync(result).ConfigureAwait(false))
        {
            return new(NotStarted(
                result,
                $"the invocation was stopped while it was {result.WaitReason}"));
        }
        var snapshot = options.SkipUnchanged
            ? Task.FromResult((result.Commit, result.Clean))
            : Task.Run(() => Snapshot(feature.Path));

        for (var attempt = 1; ; attempt++)
        {
            result.Attempts = attempt;
            await RunAttemptAsync(work, result, attempt).ConfigureAwait(false);
            var again = result.Failed && attempt <= options.Retries
                && !stopping.IsCancellationRequested && failFastCause is null
                && !IsCancelled(work);
            if (!again)
            {
                break;
            }
            // This attempt's row goes in after the rows of the lane's earlier jobs.
            await earlier.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await TakeSnapshotAsync(result, snapshot).ConfigureAwait(false);
            Record(feature, result, attempt);
        }

        if (result.Failed && options.FailFast)
        {
            failFastCause ??= feature.Ticket;
        }
        return new(result, result.Attempts, snapshot);
    }

    private async Task RunAttemptAsync(JobWork work, FeatureJobResult result, int attempt)
    {
        var feature = work.Feature;
        var logPath = Path.Combine(logFolder, feature.Ticket, result.Job + ".log");
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        result.LogPath = logPath;
        SetRunning(feature.Ticket, true);

        // PWD as pwsh inherited it names the folder pwsh started in, not the worktree; a
        // program that reads PWD instead of asking the kernel would be misled by it.
        var environment = FeatureEnvironment.Of(feature)
            .ToDictionary(pair => pair.Key, pair => (string?)pair.Value);
        environment["PWD"] = feature.Path;
        environment["OLDPWD"] = null;
        var start = new JobStartInfo("sh", ["-c", result.Command], feature.Path, environment);
        try
        {
            await using var log = new FileStream(
                logPath,
                attempt == 1 ? FileMode.Create : FileMode.Append,
                FileAccess.Write,
                FileShare.Read,
                ChunkSize);
            if (attempt > 1)
            {
                await log.WriteAsync(Encoding.UTF8.GetBytes(
                    $"\n--- WorktreeTools: attempt {attempt} of {1 + options.Retries} ---\n"))
                    .ConfigureAwait(false);
            }

            using var process = JobProcess.Start(start);
            result.Start = process.StartTime.ToLocalTime();
            lock (gate)
            {
                peaks[process.ProcessGroup] = 0;
            }
            events.Writer.TryWrite(new JobStarted(
                feature.Ticket,
                attempt,
                process.ProcessGroup,
                work));
            var leader = ProcessTree.Find(process.Pid)?.StartTicks ?? 0;
            using var registration = runningJobs.Add(
                new RunningJob(feature.Ticket, result.Job, process.ProcessGroup, leader));
            var pump = PumpAsync(process.Output, log, feature.Ticket);
            var exit = process.WaitForExitAsync();

            // Whichever comes first: the exit, the time limit, or Ctrl+C.
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            if (options.Timeout is { } timeout)
            {
                limit.CancelAfter(timeout);
            }
            lock (gate)
            {
                attemptStops[work] = limit;
            }
            if (IsCancelled(work))
            {
                limit.Cancel();
            }
            bool stopped;
            try
            {
                stopped = await Task.WhenAny(exit, Task.Delay(Timeout.Infinite, limit.Token))
                    .ConfigureAwait(false) != exit;
            }
            finally
            {
                lock (gate)
                {
                    attemptStops.Remove(work);
                }
            }
            if (stopped)
            {
                await process.StopAsync(options.GracePeriod).ConfigureAwait(false);
            }
            var ended = await exit.ConfigureAwait(false);

            // What the job left running in its group would keep the pipe open: end it too.
            if (process.GroupAlive())
            {
                await process.StopAsync(options.GracePeriod).ConfigureAwait(false);
            }

            // A process that left the group (setsid) may still hold the output: the job runs
            // until its output ends, as with GNU parallel, but the time limit and Ctrl+C still
            // reach it, through whoever holds the pipe.
            if (await Task.WhenAny(pump, Task.Delay(HolderPatience)).ConfigureAwait(false) != pump
                && await Task.WhenAny(pump, Task.Delay(Timeout.Infinite, limit.Token))
                    .ConfigureAwait(false) != pump)
            {
                stopped = true;
                process.StopOutputHolders(options.GracePeriod);
            }
            result.OutputBytes = await pump.ConfigureAwait(false);
            result.End = DateTimeOffset.Now;

            result.ExitCode = ended.ExitCode;
            result.Signal = ended.Signal;
            result.CpuTime = ended.UserTime + ended.SystemTime;
            lock (gate)
            {
                result.PeakMemory = peaks.Remove(process.ProcessGroup, out var peak) && peak > 0
                    ? peak
                    : null;
            }

            // Stop-Feature marks the attempt before it signals the group.
            result.StoppedWithFeature = runningJobs.WasStopped(process.ProcessGroup);
            (result.Status, result.Reason) = result.StoppedWithFeature
                ? (JobStatus.Cancelled, "stopped by Stop-Feature")
                : Classify(ended, stopped, work);
        }
        catch (WorktreeToolsException ex)
        {
            result.End = DateTimeOffset.Now;
            result.Start ??= result.End;
            result.Status = JobStatus.Failed;
            result.Reason = ex.Message;
        }
        finally
        {
            SetRunning(feature.Ticket, false);
        }
    }

    /// <summary>
    /// Samples the resident memory of every running job's process group while jobs run.
    /// </summary>
    /// <remarks>
    /// wait4's peak is no use here: posix_spawn starts the child sharing pwsh's memory, so
    /// its high-water mark includes pwsh's own. One /proc scan serves all running jobs.
    /// </remarks>
    private async Task SampleMemoryAsync()
    {
        var finished = Task.WhenAll(workers);
        while (!finished.IsCompleted)
        {
            await Task.WhenAny(finished, Task.Delay(SampleInterval)).ConfigureAwait(false);
            int[] groups;
            lock (gate)
            {
                groups = [.. peaks.Keys];
            }
            if (groups.Length == 0 || finished.IsCompleted)
            {
                continue;
            }
            var totals = ProcessTree.Snapshot().Values
                .Where(p => groups.Contains(p.ProcessGroup))
                .GroupBy(p => p.ProcessGroup)
                .ToDictionary(g => g.Key, g => g.Sum(p => ProcessTree.ResidentBytes(p.Pid)));
            lock (gate)
            {
                foreach (var (group, total) in totals)
                {
                    if (peaks.TryGetValue(group, out var peak) && total > peak)
                    {
                        peaks[group] = total;
                    }
                }
            }
        }
    }

    private (JobStatus Status, string Reason) Classify(JobExit ended, bool stopped, JobWork work)
    {
        if (stopped && stopping.IsCancellationRequested)
        {
            return (JobStatus.Cancelled, "stopped because the invocation was stopped");
        }
        if (stopped && IsCancelled(work))
        {
            return (JobStatus.Cancelled, "stopped on request");
        }
        if (stopped)
        {
            return (JobStatus.TimedOut,
                $"stopped after the time limit of {options.Timeout!.Value.TotalSeconds:0.###} s");
        }
        if (ended.ExitCode == 0)
        {
            return (JobStatus.Succeeded, "exit code 0");
        }
        return (JobStatus.Failed, ended.Signal is { } signal
            ? $"ended by signal {signal}"
            : $"exit code {ended.ExitCode}");
    }

    /// <summary>Copies output to the log up to the limit, and drains the rest.</summary>
    private async Task<long> PumpAsync(Stream output, FileStream log, string ticket)
    {
        var buffer = new byte[ChunkSize];
        var decoder = options.Output == JobOutputMode.Lines ? Encoding.UTF8.GetDecoder() : null;
        var line = new StringBuilder();
        long total = 0;
        var cut = false;
        int read;
        while ((read = await output.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            var room = options.LogLimit - total;
            if (room > 0)
            {
                await log.WriteAsync(buffer.AsMemory(0, (int)Math.Min(room, read)))
                    .ConfigureAwait(false);
            }
            if (room < read && !cut)
            {
                cut = true;
                await log.WriteAsync(Encoding.UTF8.GetBytes(
                    $"\n--- WorktreeTools: output cut at {options.LogLimit} bytes ---\n"))
                    .ConfigureAwait(false);
            }
            total += read;
            if (decoder is not null)
            {
                EmitLines(decoder, buffer, read, line, ticket);
            }
        }
        if (line.Length > 0)
        {
            events.Writer.TryWrite(new JobOutputLine(ticket, line.ToString()));
        }
        await log.FlushAsync().ConfigureAwait(false);
        return total;
    }

    private void EmitLines(
        Decoder decoder,
        byte[] buffer,
        int count,
        StringBuilder line,
        string ticket)
    {
        var chars = new char[decoder.GetCharCount(buffer, 0, count)];
        decoder.GetChars(buffer, 0, count, chars, 0);
        foreach (var c in chars)
        {
            if (c == '\n')
            {
                events.Writer.TryWrite(new JobOutputLine(ticket, line.ToString().TrimEnd('\r')));
                line.Clear();
            }
            else
            {
                line.Append(c);
            }
        }
    }

    /// <summary>
    /// Waits until the machine can take another job: enough free memory, and a load average
    /// (less this runner's own running jobs) not above the limit. Running jobs are never
    /// touched. False when the invocation was stopped meanwhile.
    /// </summary>
    private async Task<bool> WaitForAdmissionAsync(FeatureJobResult result)
    {
        if (options.MinFreeMemory <= 0 && options.MaxLoad <= 0)
        {
            return true;
        }
        var started = DateTime.UtcNow;
        while (WhyWait() is { } reason)
        {
            SetWaiting(reason);
            result.WaitReason = reason;
            try
            {
                await Task.Delay(AdmissionPoll, stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                result.AdmissionWait = DateTime.UtcNow - started;
                return false;
            }
        }
        SetWaiting(null);
        result.AdmissionWait = DateTime.UtcNow - started;
        return true;
    }

    /// <summary>Why no job may start now, or null when one may.</summary>
    private string? WhyWait()
    {
        if (options.MinFreeMemory > 0 && AvailableMemory() is { } free
            && free < options.MinFreeMemory)
        {
            return $"waiting for memory: {free / 1048576} MB free, "
                + $"{options.MinFreeMemory / 1048576} MB wanted";
        }
        if (options.MaxLoad > 0 && options.LoadAverage() is { } load)
        {
            int ours;
            lock (gate)
            {
                ours = running.Count;
            }

            // The load average counts this runner's own jobs too; only the rest holds a job.
            var others = load - ours;
            if (others > options.MaxLoad)
            {
                return $"waiting for the machine: load average {load:0.##}"
                    + (ours > 0 ? $" ({ours} of it these jobs)" : string.Empty)
                    + $", limit {options.MaxLoad:0.##}";
            }
        }
        return null;
    }

    /// <summary>The one-minute load average from /proc/loadavg; null when unreadable.</summary>
    public static double? LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            var first = text.Split(' ', 2)[0];
            return double.TryParse(
                first, System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out var load) ? load : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>MemAvailable from /proc/meminfo, in bytes; null when it cannot be read.</summary>
    internal static long? AvailableMemory() => MemoryInfo("MemAvailable:");

    /// <summary>MemTotal from /proc/meminfo, in bytes; null when it cannot be read.</summary>
    public static long? TotalMemory() => MemoryInfo("MemTotal:");

    private static long? MemoryInfo(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    var digits = new string(line.Where(char.IsAsciiDigit).ToArray());
                    return long.Parse(digits) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>A job that never started: the joblog gets it, its last run stays.</summary>
    private static FeatureJobResult NotStarted(FeatureJobResult result, string reason)
    {
        result.Status = JobStatus.NotStarted;
        result.Reason = reason;
        return result;
    }

    private void Record(FeatureRecord feature, FeatureJobResult result, int attempt)
    {
        var start = result.Start ?? DateTimeOffset.Now;
        var entry = jobLog.Append(new JobLogEntry(
            0,
            ":",
            start,
            (result.End ?? start) - start,
            0,
            result.OutputBytes,
            result.ExitCode ?? (result.Status == JobStatus.Skipped ? 0 : -1),
            result.Signal ?? 0,
            result.Command,
            feature.Ticket,
            result.Job,
            result.Status,
            attempt,
            result.Commit,
            result.Clean,
            result.CpuTime,
            result.PeakMemory,
            result.LogPath,
            result.AdmissionWait,
            result.Reason));
        result.Seq = entry.Seq;
    }

    private static (string? Commit, bool? Clean) Snapshot(string path)
    {
        try
        {
            using var repository = new Repository(path);
            var commit = repository.Head.Tip?.Sha;
            var clean = !repository.RetrieveStatus(new StatusOptions
            {
                IncludeUntracked = true,
                RecurseUntrackedDirs = false,
                DetectRenamesInIndex = false,
                DetectRenamesInWorkDir = false,
            }).IsDirty;
            return (commit, clean);
        }
        catch (LibGit2SharpException)
        {
            return (null, null);
        }
    }

    private bool IsCancelled(JobWork work)
    {
        lock (gate)
        {
            return cancelled.Contains(work);
        }
    }

    private static string ShortSha(string? sha) =>
        sha is null ? "?" : sha[..Math.Min(7, sha.Length)];

    private void SetRunning(string ticket, bool on)
    {
        lock (gate)
        {
            if (on)
            {
                running.Add(ticket);
            }
            else
            {
                running.Remove(ticket);
            }
        }
    }

    private void SetWaiting(string? reason)
    {
        lock (gate)
        {
            if (reason == waiting)
            {
                return;
            }
            waiting = reason;
        }
        if (reason is not null)
        {
            events.Writer.TryWrite(new JobsWaiting(reason));
        }
    }
}
