namespace WorktreeTools;

/// <summary>The most recent run of one job in one feature.</summary>
public sealed record LastJob(
    string Job,
    JobStatus Status,
    int? ExitCode,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    string? Commit,
    bool? Clean,
    string? LogPath,
    string? Reason)
{
    /// <summary>True when the run failed or timed out.</summary>
    public bool Failed => Status is JobStatus.Failed or JobStatus.TimedOut;

    /// <inheritdoc />
    public override string ToString() => $"{Job}:{Status}";
}
