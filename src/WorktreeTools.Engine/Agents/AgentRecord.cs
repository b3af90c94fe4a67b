namespace WorktreeTools.Engine.Agents;

/// <summary>What the module stores about an agent it started, and its last look at it.</summary>
public sealed record AgentRecord(
    string Ticket,
    string Role,
    string Window,
    string? Command,
    DateTimeOffset? Started,
    string? Reason)
{
    /// <summary>The last look at the agent, to compare the next one with.</summary>
    public AgentSample? LastSample { get; init; }
}

/// <summary>One look at an agent: its processor time, its screen and the state decided.</summary>
public sealed record AgentSample(
    DateTimeOffset Time,
    long CpuTicks,
    string ScreenHash,
    AgentState State,
    DateTimeOffset Since,
    int Pid);
