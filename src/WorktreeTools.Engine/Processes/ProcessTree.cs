using System.Runtime.InteropServices;

namespace WorktreeTools.Engine.Processes;

/// <summary>
/// A process seen in <c>/proc</c>, with the start time that tells it from a reused id.
/// </summary>
public readonly record struct ProcessIdentity(
    int Pid,
    int ParentPid,
    int ProcessGroup,
    ulong StartTicks);

/// <summary>How a group of processes was stopped.</summary>
public sealed record StopReport(int Found, int Terminated, int Killed)
{
    /// <summary>A report for nothing to stop.</summary>
    public static StopReport None { get; } = new(0, 0, 0);
}

/// <summary>Finds process trees in <c>/proc</c> and stops them: ask, wait, then kill.</summary>
public static partial class ProcessTree
{
    private const int SignalHangUp = 1;
    private const int SignalKill = 9;
    private const int SignalTerminate = 15;

    /// <summary>Every live process, keyed by id.</summary>
    public static Dictionary<int, ProcessIdentity> Snapshot()
    {
        var processes = new Dictionary<int, ProcessIdentity>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(folder), out var pid)
                && TryRead(pid, out var process))
            {
                processes[pid] = process;
            }
        }
        return processes;
    }

    /// <summary>The given processes and all their descendants, roots first.</summary>
    public static List<ProcessIdentity> Descendants(IEnumerable<int> roots) =>
        Descendants(roots, Snapshot());

    /// <summary>The given processes and all their descendants in a snapshot, roots first.</summary>
    public static List<ProcessIdentity> Descendants(
        IEnumerable<int> roots,
        IReadOnlyDictionary<int, ProcessIdentity> all)
    {
        var children = all.Values.ToLookup(p => p.ParentPid);
        var found = new List<ProcessIdentity>();
        var seen = new HashSet<int>();
        var pending = new Queue<int>(roots);
        while (pending.Count > 0)
        {
            var pid = pending.Dequeue();
            if (!seen.Add(pid) || !all.TryGetValue(pid, out var process))
            {
                continue;
            }
            found.Add(process);
            foreach (var child in children[pid])
            {
                pending.Enqueue(child.Pid);
            }
        }
        return found;
    }

    /// <summary>The exit code or signal of a zombie process, from /proc; nulls otherwise.</summary>
    public static (int? ExitCode, int? Signal) ExitStatus(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

            // The state is the first field after the name; exit_code (field 52) is the last.
            if (fields[0] != "Z" || !int.TryParse(fields[^1].Trim(), out var code))
            {
                return (null, null);
            }
            return (code & 0x7f) == 0 ? ((code >> 8) & 0xff, null) : (null, code & 0x7f);
        }
        catch (IOException)
        {
            return (null, null);
        }
    }

    /// <summary>Seconds since the machine started, from /proc/uptime.</summary>
    public static double Uptime()
    {
        var text = File.ReadAllText("/proc/uptime").Split(' ')[0];
        return double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Describes a process for a feature: processor use over its life, memory, start time and
    /// command line. Null when it has ended.
    /// </summary>
    public static FeatureProcess? Describe(
        ProcessIdentity process,
        string ticket,
        string role,
        double uptime)
    {
        string cmdline;
        try
        {
            cmdline = File.ReadAllText($"/proc/{process.Pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return null;
        }
        const double ticksPerSecond = 100;
        var started = process.StartTicks / ticksPerSecond;
        var age = Math.Max(0.01, uptime - started);
        return new FeatureProcess(ticket, role, process.Pid)
        {
            CommandLine = cmdline,
            CpuPercent = Math.Round(CpuTicks(process.Pid) / ticksPerSecond / age * 100, 1),
            MemoryMB = Math.Round(ResidentBytes(process.Pid) / 1048576.0, 1),
            StartTime = DateTimeOffset.Now - TimeSpan.FromSeconds(age),
        };
    }

    /// <summary>
    /// Processor time (user and system) a process used, in clock ticks; 0 when gone.
    /// </summary>
    public static long CpuTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

            // After the name: utime and stime are the 12th and 13th fields.
            return fields.Length > 12
                && long.TryParse(fields[11], out var user)
                && long.TryParse(fields[12], out var system)
                ? user + system
                : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The resident memory of a process in bytes, or 0 when it is gone.</summary>
    public static long ResidentBytes(int pid)
    {
        try
        {
            // statm: size resident shared ... in pages.
            var fields = File.ReadAllText($"/proc/{pid}/statm").Split(' ');
            return fields.Length > 1 && long.TryParse(fields[1], out var pages)
                ? pages * Environment.SystemPageSize
                : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The process with that id as it is now, or null when there is none.</summary>
    public static ProcessIdentity? Find(int pid) =>
        TryRead(pid, out var process) ? process : null;

    /// <summary>True when that process (same id and same start time) still runs.</summary>
    public static bool IsAlive(ProcessIdentity process) =>
        TryRead(process.Pid, out var now) && now.StartTicks == process.StartTicks
            && !IsZombie(process.Pid);

    /// <summary>
    /// Stops processes gracefully: hang-up and terminate signals, a bounded wait, then a kill
    /// for whatever is left. Processes that ended or whose id was reused are left alone.
    /// </summary>
    public static StopReport Stop(
        IReadOnlyCollection<ProcessIdentity> processes,
        TimeSpan grace,
        CancellationToken cancellationToken = default)
    {
        if (processes.Count == 0)
        {
            return StopReport.None;
        }

        // Interactive shells ignore SIGTERM but end on SIGHUP; most programs end on either.
        foreach (var process in processes.Where(IsAlive))
        {
            Signal(process.Pid, SignalHangUp);
            Signal(process.Pid, SignalTerminate);
        }

        var deadline = DateTime.UtcNow + grace;
        var remaining = processes.Where(IsAlive).ToList();
        while (remaining.Count > 0 && DateTime.UtcNow < deadline
            && !cancellationToken.IsCancellationRequested)
        {
            Thread.Sleep(20);
            remaining = remaining.Where(IsAlive).ToList();
        }

        foreach (var process in remaining)
        {
            Signal(process.Pid, SignalKill);
        }
        return new StopReport(processes.Count, processes.Count - remaining.Count, remaining.Count);
    }

    private static bool TryRead(int pid, out ProcessIdentity process)
    {
        process = default;
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        // The command name sits in parentheses and may itself hold spaces or ')'.
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return false;
        }
        var fields = stat[(close + 2)..].Split(' ');

        // After the name: state(0) ppid(1) pgrp(2) ... starttime is field 22 of the full line.
        if (fields.Length < 20
            || !int.TryParse(fields[1], out var parent)
            || !int.TryParse(fields[2], out var group)
            || !ulong.TryParse(fields[19], out var start))
        {
            return false;
        }
        process = new ProcessIdentity(pid, parent, group, start);
        return true;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void Signal(int pid, int signal) => _ = NativeKill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int NativeKill(int pid, int signal);
}
