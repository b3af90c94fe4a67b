using WorktreeTools.Engine;
using WorktreeTools.Engine.Queue;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class QueueTests : IDisposable
{
    private const int Timeout = 60_000;

    private static readonly QueuePolicy NoDelay = new(3, TimeSpan.Zero);

    private readonly string state =
        Path.Combine(Path.GetTempPath(), "wt-queue-" + Guid.NewGuid().ToString("N")[..8]);

    private readonly RunnerIdentity me = RunnerIdentity.Current;

    public void Dispose()
    {
        if (Directory.Exists(state))
        {
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>A runner that cannot be alive: no process has this id.</summary>
    private static RunnerIdentity DeadRunner => new(RunnerIdentity.Current.Host, 1 << 30, 1);

    [Fact]
    public void I_can_queue_entries_and_read_them_back()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;

        var added = queue.Add([Request("A-1"), Request("A-2", priority: 5)], now);

        Assert.Equal(2, added.Count);
        Assert.True(added[1].Id > added[0].Id);
        var listed = queue.List();
        Assert.Equal(added.Select(e => e.Id), listed.Select(e => e.Id));
        Assert.All(listed, e => Assert.Equal(QueuedJobState.Queued, e.State));
        Assert.Equal(5, listed[1].Priority);
        Assert.Equal("true", listed[0].Command);
        Assert.Equal(0, listed[0].Attempts);
        Assert.Equal(now.ToUnixTimeMilliseconds(), listed[0].Enqueued.ToUnixTimeMilliseconds());
        Assert.True(File.Exists(Path.Combine(state, JobQueue.FileName)));
    }

    [Fact]
    public void I_can_claim_entries_by_priority_and_not_before_their_time()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        queue.Add(
        [
            Request("A-1", job: "low"),
            Request("A-2", job: "high", priority: 9),
            Request("A-3", job: "later", priority: 99, notBefore: now.AddHours(1)),
            Request("A-4", job: "mid", priority: 3),
        ], now);

        var claimed = queue.Claim(10, me, now);

        Assert.Equal(["high", "mid", "low"], claimed.Select(e => e.Job));
        Assert.All(claimed, e =>
        {
            Assert.Equal(QueuedJobState.Running, e.State);
            Assert.Equal(1, e.Attempts);
            Assert.Equal($"{me.Host}:{me.Pid}", e.Runner);
        });
        Assert.Empty(queue.Claim(10, me, now));
        Assert.Equal("later", Assert.Single(queue.Claim(10, me, now.AddHours(2))).Job);
    }

    [Fact]
    public void I_can_claim_one_job_per_feature_at_a_time()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        queue.Add(
            [Request("A-1"), Request("A-1"), Request("A-1", job: "lint"), Request("A-2")], now);

        var first = queue.Claim(10, me, now);
        var second = queue.Claim(10, me, now);
        queue.Finish(first[0].Id, me, Result(JobStatus.Succeeded), NoDelay, now);
        var third = queue.Claim(10, me, now);

        Assert.Equal(3, first.Count);
        Assert.Equal(
            ["A-1/test", "A-1/lint", "A-2/test"], first.Select(e => $"{e.Ticket}/{e.Job}"));
        Assert.Empty(second);
        Assert.Equal(first[0].Id + 1, Assert.Single(third).Id);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_claim_from_four_connections_at_once_and_no_entry_is_taken_twice()
    {
        using (var setup = JobQueue.Open(state))
        {
            var requests = Enumerable.Range(0, 400).Select(i => Request($"T-{i}")).ToList();
            setup.Add(requests, DateTimeOffset.Now);
        }

        using var start = new Barrier(4);

        var claims = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            using var queue = JobQueue.Open(state);
            start.SignalAndWait();
            var mine = new List<long>();
            while (queue.Claim(3, me, DateTimeOffset.Now) is { Count: > 0 } claimed)
            {
                mine.AddRange(claimed.Select(e => e.Id));
            }
            return mine;
        })));

        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(400, all.Count);
        Assert.Equal(400, all.Distinct().Count());
    }

    [Fact]
    public void I_can_see_a_failed_entry_run_again_until_the_policy_gives_up()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        var policy = new QueuePolicy(2, TimeSpan.FromSeconds(30));
        var id = queue.Add([Request("A-1")], now)[0].Id;

        queue.Claim(1, me, now);
        var retried = queue.Finish(id, me, Result(JobStatus.Failed, 3), policy, now)!;
        var tooEarly = queue.Claim(1, me, now.AddSeconds(29));
        queue.Claim(1, me, now.AddSeconds(31));
        var failed = queue.Finish(id, me, Result(JobStatus.TimedOut), policy, now.AddSeconds(40))!;

        Assert.Equal(QueuedJobState.Queued, retried.State);
        Assert.Equal(1, retried.Attempts);
        Assert.Equal(3, retried.ExitCode);
        var next = now.AddSeconds(30).ToUnixTimeMilliseconds();
        Assert.Equal(next, retried.NotBefore.ToUnixTimeMilliseconds());
        Assert.Contains("attempt 1 of 2 failed", retried.Reason);
        Assert.Empty(tooEarly);
        Assert.Equal(QueuedJobState.Failed, failed.State);
        Assert.Equal(2, failed.Attempts);
        Assert.Contains("attempt 2 of 2 timed out", failed.Reason);
    }

    [Fact]
    public void I_can_never_claim_or_change_a_finished_entry()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        var id = queue.Add([Request("A-1")], now)[0].Id;
        queue.Claim(1, me, now);
        queue.Finish(id, me, Result(JobStatus.Succeeded), NoDelay, now);

        var again = queue.Claim(10, me, now.AddDays(1));
        var twice = queue.Finish(id, me, Result(JobStatus.Failed, 1), NoDelay, now);
        var (outcome, entry) = queue.RequestStop(id, now);

        Assert.Empty(again);
        Assert.Null(twice);
        Assert.Equal(StopOutcome.AlreadyFinished, outcome);
        Assert.Equal(QueuedJobState.Succeeded, entry!.State);
        Assert.Equal(1, entry.Attempts);
    }

    [Fact]
    public void I_can_cancel_a_queued_entry_and_ask_for_a_running_one_to_stop()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        var ids = queue.Add([Request("A-1"), Request("A-2")], now).Select(e => e.Id).ToList();
        queue.Claim(1, me, now);

        var (queuedOutcome, cancelled) = queue.RequestStop(ids[1], now);
        var (runningOutcome, requested) = queue.RequestStop(ids[0], now);
        var requests = queue.CancelRequests(me);
        var stopped = queue.Finish(ids[0], me, Result(JobStatus.Cancelled), NoDelay, now)!;

        Assert.Equal(StopOutcome.Cancelled, queuedOutcome);
        Assert.Equal(QueuedJobState.Cancelled, cancelled!.State);
        Assert.Equal(StopOutcome.Requested, runningOutcome);
        Assert.True(requested!.CancelRequested);
        Assert.Equal([ids[0]], requests);
        Assert.Equal(QueuedJobState.Cancelled, stopped.State);
        Assert.Empty(queue.Claim(10, me, now));
    }

    [Fact]
    public void I_can_take_over_the_entries_of_a_dead_runner_and_queue_them_again()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        var ids = queue.Add([Request("A-1"), Request("A-2")], now).Select(e => e.Id).ToList();
        queue.Claim(1, DeadRunner, now);
        queue.MarkStarted(ids[0], DeadRunner, 4242, 17, "/tmp/log", now);
        queue.Claim(1, me, now);

        var orphans = queue.AdoptOrphans(me);
        var interrupted = queue.Interrupt(ids[0], me, "runner died", NoDelay, now)!;

        var orphan = Assert.Single(orphans);
        Assert.Equal(ids[0], orphan.Id);
        Assert.Equal(4242, orphan.ProcessGroup);
        Assert.Equal(17, orphan.GroupStart);
        Assert.Equal(DeadRunner, orphan.DeadRunner);
        Assert.Equal(QueuedJobState.Queued, interrupted.State);
        Assert.Equal(1, interrupted.Attempts);
        Assert.Contains("interrupted (runner died)", interrupted.Reason);
        Assert.Equal(QueuedJobState.Running, queue.Find(ids[1])!.State);
    }

    [Fact]
    public void I_can_see_an_entry_stay_interrupted_when_no_attempt_is_left()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        var id = queue.Add([Request("A-1")], now)[0].Id;
        queue.Claim(1, me, now);

        var entry = queue.Interrupt(id, me, "runner died", new QueuePolicy(1, TimeSpan.Zero), now)!;

        Assert.Equal(QueuedJobState.Interrupted, entry.State);
        Assert.True(entry.IsFinished);
    }

    [Fact]
    public void I_can_give_back_a_claimed_entry_that_never_started()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        var id = queue.Add([Request("A-1")], now)[0].Id;
        queue.Claim(1, me, now);

        var released = queue.Release(id, me, "runner stopped", now)!;

        Assert.Equal(QueuedJobState.Queued, released.State);
        Assert.Equal(0, released.Attempts);
        Assert.Null(released.Finished);
    }

    [Fact]
    public void I_can_remove_finished_entries_but_not_queued_or_running_ones()
    {
        using var queue = JobQueue.Open(state);
        var now = DateTimeOffset.Now;
        var ids = queue.Add([Request("A-1"), Request("A-2"), Request("A-3")], now)
            .Select(e => e.Id).ToList();
        queue.Claim(2, me, now);
        queue.Finish(ids[0], me, Result(JobStatus.Succeeded), NoDelay, now);

        Assert.True(queue.Remove(ids[0]));
        Assert.False(queue.Remove(ids[1]));
        Assert.False(queue.Remove(ids[2]));
        Assert.Equal(ids.Skip(1), queue.List().Select(e => e.Id));

        var next = queue.Add([Request("A-4")], now)[0];
        Assert.True(next.Id > ids[2]);
    }

    [Fact]
    public void I_can_try_to_open_a_damaged_database_and_get_an_error_that_names_it()
    {
        Directory.CreateDirectory(state);
        var path = Path.Combine(state, JobQueue.FileName);
        var garbage = Enumerable.Range(0, 8192).Select(i => (byte)(i * 7)).ToArray();
        File.WriteAllBytes(path, garbage);

        var failure = Assert.Throws<WorktreeToolsException>(() => JobQueue.Open(state));

        Assert.Equal("QueueDatabaseUnreadable", failure.ErrorId);
        Assert.Equal(FailureKind.InvalidData, failure.Kind);
        Assert.Contains(path, failure.Message);
        Assert.Contains("Move it aside", failure.Message);
        Assert.Equal(garbage, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public void I_can_try_to_open_a_database_with_a_damaged_page_and_get_an_error()
    {
        using (var queue = JobQueue.Open(state))
        {
            var requests = Enumerable.Range(0, 200).Select(i => Request($"T-{i}")).ToList();
            queue.Add(requests, DateTimeOffset.Now);
        }
        var path = Path.Combine(state, JobQueue.FileName);

        // Page 2 onwards holds the table; the header on page 1 stays intact.
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.Seek(4096 + 100, SeekOrigin.Begin);
            file.Write(Enumerable.Repeat((byte)0xA5, 4096).ToArray());
        }
        var before = File.ReadAllBytes(path);

        var failure = Assert.Throws<WorktreeToolsException>(() => JobQueue.Open(state));

        Assert.Equal("QueueDatabaseUnreadable", failure.ErrorId);
        Assert.Contains(path, failure.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void I_can_tell_a_live_runner_from_a_dead_one_and_from_a_reused_process_id()
    {
        var current = RunnerIdentity.Current;
        var reused = current with { StartTicks = current.StartTicks + 1 };
        var elsewhere = DeadRunner with { Host = current.Host + "-elsewhere" };

        Assert.True(current.StartTicks > 0);
        Assert.True(current.IsAlive());
        Assert.False(reused.IsAlive());
        Assert.False(DeadRunner.IsAlive());
        Assert.True(elsewhere.IsAlive());
    }

    private static QueueRequest Request(
        string ticket,
        string job = "test",
        int priority = 0,
        DateTimeOffset? notBefore = null) =>
        new(ticket, job, "true", priority, notBefore);

    private static FeatureJobResult Result(JobStatus status, int? exitCode = null) =>
        new("A-1", "test", "true")
        {
            Status = status,
            ExitCode = exitCode ?? (status == JobStatus.Succeeded ? 0 : null),
            Reason = status.ToString(),
        };
}
