namespace WorktreeTools;

/// <summary>
/// A process that belongs to a feature: in one of its windows, or one of its jobs.
/// </summary>
public sealed class FeatureProcess
{
    internal FeatureProcess(string ticket, string role, int pid)
    {
        Ticket = ticket;
        Role = role;
        Pid = pid;
    }

    /// <summary>The feature's ticket.</summary>
    public string Ticket { get; }

    /// <summary>The window or job the process belongs to.</summary>
    public string Role { get; }

    /// <summary>The process id.</summary>
    public int Pid { get; }

    /// <summary>
    /// The process id, under the name Stop-Process and Get-Process bind from the pipeline.
    /// </summary>
    public int Id => Pid;

    /// <summary>
    /// Processor use over the process's life, in percent of one core (as ps shows it).
    /// </summary>
    public double CpuPercent { get; internal set; }

    /// <summary>Resident memory in megabytes.</summary>
    public double MemoryMB { get; internal set; }

    /// <summary>When the process started.</summary>
    public DateTimeOffset? StartTime { get; internal set; }

    /// <summary>The command line, arguments separated by spaces.</summary>
    public string CommandLine { get; internal set; } = string.Empty;

    /// <inheritdoc />
    public override string ToString() => $"{Ticket} {Role} {Pid}";
}
