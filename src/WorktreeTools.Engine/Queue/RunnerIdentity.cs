namespace WorktreeTools.Engine.Queue;

/// <summary>
/// A runner process as the queue records it: host, process id and the process's start time,
/// so that a process that later gets the same id is not taken for the runner.
/// </summary>
/// <param name="Host">The machine's name.</param>
/// <param name="Pid">The process id.</param>
/// <param name="StartTicks">
/// The start time from <c>/proc/&lt;pid&gt;/stat</c>, in clock ticks since boot.
/// </param>
public sealed record RunnerIdentity(string Host, int Pid, long StartTicks)
{
    /// <summary>This process.</summary>
    public static RunnerIdentity Current { get; } =
        new(
            Environment.MachineName,
            Environment.ProcessId,
            StartTicksOf(Environment.ProcessId) ?? 0);

    /// <summary>
    /// True unless the runner is known to be gone: on this host, no live process has its id
    /// and start time.
    /// </summary>
    /// <remarks>
    /// A runner on another host cannot be checked and counts as alive: its entries are
    /// recovered only on that host.
    /// </remarks>
    public bool IsAlive()
    {
        if (!Host.Equals(Current.Host, StringComparison.Ordinal))
        {
            return true;
        }
        return ReadStat(Pid) is { } stat
            && stat.StartTicks == StartTicks
            && stat.State is not ('Z' or 'X');
    }

    /// <inheritdoc />
    public override string ToString() => $"{Host}:{Pid}";

    /// <summary>The start time of a live process in clock ticks since boot, or null.</summary>
    public static long? StartTicksOf(int pid) =>
        ReadStat(pid) is { State: not ('Z' or 'X') } stat ? stat.StartTicks : null;

    private static (char State, long StartTicks)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name sits in parentheses and may hold spaces; after it come state(0)
        // ... starttime(19).
        var close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length)
        {
            return null;
        }
        var fields = text[(close + 2)..].Split(' ');
        return fields.Length > 19 && long.TryParse(fields[19], out var start)
            ? (fields[0][0], start)
            : null;
    }
}
