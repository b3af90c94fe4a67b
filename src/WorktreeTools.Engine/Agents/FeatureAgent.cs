namespace WorktreeTools;

/// <summary>What an agent is doing, as far as its processes and its screen tell.</summary>
public enum AgentState
{
    /// <summary>Its processes use the processor or its screen changes.</summary>
    Working,

    /// <summary>It shows a prompt and nothing moves: it waits for the user.</summary>
    WaitingForInput,

    /// <summary>It runs, but nothing moves and it shows no known prompt.</summary>
    Idle,

    /// <summary>Its program ended; the exit code says how.</summary>
    Exited,

    /// <summary>It was never started (see the reason), or its window is gone.</summary>
    NotStarted,

    /// <summary>The signals disagree or are too old to tell.</summary>
    Unknown,
}

/// <summary>One AI coding agent in a window of a feature's session.</summary>
public sealed class FeatureAgent
{
    internal FeatureAgent(string ticket, string role, string window)
    {
        Ticket = ticket;
        Role = role;
        Window = window;
    }

    /// <summary>The feature's ticket.</summary>
    public string Ticket { get; }

    /// <summary>The agent's role: <c>feature</c>, <c>review</c>, <c>tests</c> and so on.</summary>
    public string Role { get; }

    /// <summary>The tmux window the agent runs in.</summary>
    public string Window { get; }

    /// <summary>The process id of the agent's pane.</summary>
    public int? Pid { get; internal set; }

    /// <summary>What the agent is doing.</summary>
    public AgentState State { get; internal set; } = AgentState.Unknown;

    /// <summary>The exit code, when the agent has exited.</summary>
    public int? ExitCode { get; internal set; }

    /// <summary>Since when the agent has been in this state, as far as has been seen.</summary>
    public DateTimeOffset? Since { get; internal set; }

    /// <summary>
    /// Processor use of the agent's process tree since the last look, in percent.
    /// </summary>
    public double? CpuPercent { get; internal set; }

    /// <summary>Resident memory of the agent's process tree, in megabytes.</summary>
    public double? MemoryMB { get; internal set; }

    /// <summary>The last non-empty lines of the agent's screen.</summary>
    public IReadOnlyList<string> LastLines { get; internal set; } = [];

    /// <summary>Why the state is what it is.</summary>
    public string? Reason { get; internal set; }

    /// <summary>The agent program.</summary>
    public string? Command { get; internal set; }

    /// <inheritdoc />
    public override string ToString() => $"{Role}:{State}";
}
