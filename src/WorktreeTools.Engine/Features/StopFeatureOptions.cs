namespace WorktreeTools.Engine.Features;

/// <summary>What Stop-Feature should do beyond stopping the session.</summary>
public sealed record StopFeatureOptions(
    bool Remove = false,
    bool DeleteBranch = false,
    bool Force = false)
{
    /// <summary>How long processes get to end after being asked, before they are killed.</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>What Stop-Feature did.</summary>
public sealed record StopFeatureResult(
    Feature Feature,
    bool SessionStopped,
    int ProcessesTerminated,
    int ProcessesKilled,
    bool WorktreeRemoved,
    bool BranchDeleted);
