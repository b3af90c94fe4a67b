namespace WorktreeTools;

/// <summary>How a job run ended.</summary>
public enum JobStatus
{
    /// <summary>The command exited with code 0.</summary>
    Succeeded,

    /// <summary>The command exited with another code, or could not start.</summary>
    Failed,

    /// <summary>The command ran past its time limit and was stopped.</summary>
    TimedOut,

    /// <summary>The command was stopped because the invocation was stopped (Ctrl+C).</summary>
    Cancelled,

    /// <summary>
    /// The command never started: the invocation was stopped or failed fast first.
    /// </summary>
    NotStarted,

    /// <summary>The command was not run: nothing changed since it last succeeded.</summary>
    Skipped,
}

/// <summary>The outcome of one job in one feature's worktree.</summary>
public sealed class FeatureJobResult
{
    /// <summary>Makes a result; the engine fills it in.</summary>
    public FeatureJobResult(string ticket, string job, string command)
    {
        Ticket = ticket;
        Job = job;
        Command = command;
    }

    /// <summary>The feature's ticket.</summary>
    public string Ticket { get; }

    /// <summary>The job's name (<c>command</c> for an ad-hoc command line).</summary>
    public string Job { get; }

    /// <summary>The command line that ran.</summary>
    public string Command { get; }

    /// <summary>How the run ended.</summary>
    public JobStatus Status { get; internal set; } = JobStatus.NotStarted;

    /// <summary>The exit code of the process itself, or null when it never ran.</summary>
    public int? ExitCode { get; internal set; }

    /// <summary>The signal that ended the process, if any.</summary>
    public int? Signal { get; internal set; }

    /// <summary>True when the job ran and exited with code 0.</summary>
    public bool Succeeded => Status == JobStatus.Succeeded;

    /// <summary>True when the job failed or timed out.</summary>
    public bool Failed => Status is JobStatus.Failed or JobStatus.TimedOut;

    /// <summary>Why the job has its status, in a few words.</summary>
    public string? Reason { get; internal set; }

    /// <summary>When the last attempt started.</summary>
    public DateTimeOffset? Start { get; internal set; }

    /// <summary>When the last attempt ended.</summary>
    public DateTimeOffset? End { get; internal set; }

    /// <summary>How long the last attempt ran.</summary>
    public TimeSpan? Duration => End - Start;

    /// <summary>How many times the command was started.</summary>
    public int Attempts { get; internal set; }

    /// <summary>The log file of the run (standard output and error together).</summary>
    public string? LogPath { get; internal set; }

    /// <summary>Bytes the job wrote, before any cut.</summary>
    public long OutputBytes { get; internal set; }

    /// <summary>Processor time of the job's whole process tree.</summary>
    public TimeSpan? CpuTime { get; internal set; }

    /// <summary>
    /// Peak resident memory of the job's whole process tree, in bytes, as sampled.
    /// </summary>
    public long? PeakMemory { get; internal set; }

    /// <summary>The commit checked out when the job started.</summary>
    public string? Commit { get; internal set; }

    /// <summary>True when the worktree had no changes when the job started.</summary>
    public bool? Clean { get; internal set; }

    /// <summary>
    /// How long the job waited for free memory or a lower load average before it started.
    /// </summary>
    public TimeSpan AdmissionWait { get; internal set; }

    /// <summary>Why the job last waited before it started; null when it did not wait.</summary>
    public string? WaitReason { get; internal set; }

    /// <summary>True when Stop-Feature stopped the job with the rest of its feature.</summary>
    internal bool StoppedWithFeature { get; set; }

    /// <summary>The job's row number in the joblog.</summary>
    public long? Seq { get; internal set; }

    /// <inheritdoc />
    public override string ToString() => $"{Ticket} {Job}: {Status}";
}
