namespace WorktreeTools.Engine.Configuration;

/// <summary>One tmux window of a feature's session and the program it starts with.</summary>
/// <param name="Name">The window's name.</param>
/// <param name="Command">A command line from the configuration, or null for a plain shell.</param>
public sealed record WindowSpec(string Name, string? Command)
{
    /// <summary>
    /// A program and its arguments, run directly instead of <see cref="Command"/>: no shell
    /// reads them, so they may hold any text.
    /// </summary>
    public IReadOnlyList<string>? Program { get; init; }

    /// <summary>Keeps the window, with the exit status, when its program ends.</summary>
    public bool KeepDeadPane { get; init; }

    /// <inheritdoc />
    public override string ToString() => Command is null ? Name : $"{Name}: {Command}";
}
