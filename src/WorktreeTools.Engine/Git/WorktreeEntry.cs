namespace WorktreeTools.Engine.Git;

/// <summary>One worktree as <c>git worktree list --porcelain</c> reports it.</summary>
public sealed record WorktreeEntry(
    string Path,
    string? Head,
    string? Branch,
    bool IsBare,
    bool IsDetached,
    bool IsMain,
    string? LockedReason,
    string? PrunableReason)
{
    /// <summary>True when the worktree is locked against pruning.</summary>
    public bool IsLocked => LockedReason is not null;
}
