namespace WorktreeTools.Engine.Tmux;

/// <summary>A tmux pane: its window, its process, and whether its program has ended.</summary>
public sealed record PaneInfo(
    string Window,
    int ProcessId,
    bool Dead,
    int? ExitStatus,
    string CurrentCommand)
{
    /// <summary>The signal that ended the pane's program, when one did.</summary>
    public int? ExitSignal { get; init; }
}
