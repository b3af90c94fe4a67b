namespace WorktreeTools;

/// <summary>
/// One row of the joblog: a job run as GNU parallel's --joblog records it, and more.
/// </summary>
public sealed record JobLogEntry(
    long Seq,
    string Host,
    DateTimeOffset StartTime,
    TimeSpan Runtime,
    long Send,
    long Receive,
    int ExitCode,
    int Signal,
    string Command,
    string Ticket,
    string Job,
    JobStatus Status,
    int Attempt,
    string? Commit,
    bool? Clean,
    TimeSpan? CpuTime,
    long? PeakMemory,
    string? LogPath,
    TimeSpan AdmissionWait = default,
    string? Reason = null)
{
    /// <summary>True when the run failed or timed out.</summary>
    public bool Failed => Status is JobStatus.Failed or JobStatus.TimedOut;
}
