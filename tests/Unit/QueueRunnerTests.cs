using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Processes;
using WorktreeTools.Engine.Queue;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class QueueRunnerTests : IDisposable
{
    private const int Timeout = 60_000;

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private static readonly QueuePolicy NoDelay = new(3, TimeSpan.Zero);

    private readonly string root =
        Path.Combine(Path.GetTempPath(), "wt-runner-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<string, FeatureRecord> features =
        new(StringComparer.OrdinalIgnoreCase);
    private readonly RunnerIdentity me = RunnerIdentity.Current;

    public QueueRunnerTests() => Directory.CreateDirectory(root);

    private string State => Path.Combine(root, "state");

    public void Dispose()
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // A job that outlived its test may still hold a file; the folder is temporary.
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_drain_a_queue_once_and_every_entry_runs_once()
    {
        using var queue = JobQueue.Open(State);
        var requests = new List<QueueRequest>();
        foreach (var ticket in new[] { "A-1", "A-2", "A-3", "A-4" })
        {
            AddFeature(ticket);
            for (var job = 0; job < 5; job++)
            {
                requests.Add(new QueueRequest(
                    ticket, $"j{job}", $"echo \"$FEATURE_TICKET j{job}\" >> '{root}/runs.txt'"));
            }
        }
        queue.Add(requests, DateTimeOffset.Now);
        await using var runner = Runner(queue, throttle: 3);

        var happened = Drain(runner);

        var finished = happened.OfType<QueueEntryFinished>().ToList();
        Assert.Equal(20, finished.Count);
        Assert.All(finished, f => Assert.Equal(QueuedJobState.Succeeded, f.Entry.State));
        Assert.Equal(20, finished.Select(f => f.Entry.Id).Distinct().Count());
        var runs = File.ReadAllLines(Path.Combine(root, "runs.txt"));
        Assert.Equal(20, runs.Length);
        Assert.Equal(20, runs.Distinct().Count());
        var rows = new JobLog(Path.Combine(State, "jobs", "joblog")).Read().ToList();
        Assert.Equal(
            finished.Select(f => f.Entry.Seq).Order(), rows.Select(r => (long?)r.Seq).Order());
        Assert.All(queue.List(), e => Assert.Equal(QueuedJobState.Succeeded, e.State));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_see_a_failed_entry_succeed_on_its_second_attempt()
    {
        using var queue = JobQueue.Open(State);
        AddFeature("A-1");
        var flaky = "n=$(($(cat tries 2>/dev/null || echo 0) + 1)); echo $n > tries; [ $n -ge 2 ]";
        var id = queue.Add([new QueueRequest("A-1", "flaky", flaky)], DateTimeOffset.Now)[0].Id;
        await using var runner = Runner(queue);

        var happened = Drain(runner);

        var attempts = happened.OfType<QueueEntryFinished>().Select(f => f.Entry).ToList();
        Assert.Equal(
            [QueuedJobState.Queued, QueuedJobState.Succeeded], attempts.Select(e => e.State));
        Assert.All(attempts, e => Assert.Equal(id, e.Id));
        Assert.Equal(2, queue.Find(id)!.Attempts);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_fail_an_entry_whose_feature_is_gone_without_running_it_again()
    {
        using var queue = JobQueue.Open(State);
        var id = queue.Add([new QueueRequest("GONE-1", "test", "true")], DateTimeOffset.Now)[0].Id;
        await using var runner = Runner(queue);

        var finished = Assert.Single(Drain(runner).OfType<QueueEntryFinished>());

        Assert.Equal(id, finished.Entry.Id);
        Assert.Equal(QueuedJobState.Failed, finished.Entry.State);
        Assert.Contains("no feature 'GONE-1'", finished.Entry.Reason);
        Assert.Null(finished.Result);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_running_entry_from_another_connection()
    {
        using var queue = JobQueue.Open(State);
        AddFeature("A-1");
        var id = queue.Add([new QueueRequest("A-1", "hang", "sleep 30")], DateTimeOffset.Now)[0].Id;
        await using var runner = Runner(queue, once: false);
        var group = RunUntilStarted(runner, queue, id);

        using (var other = JobQueue.Open(State))
        {
            Assert.Equal(StopOutcome.Requested, other.RequestStop(id, DateTimeOffset.Now).Outcome);
        }
        var stopped = RunUntil(runner, () => queue.Find(id) is { IsFinished: true } e ? e : null);

        Assert.Equal(QueuedJobState.Cancelled, stopped.State);
        Assert.Contains("Stop-FeatureJob", stopped.Reason);
        Assert.False(GroupAlive(group));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_runner_and_its_entries_go_back_to_the_queue()
    {
        using var queue = JobQueue.Open(State);
        AddFeature("A-1");
        var ids = queue.Add(
            [new QueueRequest("A-1", "hang", "sleep 30"), new QueueRequest("A-1", "wait", "true")],
            DateTimeOffset.Now).Select(e => e.Id).ToList();
        using var stop = new CancellationTokenSource();
        var runner = Runner(queue, once: false, cancellation: stop.Token);
        var group = RunUntilStarted(runner, queue, ids[0]);

        stop.Cancel();
        await runner.DisposeAsync();

        var interrupted = queue.Find(ids[0])!;
        Assert.Equal(QueuedJobState.Queued, interrupted.State);
        Assert.Equal(1, interrupted.Attempts);
        Assert.Contains("interrupted", interrupted.Reason);
        Assert.False(GroupAlive(group));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_recover_an_entry_whose_runner_died_and_stop_what_its_job_left()
    {
        using var queue = JobQueue.Open(State);
        AddFeature("A-1");
        var id = queue.Add([new QueueRequest("A-1", "test", "true")], DateTimeOffset.Now)[0].Id;
        var dead = new RunnerIdentity(me.Host, 1 << 30, 1);
        queue.Claim(1, dead, DateTimeOffset.Now);
        using var leftover = JobProcess.Start(
            new JobStartInfo("sh", ["-c", "sleep 30"], root, new Dictionary<string, string?>()));
        var group = leftover.ProcessGroup;
        var groupStart = RunnerIdentity.StartTicksOf(group);
        queue.MarkStarted(id, dead, group, groupStart, null, DateTimeOffset.Now);
        await using var runner = Runner(queue);

        var happened = Drain(runner);
        await leftover.WaitForExitAsync();

        var recovered = Assert.Single(happened.OfType<QueueEntryRecovered>());
        Assert.Equal(id, recovered.Entry.Id);
        Assert.Equal(QueuedJobState.Queued, recovered.Entry.State);
        Assert.Contains($"runner {dead} died", recovered.Entry.Reason);
        Assert.True(recovered.Stopped.Found >= 1);
        Assert.False(GroupAlive(group));
        var final = Assert.Single(happened.OfType<QueueEntryFinished>()).Entry;
        Assert.Equal(QueuedJobState.Succeeded, final.State);
        Assert.Equal(2, final.Attempts);
    }

    private QueueRunner Runner(
        JobQueue queue,
        int throttle = 1,
        bool once = true,
        CancellationToken cancellation = default) =>
        new(
            queue,
            me,
            State,
            ticket => features.GetValueOrDefault(ticket),
            new JobOptions { ThrottleLimit = throttle, GracePeriod = TimeSpan.FromSeconds(2) },
            NoDelay,
            once,
            cancellation);

    private void AddFeature(string ticket)
    {
        var path = Path.Combine(root, ticket);
        Directory.CreateDirectory(path);
        features[ticket] = new FeatureRecord(
            ticket, null, $"feature/{ticket}", path, "main", ticket, DateTimeOffset.Now, false);
    }

    private static List<QueueEvent> Drain(QueueRunner runner)
    {
        var happened = new List<QueueEvent>();
        while (!runner.Completed)
        {
            happened.AddRange(runner.Step(Poll));
        }
        return happened;
    }

    /// <summary>Steps the runner until the probe returns something.</summary>
    private static T RunUntil<T>(QueueRunner runner, Func<T?> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            runner.Step(Poll);
            if (probe() is { } found)
            {
                return found;
            }
        }
        throw new TimeoutException("The runner did not get there within 30 s.");
    }

    /// <summary>Steps the runner until the entry's job runs; returns its process group.</summary>
    private static int RunUntilStarted(QueueRunner runner, JobQueue queue, long id) =>
        (int)RunUntil(
            runner, () => queue.Find(id) is { ProcessGroup: { } group } ? (object)group : null);

    private static bool GroupAlive(int group) =>
        ProcessTree.Snapshot().Values.Any(p => p.ProcessGroup == group && ProcessTree.IsAlive(p));
}
