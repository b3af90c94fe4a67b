using System.Diagnostics;
using System.Text;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Processes;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class JobProcessTests : IDisposable
{
    private const int Timeout = 30_000;

    private static readonly Dictionary<string, string?> NoOverrides = [];

    private readonly string _root =
        Path.Combine(Path.GetTempPath(), "wt-job-" + Guid.NewGuid().ToString("N")[..8]);

    public JobProcessTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory(Timeout = Timeout)]
    [InlineData(0)]
    [InlineData(3)]
    public async Task I_can_run_a_job_and_get_its_exit_code(int code)
    {
        using var job = Start($"exit {code}");

        var exit = await job.WaitForExitAsync();

        Assert.Equal(code, exit.ExitCode);
        Assert.Null(exit.Signal);
    }

    [Theory(Timeout = Timeout)]
    [InlineData("TERM", 15)]
    [InlineData("INT", 2)]
    public async Task I_can_see_a_job_ended_by_a_signal_reported_as_a_shell_would(
        string name,
        int signal)
    {
        using var job = Start($"kill -{name} $$; sleep 600");

        var exit = await job.WaitForExitAsync();

        Assert.Equal(signal, exit.Signal);
        Assert.Equal(128 + signal, exit.ExitCode);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_read_stdout_and_stderr_in_one_stream_in_order()
    {
        using var job = Start("echo one; echo two >&2; echo three; echo four >&2");

        var output = await ReadAllAsync(job);
        await job.WaitForExitAsync();

        Assert.Equal("one\ntwo\nthree\nfour\n", Encoding.UTF8.GetString(output));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_read_non_ascii_output_byte_for_byte()
    {
        // Arrange: the text travels as an argument, so both directions are UTF-8.
        const string text = "Grüße, naïve café: 日本語 ✓ 🚀";

        // Act
        using var job = Start("printf '%s' \"$1\"", "sh", text);
        var output = await ReadAllAsync(job);
        await job.WaitForExitAsync();

        // Assert
        Assert.Equal(Encoding.UTF8.GetBytes(text), output);
    }

    [Fact(Timeout = 60_000)]
    public async Task I_can_drain_50_MB_of_output_through_a_small_buffer()
    {
        // Arrange
        const long size = 50L * 1024 * 1024;
        using var job = Start($"head -c {size} /dev/zero");
        var buffer = new byte[8192];
        long total = 0;

        // Act: synchronous reads on this thread, so its allocations can be counted.
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        int read;
        while ((read = job.Output.Read(buffer)) > 0)
        {
            total += read;
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var exit = await job.WaitForExitAsync();

        // Assert
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(size, total);
        Assert.True(allocated < 1024 * 1024, $"reading allocated {allocated} bytes");
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_read_the_output_of_many_quiet_jobs_without_holding_pool_threads()
    {
        // Arrange: far more silent jobs than the pool has threads to start with.
        var jobs = Enumerable.Range(0, 16 * Environment.ProcessorCount)
            .Select(_ => Start("sleep 600"))
            .ToList();
        try
        {
            var readers = jobs.Select(job => job.Output.CopyToAsync(Stream.Null)).ToList();

            // Act: a read that blocked a pool thread per job would leave work queued for
            // seconds, as the pool grows by a thread or two a second.
            var settled = Stopwatch.StartNew();
            await WaitUntil(() => ThreadPool.PendingWorkItemCount == 0, seconds: 5);
            settled.Stop();
            jobs.ForEach(job => job.Signal(9));
            await Task.WhenAll(readers);

            // Assert
            Assert.True(settled.Elapsed < TimeSpan.FromSeconds(2), $"busy for {settled.Elapsed}");
        }
        finally
        {
            jobs.ForEach(job => job.Dispose());
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_run_a_job_in_a_folder_with_spaces_and_brackets()
    {
        var folder = Path.Combine(_root, "x [y] z");
        Directory.CreateDirectory(folder);

        using var job = JobProcess.Start(
            new JobStartInfo("sh", ["-c", "pwd"], folder, NoOverrides));
        var output = await ReadAllAsync(job);
        await job.WaitForExitAsync();

        Assert.Equal(folder + "\n", Encoding.UTF8.GetString(output));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_override_and_remove_environment_variables()
    {
        // Arrange: two variables of ours, one kept and one removed, and one new.
        var suffix = Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var kept = "WT_KEPT_" + suffix;
        var removed = "WT_REMOVED_" + suffix;
        var added = "WT_ADDED_" + suffix;
        Environment.SetEnvironmentVariable(kept, "inherited");
        Environment.SetEnvironmentVariable(removed, "inherited");
        var overrides = new Dictionary<string, string?>
        {
            [removed] = null,
            [added] = "value with spaces = and ü",
        };

        // Act
        var script = $"printf '%s|%s|%s' \"${{{kept}-unset}}\" "
            + $"\"${{{removed}-unset}}\" \"${added}\"";
        using var job = JobProcess.Start(new JobStartInfo("sh", ["-c", script], "", overrides));
        var output = await ReadAllAsync(job);
        await job.WaitForExitAsync();
        Environment.SetEnvironmentVariable(kept, null);
        Environment.SetEnvironmentVariable(removed, null);

        // Assert
        Assert.Equal("inherited|unset|value with spaces = and ü", Encoding.UTF8.GetString(output));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_measure_the_cpu_time_and_peak_memory_of_a_job()
    {
        using var job = Start("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done");

        var exit = await job.WaitForExitAsync();

        Assert.Equal(0, exit.ExitCode);
        Assert.True(
            exit.UserTime + exit.SystemTime > TimeSpan.FromSeconds(0.1),
            $"user {exit.UserTime}, system {exit.SystemTime}");
        Assert.True(exit.PeakMemoryBytes > 0);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_start_a_job_in_its_own_group_with_clean_signals_and_no_input()
    {
        // Arrange: the host ignores SIGPIPE (.NET does), which a job must not inherit.
        const string script = """
            cat
            read -r _ _ _ _ group _ < /proc/$$/stat
            echo "group $group"
            grep -E '^Sig(Blk|Ign):' /proc/self/status
            """;

        // Act: cat returns at once, as stdin is /dev/null.
        using var job = Start(script);
        var output = Encoding.UTF8.GetString(await ReadAllAsync(job));
        var exit = await job.WaitForExitAsync();

        // Assert
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(job.Pid, job.ProcessGroup);
        Assert.Equal(
            $"group {job.Pid}\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
            output);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_job_and_every_process_in_its_group()
    {
        // Arrange: the shell and its two sleeps.
        using var job = Start("sleep 600 & sleep 600; wait");
        await WaitUntil(() => ProcessTree.Descendants([job.Pid]).Count >= 3);

        // Act
        var killed = await job.StopAsync(TimeSpan.FromSeconds(10));

        // Assert
        Assert.False(killed);
        Assert.Equal(15, (await job.WaitForExitAsync()).Signal);
        await WaitUntil(() => !LiveMembers(job.ProcessGroup).Any());
        Assert.False(job.GroupAlive());
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_job_that_ignores_SIGTERM_by_killing_it_after_the_grace()
    {
        // Arrange: the shell says when its trap is set.
        using var job = Start("trap '' TERM; echo ready; sleep 600");
        await ReadLineAsync(job.Output);

        // Act
        var killed = await job.StopAsync(TimeSpan.FromMilliseconds(300));

        // Assert
        Assert.True(killed);
        var exit = await job.WaitForExitAsync();
        Assert.Equal(9, exit.Signal);
        Assert.Equal(137, exit.ExitCode);
        await WaitUntil(() => !LiveMembers(job.ProcessGroup).Any());
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_grandchild_that_left_the_group_with_setsid()
    {
        // Arrange: wait until the grandchild leads a session of its own.
        var pidFile = Path.Combine(_root, "grandchild.pid");
        using var job = Start("setsid sleep 600 & echo $! > \"$1\"; wait", "sh", pidFile);
        var grandchild = 0;
        await WaitUntil(() => File.Exists(pidFile)
            && int.TryParse(File.ReadAllText(pidFile).Trim(), out grandchild));
        ProcessIdentity identity = default;
        await WaitUntil(() => ProcessTree.Snapshot().TryGetValue(grandchild, out identity)
            && identity.ProcessGroup == grandchild);

        // Act
        var killed = await job.StopAsync(TimeSpan.FromSeconds(10));

        // Assert
        Assert.False(killed);
        await WaitUntil(() => !ProcessTree.IsAlive(identity));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_ask_whether_a_job_left_processes_behind_and_stop_them()
    {
        // Arrange: the background sleep outlives the shell; its output goes elsewhere.
        using var job = Start("sleep 600 > /dev/null 2>&1 & echo started");
        var output = await ReadAllAsync(job);
        var exit = await job.WaitForExitAsync();
        Assert.Equal(("started\n", 0), (Encoding.UTF8.GetString(output), exit.ExitCode));
        Assert.True(job.GroupAlive());

        // Act
        var killed = await job.StopAsync(TimeSpan.FromSeconds(10));

        // Assert
        Assert.False(killed);
        Assert.False(job.GroupAlive());
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_signal_the_whole_group()
    {
        using var job = Start("sleep 600 & wait");
        await WaitUntil(() => ProcessTree.Descendants([job.Pid]).Count >= 2);

        job.Signal(15);
        var exit = await job.WaitForExitAsync();
        await WaitUntil(() => !LiveMembers(job.ProcessGroup).Any());
        job.Signal(15);

        Assert.Equal(15, exit.Signal);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_dispose_a_running_job_without_leaving_a_process_or_zombie()
    {
        // Arrange
        var job = Start("sleep 600 & sleep 600; wait");
        var pid = job.Pid;
        await WaitUntil(() => ProcessTree.Descendants([pid]).Count >= 3);

        // Act
        job.Dispose();

        // Assert: the leader is reaped, so even its /proc entry is gone.
        Assert.False(Directory.Exists($"/proc/{pid}"));
        await WaitUntil(() => !LiveMembers(pid).Any());
        Assert.Throws<ObjectDisposedException>(() => job.Signal(15));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_wait_for_a_job_while_dotnet_runs_processes_of_its_own()
    {
        // Arrange: our child is a zombie before .NET reaps children of its own.
        using var job = Start("exit 7");
        await WaitUntil(() => State(job.Pid) == 'Z');

        // Act: .NET's SIGCHLD handling runs for its processes, before and during our wait.
        for (var i = 0; i < 3; i++)
        {
            using var other = Process.Start("true");
            await other.WaitForExitAsync();
        }
        var waiting = job.WaitForExitAsync();
        var concurrent = Enumerable.Range(0, 20).Select(async _ =>
        {
            using var ours = Start("exit 5");
            using var theirs = Process.Start("true");
            await theirs.WaitForExitAsync();
            return (await ours.WaitForExitAsync()).ExitCode;
        });
        var codes = await Task.WhenAll(concurrent);

        // Assert
        Assert.Equal(7, (await waiting).ExitCode);
        Assert.All(codes, code => Assert.Equal(5, code));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_try_to_start_a_program_that_does_not_exist_and_get_an_error()
    {
        var program = "wt-no-such-program-" + Guid.NewGuid().ToString("N")[..8];

        var error = await Assert.ThrowsAsync<WorktreeToolsException>(() => Task.Run(() =>
            JobProcess.Start(new JobStartInfo(program, [], "", NoOverrides))));

        Assert.Equal("JobStartFailed", error.ErrorId);
        Assert.Equal(FailureKind.NotInstalled, error.Kind);
        Assert.Contains(program, error.Message);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_try_to_start_a_job_in_a_missing_folder_and_get_an_error()
    {
        var folder = Path.Combine(_root, "missing");

        var error = await Assert.ThrowsAsync<WorktreeToolsException>(() => Task.Run(() =>
            JobProcess.Start(new JobStartInfo("sh", ["-c", "true"], folder, NoOverrides))));

        Assert.Equal("JobStartFailed", error.ErrorId);
        Assert.Equal(FailureKind.ObjectNotFound, error.Kind);
        Assert.Contains(folder, error.Message);
    }

    private static JobProcess Start(string script, params string[] arguments) =>
        JobProcess.Start(new JobStartInfo(
            "sh",
            ["-c", script, .. arguments],
            "",
            NoOverrides));

    // Reads up to and including the first newline, a byte at a time so nothing more is taken.
    private static async Task<string> ReadLineAsync(Stream stream)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (await stream.ReadAsync(one) == 1 && one[0] != (byte)'\n')
        {
            line.Add(one[0]);
        }
        return Encoding.UTF8.GetString(line.ToArray());
    }

    private static async Task<byte[]> ReadAllAsync(JobProcess job)
    {
        using var buffer = new MemoryStream();
        await job.Output.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private static IEnumerable<ProcessIdentity> LiveMembers(int group) =>
        ProcessTree.Snapshot().Values.Where(p => p.ProcessGroup == group && ProcessTree.IsAlive(p));

    // The state letter of a process, or '?' once it is gone.
    private static char State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return '?';
        }
    }

    private static async Task WaitUntil(Func<bool> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not become true in time.");
            }
            await Task.Delay(20);
        }
    }
}
