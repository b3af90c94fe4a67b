using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Jobs;
using Xunit;

namespace WorktreeTools.Tests;

/// <summary>Jobs wait to start while the machine is busy; running jobs are left alone.</summary>
public sealed class AdmissionTests : IDisposable
{
    private const int Timeout = 60_000;

    private readonly string root =
        Path.Combine(Path.GetTempPath(), "wt-admission-" + Guid.NewGuid().ToString("N")[..8]);

    // The load average the runner sees; a test changes it while jobs wait.
    private double load;

    public AdmissionTests() => Directory.CreateDirectory(root);

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact(Timeout = Timeout)]
    public async Task I_can_see_a_job_wait_while_the_load_is_above_the_limit_and_say_why()
    {
        load = 3.5;
        await using var runner = Runner(maxLoad: 1);
        runner.Add(Work("A-1", "true"));
        runner.Complete();

        var waiting = await WaitForAsync(() => runner.Progress().Waiting);
        Assert.Contains("load average 3.5", waiting);
        Assert.Contains("limit 1", waiting);
        Assert.Equal(0, runner.Progress().Running);

        load = 0.2;
        var result = await SingleResultAsync(runner);

        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.True(result.AdmissionWait > TimeSpan.Zero);
        Assert.Contains("load average", result.WaitReason);
        Assert.Null(runner.Progress().Waiting);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_have_my_own_running_jobs_left_out_of_the_load()
    {
        load = 0;
        await using var runner = Runner(maxLoad: 1, throttle: 2);
        var gate = Path.Combine(root, "gate");
        runner.Add(Work("A-1", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"));
        await WaitForAsync(() => runner.Progress().Running == 1 ? "running" : null);

        // 1.8 in all, one of it the running job: the rest, 0.8, is under the limit.
        load = 1.8;
        runner.Add(Work("A-2", "true"));
        await WaitForAsync(() => runner.Progress().Done == 1 ? "done" : null);
        Assert.Null(runner.Progress().Waiting);

        // 2.5 in all leaves 1.5 besides the running job: the next one waits, the running
        // one goes on.
        load = 2.5;
        runner.Add(Work("A-3", "true"));
        Assert.Contains("1 of it these jobs", await WaitForAsync(() => runner.Progress().Waiting));
        Assert.Equal(1, runner.Progress().Running);

        File.WriteAllText(gate, string.Empty);
        load = 0;
        runner.Complete();
        await runner.Completion;
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_runner_whose_jobs_wait_and_they_are_not_started()
    {
        load = 9;
        var runner = Runner(maxLoad: 1);
        runner.Add(Work("A-1", "true"));
        runner.Complete();
        await WaitForAsync(() => runner.Progress().Waiting);

        await runner.DisposeAsync();

        var result = Assert.Single(Results(runner));
        Assert.Equal(JobStatus.NotStarted, result.Status);
        Assert.Contains(
            "stopped while it was waiting for the machine: load average 9", result.Reason);
    }

    private JobRunner Runner(double maxLoad, int throttle = 1) => new(
        Path.Combine(root, "state"),
        new JobOptions { ThrottleLimit = throttle, MaxLoad = maxLoad, LoadAverage = () => load },
        CancellationToken.None);

    private JobWork Work(string ticket, string command)
    {
        var path = Path.Combine(root, ticket);
        Directory.CreateDirectory(path);
        var feature = new FeatureRecord(
            ticket, null, $"feature/{ticket}", path, "main", ticket, DateTimeOffset.Now, false);
        return new JobWork(feature, "job", command);
    }

    private static async Task<FeatureJobResult> SingleResultAsync(JobRunner runner)
    {
        await runner.Completion;
        return Assert.Single(Results(runner));
    }

    private static List<FeatureJobResult> Results(JobRunner runner)
    {
        var results = new List<FeatureJobResult>();
        while (runner.Events.TryRead(out var item))
        {
            if (item is JobFinished finished)
            {
                results.Add(finished.Result);
            }
        }
        return results;
    }

    private static async Task<string> WaitForAsync(Func<string?> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (condition() is { } value)
            {
                return value;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException("The condition did not come true within 30 s.");
    }
}
