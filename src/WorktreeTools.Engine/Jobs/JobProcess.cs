using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Jobs;

/// <summary>What to run as a job: a program, its arguments, folder and environment.</summary>
/// <param name="Program">The program name or path, found on PATH as a shell would.</param>
/// <param name="Arguments">The arguments after the program name.</param>
/// <param name="WorkingDirectory">The folder to run in; empty keeps the current one.</param>
/// <param name="EnvironmentOverrides">Variables set on top of ours; null removes one.</param>
public sealed record JobStartInfo(
    string Program,
    IReadOnlyList<string> Arguments,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string?> EnvironmentOverrides);

/// <summary>How a job ended and what it and its waited-for descendants used.</summary>
/// <param name="ExitCode">The exit status, or 128 plus the signal, as shells report it.</param>
/// <param name="Signal">The signal that ended the job, or null when it exited by itself.</param>
/// <param name="UserTime">CPU time spent in user mode.</param>
/// <param name="SystemTime">CPU time spent in the kernel.</param>
/// <param name="PeakMemoryBytes">The largest resident set size of any single process.</param>
public sealed record JobExit(
    int ExitCode,
    int? Signal,
    TimeSpan UserTime,
    TimeSpan SystemTime,
    long PeakMemoryBytes);

/// <summary>
/// A job started with posix_spawn in a process group of its own, with stdout and stderr in one
/// pipe, its resource usage from wait4, and a stop that reaches the whole tree. Linux only.
/// </summary>
/// <remarks>
/// The .NET runtime's SIGCHLD handler reaps only the children that System.Diagnostics.Process
/// started, so wait4 on our own pid is safe. Dispose every job: until then an exited one
/// stays a zombie, and a forgotten one keeps its pipe.
/// </remarks>
public sealed class JobProcess : IDisposable
{
    private const int WaitThreadStackSize = 256 * 1024;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan KillSettleTime = TimeSpan.FromSeconds(2);

    private readonly OutputPipe _output;
    private readonly object _gate = new();
    private TaskCompletionSource<JobExit>? _exit;
    private volatile bool _reaped;
    private bool _disposed;

    private JobProcess(int pid, OutputPipe output, DateTimeOffset startTime)
    {
        Pid = pid;
        _output = output;
        StartTime = startTime;
    }

    /// <summary>The id of the process that runs the program.</summary>
    public int Pid { get; }

    /// <summary>The id of the job's process group, which is the same as its pid.</summary>
    public int ProcessGroup => Pid;

    /// <summary>When the job was started.</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>The job's stdout and stderr, interleaved, unbuffered, to the last writer.</summary>
    /// <remarks>ReadAsync waits without holding a thread; one read at a time.</remarks>
    public Stream Output => _output;

    /// <summary>Starts a job, or throws a <see cref="WorktreeToolsException"/>.</summary>
    public static unsafe JobProcess Start(JobStartInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentException.ThrowIfNullOrEmpty(info.Program);
        var environment = MergeEnvironment(info.EnvironmentOverrides);

        // Both ends close on exec, so other jobs spawned meanwhile cannot hold our write end.
        var fds = stackalloc int[2];
        if (Native.Pipe(fds, Native.OpenCloseOnExec) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            throw new WorktreeToolsException(
                "JobStartFailed",
                FailureKind.ResourceUnavailable,
                $"Could not start '{info.Program}': no pipe for its output "
                + $"({Marshal.GetPInvokeErrorMessage(error)}). Run fewer jobs at once.",
                info.Program);
        }

        // Our end reads without blocking and waits on the reactor; the child's end blocks.
        var handle = new SafeFileHandle(fds[0], ownsHandle: true);
        try
        {
            if (Native.FileControl(fds[0], Native.FileSetFlags, Native.OpenNonBlocking) != 0)
            {
                Prepare(info, -1);
            }
            var startTime = DateTimeOffset.UtcNow;
            var error = Spawn(info, environment, fds[1], out var pid);
            if (error != 0)
            {
                throw StartFailed(info, error);
            }
            return new JobProcess(pid, new OutputPipe(handle), startTime);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        finally
        {
            // Only the child may keep the write end, or Output would never reach its end.
            _ = Native.Close(fds[1]);
        }
    }

    /// <summary>Completes when the job's process exits, with its status and usage.</summary>
    public Task<JobExit> WaitForExitAsync()
    {
        lock (_gate)
        {
            if (_exit is null)
            {
                _exit = new TaskCompletionSource<JobExit>(
                    TaskCreationOptions.RunContinuationsAsynchronously);
                if (!TryWatchExit())
                {
                    StartWaitThread();
                }
            }
            return _exit.Task;
        }
    }

    /// <summary>Sends a signal to every process in the job's process group.</summary>
    public void Signal(int signal)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Native.Kill(-ProcessGroup, signal) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            if (error != Native.ErrorNoSuchProcess)
            {
                throw new WorktreeToolsException(
                    "JobSignalFailed",
                    FailureKind.InvalidOperation,
                    $"Could not send signal {signal} to job {Pid}: "
                    + $"{Marshal.GetPInvokeErrorMessage(error)}.",
                    Pid);
            }
        }
    }

    /// <summary>True while a live process (not a zombie) is left in the job's group.</summary>
    public bool GroupAlive()
    {
        // An empty group answers ESRCH at once; otherwise zombies may be all that is left.
        if (Native.Kill(-ProcessGroup, 0) != 0
            && Marshal.GetLastPInvokeError() == Native.ErrorNoSuchProcess)
        {
            return false;
        }
        return ProcessTree.Snapshot().Values
            .Any(p => p.ProcessGroup == ProcessGroup && ProcessTree.IsAlive(p));
    }

    /// <summary>
    /// Stops every other process that still holds the job's output open, such as one that
    /// left the job's group with setsid after its parent ended: terminate, wait, kill.
    /// </summary>
    /// <remarks>It scans every process's open files, so it is meant for that rare case.</remarks>
    public StopReport StopOutputHolders(TimeSpan grace)
    {
        if (_output.Name is not { } pipe)
        {
            return StopReport.None;
        }
        var holders = new List<ProcessIdentity>();
        foreach (var (pid, process) in ProcessTree.Snapshot())
        {
            if (pid != Environment.ProcessId && HoldsFile(pid, pipe))
            {
                holders.Add(process);
            }
        }
        return ProcessTree.Stop(holders, grace);
    }

    private static bool HoldsFile(int pid, string name)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
                .Any(fd => new FileInfo(fd).LinkTarget == name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Asks the job's group and descendants to terminate, kills what is left after the grace
    /// period (a negative one counts as none), and returns true when it had to kill.
    /// </summary>
    public async Task<bool> StopAsync(TimeSpan grace)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var exit = WaitForExitAsync();

        // A process that left the group (setsid) is found only through its parent, so look
        // before the signals end the parents.
        var strays = FindStrays();
        _ = Native.Kill(-ProcessGroup, Native.SignalTerminate);
        _ = Native.Kill(-ProcessGroup, Native.SignalContinue);
        SignalEach(strays, Native.SignalTerminate);
        SignalEach(strays, Native.SignalContinue);
        if (await WaitForEndAsync(exit, strays, Deadline(grace)).ConfigureAwait(false))
        {
            return false;
        }

        _ = Native.Kill(-ProcessGroup, Native.SignalKill);
        SignalEach(strays, Native.SignalKill);
        await WaitForEndAsync(exit, strays, Deadline(KillSettleTime)).ConfigureAwait(false);
        return true;
    }

    /// <summary>Closes the output, and kills and reaps a job not waited for.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (!_reaped)
        {
            _ = Native.Kill(-ProcessGroup, Native.SignalKill);
            ((Task)WaitForExitAsync())
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing)
                .GetAwaiter()
                .GetResult();
        }
        _output.Dispose();
    }

    // The environment a shell would pass on: ours, with the overrides applied.
    private static List<KeyValuePair<string, string>> MergeEnvironment(
        IReadOnlyDictionary<string, string?> overrides)
    {
        var merged = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            merged[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        foreach (var (name, value) in overrides)
        {
            if (name.Length == 0 || name.Contains('=') || name.Contains('\0'))
            {
                throw new ArgumentException(
                    $"'{name}' is not a valid environment variable name.",
                    nameof(overrides));
            }
            if (value is null)
            {
                merged.Remove(name);
            }
            else
            {
                merged[name] = value;
            }
        }
        return [.. merged];
    }

    private static unsafe int Spawn(
        JobStartInfo info,
        List<KeyValuePair<string, string>> environment,
        int writeFd,
        out int pid)
    {
        NativeStrings strings = default;
        byte* opaque = null;
        var actionsReady = false;
        var attributesReady = false;
        try
        {
            strings = NativeStrings.Pack(info, environment);
            opaque = (byte*)NativeMemory.AllocZeroed(Native.SpawnFileActionsSize
                + Native.SpawnAttributesSize + 2 * Native.SignalSetSize);
            var actions = opaque;
            var attributes = actions + Native.SpawnFileActionsSize;
            var defaults = attributes + Native.SpawnAttributesSize;
            var mask = defaults + Native.SignalSetSize;
            Prepare(info, Native.FileActionsInit(actions));
            actionsReady = true;
            Prepare(info, Native.AttributesInit(attributes));
            attributesReady = true;

            // stdin from /dev/null; stdout and stderr into the one pipe, in the job's folder.
            if (strings.Directory is not null)
            {
                Prepare(info, Native.FileActionsAddChdir(actions, strings.Directory));
            }
            fixed (byte* devNull = "/dev/null\0"u8)
            {
                Prepare(
                    info,
                    Native.FileActionsAddOpen(actions, 0, devNull, Native.OpenReadOnly, 0));
            }
            Prepare(info, Native.FileActionsAddDup2(actions, writeFd, 1));
            Prepare(info, Native.FileActionsAddDup2(actions, writeFd, 2));

            // A group of its own, default handlers and no blocked signals: what the host
            // ignores or blocks (.NET ignores SIGPIPE) must not leak into the job.
            Prepare(info, Native.SignalSetFill(defaults));

            // sigfillset leaves out glibc's own signals 32 and 33, and posix_spawn then sets
            // them to SIG_IGN for the child, which exec keeps. Set their bits by hand.
            *(ulong*)defaults |= (1UL << 31) | (1UL << 32);
            Prepare(info, Native.SignalSetEmpty(mask));
            Prepare(info, Native.AttributesSetSignalDefault(attributes, defaults));
            Prepare(info, Native.AttributesSetSignalMask(attributes, mask));
            Prepare(info, Native.AttributesSetProcessGroup(attributes, 0));
            Prepare(info, Native.AttributesSetFlags(
                attributes,
                Native.SpawnSetProcessGroup | Native.SpawnSetSignalDefault
                | Native.SpawnSetSignalMask));

            int child;
            var error = Native.SpawnSearchingPath(
                &child,
                strings.Argv[0],
                actions,
                attributes,
                strings.Argv,
                strings.Envp);
            pid = child;
            return error;
        }
        finally
        {
            if (attributesReady)
            {
                _ = Native.AttributesDestroy(opaque + Native.SpawnFileActionsSize);
            }
            if (actionsReady)
            {
                _ = Native.FileActionsDestroy(opaque);
            }
            NativeMemory.Free(opaque);
            strings.Free();
        }
    }

    private static void Prepare(JobStartInfo info, int result)
    {
        if (result != 0)
        {
            // The posix_spawn helpers return the error; the others return -1 and set errno.
            var error = result > 0 ? result : Marshal.GetLastPInvokeError();
            throw new WorktreeToolsException(
                "JobStartFailed",
                FailureKind.InvalidOperation,
                $"Could not prepare to start '{info.Program}': "
                + $"{Marshal.GetPInvokeErrorMessage(error)}.",
                info.Program);
        }
    }

    private static WorktreeToolsException StartFailed(JobStartInfo info, int error)
    {
        var reason = Marshal.GetPInvokeErrorMessage(error);
        if (error != Native.ErrorNoSuchFile)
        {
            return new WorktreeToolsException(
                "JobStartFailed",
                FailureKind.InvalidOperation,
                $"Could not start '{info.Program}': {reason}.",
                info.Program);
        }

        // The child reports a missing folder and a missing program with the same error.
        if (info.WorkingDirectory.Length > 0 && !Directory.Exists(info.WorkingDirectory))
        {
            return new WorktreeToolsException(
                "JobStartFailed",
                FailureKind.ObjectNotFound,
                $"Could not start '{info.Program}' in '{info.WorkingDirectory}': "
                + "the folder does not exist.",
                info.WorkingDirectory);
        }
        return new WorktreeToolsException(
            "JobStartFailed",
            FailureKind.NotInstalled,
            $"Could not start '{info.Program}': {reason}. "
            + "Check that it is installed and on PATH.",
            info.Program);
    }

    // The fallback when no pidfd can be had: a thread of its own, blocked in wait4.
    private void StartWaitThread()
    {
        var thread = new Thread(() => TryReap(blocking: true), WaitThreadStackSize)
        {
            IsBackground = true,
            Name = "JobProcess wait4",
        };
        thread.Start();
    }

    // Reaps the process and completes the exit task; false when it has not exited yet.
    private unsafe bool TryReap(bool blocking)
    {
        var completion = _exit!;
        try
        {
            var usage = stackalloc byte[Native.ResourceUsageSize];
            new Span<byte>(usage, Native.ResourceUsageSize).Clear();
            var options = blocking ? 0 : Native.WaitNoHang;
            int status;
            int reaped;
            while ((reaped = Native.Wait4(Pid, &status, options, usage)) < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error != Native.ErrorInterrupted)
                {
                    _reaped = true;
                    completion.SetException(WaitFailed(error));
                    return true;
                }
            }
            if (reaped == 0)
            {
                return false;
            }
            _reaped = true;
            completion.SetResult(Decode(status, (long*)usage));
        }
        catch (Exception exception)
        {
            completion.TrySetException(exception);
        }
        return true;
    }

    // Limitation: if the host started with SIGCHLD ignored, .NET reaps every child on each
    // SIGCHLD, so wait4 finds ours gone (ECHILD) and its status is lost.
    private WorktreeToolsException WaitFailed(int error) =>
        new(
            "JobWaitFailed",
            FailureKind.InvalidOperation,
            $"Could not learn how job {Pid} ended: {Marshal.GetPInvokeErrorMessage(error)}. "
            + "Another part of the process may have reaped it.",
            Pid);

    private static unsafe JobExit Decode(int status, long* usage)
    {
        // rusage starts with ru_utime and ru_stime, each seconds then microseconds.
        static TimeSpan Time(long* timeval) =>
            TimeSpan.FromTicks(timeval[0] * TimeSpan.TicksPerSecond
                + timeval[1] * TimeSpan.TicksPerMicrosecond);

        var user = Time(usage);
        var system = Time(usage + 2);
        var peak = usage[Native.ResourceUsageMaxRssOffset / sizeof(long)] * 1024;
        var signal = status & 0x7f;
        return signal == 0
            ? new JobExit((status >> 8) & 0xff, null, user, system, peak)
            : new JobExit(128 + signal, signal, user, system, peak);
    }

    private List<ProcessIdentity> FindStrays()
    {
        // Once reaped, the pid may belong to someone else; the group id is held by members.
        var roots = ProcessTree.Snapshot().Values
            .Where(p => p.ProcessGroup == ProcessGroup)
            .Select(p => p.Pid)
            .ToList();
        if (!_reaped)
        {
            roots.Add(Pid);
        }
        return ProcessTree.Descendants(roots)
            .Where(p => p.ProcessGroup != ProcessGroup)
            .ToList();
    }

    private static void SignalEach(List<ProcessIdentity> processes, int signal)
    {
        foreach (var process in processes.Where(ProcessTree.IsAlive))
        {
            _ = Native.Kill(process.Pid, signal);
        }
    }

    // Waits for the leader, then polls until no live process of the job is left.
    private async Task<bool> WaitForEndAsync(
        Task<JobExit> exit,
        List<ProcessIdentity> strays,
        long deadline)
    {
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        if (remaining > TimeSpan.Zero)
        {
            await ((Task)exit).WaitAsync(remaining)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        if (!exit.IsCompleted)
        {
            return false;
        }
        while (AnyAlive(strays))
        {
            if (Stopwatch.GetTimestamp() >= deadline)
            {
                return false;
            }
            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
        return true;
    }

    // Limitation: after the group empties, its id could in theory be reused by a new group
    // before we look again; pid numbers wrap only after millions of processes.
    private bool AnyAlive(List<ProcessIdentity> strays) =>
        GroupAlive() || strays.Any(ProcessTree.IsAlive);

    // A negative wait counts as none; a day is as long as any wait gets.
    private static long Deadline(TimeSpan wait) =>
        Stopwatch.GetTimestamp()
        + (long)(Math.Clamp(wait.TotalSeconds, 0, 86_400) * Stopwatch.Frequency);

    // Watches for the exit through a pidfd on the reactor; false if that cannot be had.
    private bool TryWatchExit()
    {
        var pidFd = (int)Native.Syscall(Native.SyscallPidFdOpen, Pid, 0);
        if (pidFd < 0)
        {
            return false;
        }
        if (Reactor.Add(pidFd, key => OnExited(pidFd, key)) != 0)
        {
            return true;
        }
        _ = Native.Close(pidFd);
        return false;
    }

    private void OnExited(int pidFd, long key)
    {
        Reactor.Remove(pidFd, key);
        _ = Native.Close(pidFd);

        // A readable pidfd means it exited; if wait4 still finds nothing, block elsewhere.
        try
        {
            if (!TryReap(blocking: false))
            {
                StartWaitThread();
            }
        }
        catch (Exception exception)
        {
            _exit!.TrySetException(exception);
        }
    }

    /// <summary>
    /// One thread that waits with epoll for every job's exit (a pidfd) and output (the pipe).
    /// </summary>
    /// <remarks>
    /// Measured on the 2-core machines: a thread per job took 0.7 ms to create, as much as the
    /// rest of a start; and FileStream.ReadAsync on a pipe blocks a pool thread per job, so 8
    /// quiet jobs held a pool hop back for 3 s.
    /// </remarks>
    private static class Reactor
    {
        private const int Capacity = 64;
        private const int EventBufferSize = 16;

        private static readonly ConcurrentDictionary<long, Action<long>> s_handlers = new();
        private static readonly int s_epoll = Open();
        private static long s_lastKey;

        // Reports fd's next readiness to the handler; the key (0 on failure) re-arms it.
        public static unsafe long Add(int fd, Action<long> handler)
        {
            if (s_epoll < 0)
            {
                return 0;
            }

            // Listed before it is armed: the readiness may come at once.
            var key = Interlocked.Increment(ref s_lastKey);
            s_handlers[key] = handler;
            if (Control(Native.EpollControlAdd, fd, key))
            {
                return key;
            }
            s_handlers.TryRemove(key, out _);
            return 0;
        }

        // Arms fd again for one more report; epoll reports at once if it is ready already.
        public static bool Rearm(int fd, long key) => Control(Native.EpollControlModify, fd, key);

        public static unsafe void Remove(int fd, long key)
        {
            _ = Native.EpollControl(s_epoll, Native.EpollControlDelete, fd, null);
            s_handlers.TryRemove(key, out _);
        }

        private static unsafe bool Control(int operation, int fd, long key)
        {
            var epollEvent = stackalloc byte[EventBufferSize];
            Unsafe.WriteUnaligned(epollEvent, Native.EpollIn | Native.EpollOneShot);
            Unsafe.WriteUnaligned(epollEvent + Native.EpollEventDataOffset, key);
            return Native.EpollControl(s_epoll, operation, fd, epollEvent) == 0;
        }

        private static int Open()
        {
            var epoll = Native.EpollCreate(Native.OpenCloseOnExec);
            if (epoll >= 0)
            {
                var thread = new Thread(() => Run(epoll), WaitThreadStackSize)
                {
                    IsBackground = true,
                    Name = "JobProcess reactor",
                };
                thread.Start();
            }
            return epoll;
        }

        private static unsafe void Run(int epoll)
        {
            var events = stackalloc byte[Capacity * EventBufferSize];
            while (true)
            {
                // A negative count is EINTR from a signal handler: just wait again.
                var count = Native.EpollWait(epoll, events, Capacity, -1);
                for (var i = 0; i < count; i++)
                {
                    var data = events + i * Native.EpollEventSize + Native.EpollEventDataOffset;
                    var key = Unsafe.ReadUnaligned<long>(data);
                    if (!s_handlers.TryGetValue(key, out var handler))
                    {
                        continue;
                    }

                    // The handlers complete tasks and catch their own errors; should one still
                    // throw, the other jobs must keep their reactor (and pwsh its process).
                    try
                    {
                        handler(key);
                    }
                    catch (Exception exception)
                    {
                        Trace.TraceError($"A JobProcess reactor handler threw: {exception}");
                    }
                }
            }
        }
    }

    /// <summary>The non-blocking read end of the output pipe, as a read-only stream.</summary>
    private sealed class OutputPipe(SafeFileHandle handle) : Stream
    {
        private readonly object _gate = new();

        /// <summary>
        /// What the kernel calls the pipe (<c>pipe:[inode]</c>), or null once closed.
        /// </summary>
        public string? Name =>
            handle.IsClosed
                ? null
                : new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget;
        private long _key;
        private TaskCompletionSource? _waiter;

        public override bool CanRead => !handle.IsClosed;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) =>
            Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read;
            while ((read = TryRead(buffer)) < 0)
            {
                WaitReadable();
            }
            return read;
        }

        public override Task<int> ReadAsync(
            byte[] buffer,
            int offset,
            int count,
            CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(
            Memory<byte> buffer,
            CancellationToken cancellationToken = default)
        {
            int read;
            while ((read = TryRead(buffer.Span)) < 0)
            {
                await WaitReadableAsync(cancellationToken).ConfigureAwait(false);
            }
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) =>
            throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                lock (_gate)
                {
                    if (_key != 0)
                    {
                        Reactor.Remove((int)handle.DangerousGetHandle(), _key);
                        _key = 0;
                    }
                    _waiter?.TrySetException(new ObjectDisposedException(nameof(JobProcess)));
                    _waiter = null;
                    handle.Dispose();
                }
            }
            base.Dispose(disposing);
        }

        // The bytes read, 0 at the end of the output, or -1 when nothing has come yet.
        private unsafe int TryRead(Span<byte> buffer)
        {
            var added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                fixed (byte* bytes = buffer)
                {
                    while (true)
                    {
                        var fd = (int)handle.DangerousGetHandle();
                        var read = Native.Read(fd, bytes, buffer.Length);
                        if (read >= 0)
                        {
                            return (int)read;
                        }
                        var error = Marshal.GetLastPInvokeError();
                        if (error == Native.ErrorTryAgain)
                        {
                            return -1;
                        }
                        if (error != Native.ErrorInterrupted)
                        {
                            throw new IOException(
                                "Could not read the job's output: "
                                + $"{Marshal.GetPInvokeErrorMessage(error)}.",
                                error);
                        }
                    }
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }

        private unsafe void WaitReadable()
        {
            var added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                var poll = new Native.PollFd
                {
                    Fd = (int)handle.DangerousGetHandle(),
                    Events = Native.PollIn,
                };
                while (Native.Poll(&poll, 1, -1) < 0
                    && Marshal.GetLastPInvokeError() == Native.ErrorInterrupted)
                {
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }

        private async Task WaitReadableAsync(CancellationToken cancellationToken)
        {
            var waiter = new TaskCompletionSource(
                TaskCreationOptions.RunContinuationsAsynchronously);
            bool armed;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(handle.IsClosed, this);
                _waiter = waiter;
                var fd = (int)handle.DangerousGetHandle();
                armed = _key == 0
                    ? (_key = Reactor.Add(fd, OnReadable)) != 0
                    : Reactor.Rearm(fd, _key);
            }
            if (!armed)
            {
                // Limitation: without epoll, a pool thread waits in poll().
                await Task.Run(WaitReadable, cancellationToken).ConfigureAwait(false);
                return;
            }
            using (cancellationToken.Register(() => waiter.TrySetCanceled(cancellationToken)))
            {
                await waiter.Task.ConfigureAwait(false);
            }
        }

        private void OnReadable(long key)
        {
            TaskCompletionSource? waiter;
            lock (_gate)
            {
                waiter = _waiter;
                _waiter = null;
            }
            waiter?.TrySetResult();
        }
    }

    // argv, envp and the folder as NUL-terminated UTF-8 in one native block.
    private readonly unsafe struct NativeStrings
    {
        private readonly void* _block;

        private NativeStrings(void* block, byte** argv, byte** envp, byte* directory)
        {
            _block = block;
            Argv = argv;
            Envp = envp;
            Directory = directory;
        }

        public byte** Argv { get; }

        public byte** Envp { get; }

        public byte* Directory { get; }

        public static NativeStrings Pack(
            JobStartInfo info,
            List<KeyValuePair<string, string>> environment)
        {
            var argc = 1 + info.Arguments.Count;
            var pointers = argc + 1 + environment.Count + 1;
            var bytes = Size(info.Program) + Size(info.WorkingDirectory);
            foreach (var argument in info.Arguments)
            {
                bytes += Size(argument);
            }
            foreach (var (name, value) in environment)
            {
                bytes += Size(name) + Size(value);
            }

            // The pointer tables come first, so they are aligned; the text follows them.
            var block = NativeMemory.Alloc((nuint)(pointers * sizeof(byte*) + bytes));
            var argv = (byte**)block;
            var envp = argv + argc + 1;
            var writer = new Writer((byte*)(envp + environment.Count + 1), bytes);

            argv[0] = writer.Put(info.Program);
            for (var i = 0; i < info.Arguments.Count; i++)
            {
                argv[i + 1] = writer.Put(info.Arguments[i]);
            }
            argv[argc] = null;
            for (var i = 0; i < environment.Count; i++)
            {
                envp[i] = writer.Put(environment[i].Key, environment[i].Value);
            }
            envp[environment.Count] = null;
            var directory = info.WorkingDirectory.Length > 0
                ? writer.Put(info.WorkingDirectory)
                : null;
            return new NativeStrings(block, argv, envp, directory);
        }

        // Also safe on a default value, which holds nothing.
        public void Free() => NativeMemory.Free(_block);

        // A NUL inside would silently cut the string short in C, so refuse it.
        private static int Size(string value)
        {
            if (value.Contains('\0'))
            {
                throw new ArgumentException(
                    "A job's program, arguments, folder and environment cannot contain NUL.");
            }
            return Encoding.UTF8.GetByteCount(value) + 1;
        }
    }

    // Appends NUL-terminated UTF-8 strings to a native buffer sized beforehand.
    private unsafe struct Writer(byte* start, int capacity)
    {
        private int _used;

        public byte* Put(string first, string? second = null)
        {
            var at = start + _used;
            var text = new Span<byte>(start, capacity);
            _used += Encoding.UTF8.GetBytes(first, text[_used..]);
            if (second is not null)
            {
                text[_used++] = (byte)'=';
                _used += Encoding.UTF8.GetBytes(second, text[_used..]);
            }
            text[_used++] = 0;
            return at;
        }
    }
}
