namespace WorktreeTools.Engine.Queue;

/// <summary>How often the queue runs an entry that failed, timed out or was interrupted.</summary>
/// <param name="MaxAttempts">Attempts in all, the first one included.</param>
/// <param name="RetryDelay">How long a failed entry waits before it may run again.</param>
public sealed record QueuePolicy(int MaxAttempts, TimeSpan RetryDelay)
{
    /// <summary>Three attempts, ten seconds apart.</summary>
    public static QueuePolicy Default { get; } = new(3, TimeSpan.FromSeconds(10));

    /// <inheritdoc />
    public override string ToString() =>
        $"@{{ MaxAttempts = {MaxAttempts}; RetryDelaySec = {RetryDelay.TotalSeconds:0} }}";
}
