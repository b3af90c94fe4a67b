namespace WorktreeTools.Engine.Configuration;

/// <summary>One tmux window of a feature's session and the program it starts with.</summary>
public sealed record WindowSpec(string Name, string? Command)
{
    /// <inheritdoc />
    public override string ToString() => Command is null ? Name : $"{Name}: {Command}";
}
