namespace WorktreeTools;

/// <summary>A commit, shown as its short id and subject.</summary>
public sealed record CommitSummary(string Sha, string Subject, string Author, DateTimeOffset When)
{
    /// <inheritdoc />
    public override string ToString() => $"{Sha[..Math.Min(7, Sha.Length)]} {Subject}";
}

/// <summary>The working state of one feature: changes, divergence, session and failure.</summary>
public sealed class FeatureStatus
{
    internal FeatureStatus(Feature feature)
    {
        Feature = feature;
        Ticket = feature.Ticket;
        Path = feature.Path;
        Base = feature.Base;
        SessionAlive = feature.SessionAlive;
        Branch = feature.Branch;
    }

    /// <summary>The feature this status describes.</summary>
    public Feature Feature { get; }

    /// <summary>The feature's ticket.</summary>
    public string? Ticket { get; }

    /// <summary>The branch checked out now (which the user may have switched).</summary>
    public string? Branch { get; internal set; }

    /// <summary>The worktree's folder.</summary>
    public string Path { get; }

    /// <summary>True when anything is modified, untracked or conflicted.</summary>
    public bool Dirty => Modified + Untracked + Conflicted > 0;

    /// <summary>Tracked files with staged or unstaged changes.</summary>
    public int Modified { get; internal set; }

    /// <summary>Files git does not track and does not ignore.</summary>
    public int Untracked { get; internal set; }

    /// <summary>Files with merge conflicts.</summary>
    public int Conflicted { get; internal set; }

    /// <summary>The base ref the divergence is counted against.</summary>
    public string? Base { get; }

    /// <summary>Commits on the branch that the base lacks.</summary>
    public int? AheadOfBase { get; internal set; }

    /// <summary>Commits on the base that the branch lacks.</summary>
    public int? BehindBase { get; internal set; }

    /// <summary>The upstream branch, when one is set.</summary>
    public string? Upstream { get; internal set; }

    /// <summary>Commits not yet pushed to the upstream.</summary>
    public int? AheadOfUpstream { get; internal set; }

    /// <summary>Commits on the upstream not yet pulled.</summary>
    public int? BehindUpstream { get; internal set; }

    /// <summary>The commit checked out.</summary>
    public CommitSummary? LastCommit { get; internal set; }

    /// <summary>True when the tmux session is running.</summary>
    public bool SessionAlive { get; }

    /// <summary>The session's window names.</summary>
    public IReadOnlyList<string> Windows { get; internal set; } = [];

    /// <summary>The last run of each job in this feature.</summary>
    public IReadOnlyList<LastJob> LastJobs { get; internal set; } = [];

    /// <summary>
    /// The last lines that look like errors in the log of the most recent failed job.
    /// </summary>
    public IReadOnlyList<string> RecentErrors { get; internal set; } = [];

    /// <summary>The feature's AI agents and what each is doing.</summary>
    public IReadOnlyList<FeatureAgent> Agents { get; internal set; } = [];

    /// <summary>
    /// The state of the feature's main agent (the <c>ai</c> window), if it has one.
    /// </summary>
    public AgentState? Agent => Agents.FirstOrDefault(a => a.Role == "feature")?.State;

    /// <summary>True when any of the feature's agents waits for the user.</summary>
    public bool WaitingForInput => Agents.Any(a => a.State == AgentState.WaitingForInput);

    /// <summary>Processor use of all the feature's processes, in percent of one core.</summary>
    public double CpuPercent { get; internal set; }

    /// <summary>Resident memory of all the feature's processes, in megabytes.</summary>
    public double MemoryMB { get; internal set; }

    /// <summary>
    /// The pull request of the feature's own branch, from the GitHub command line; null when
    /// it was not asked for (-NoRemote) or for a worktree the module did not make.
    /// </summary>
    public PullRequest? PullRequest { get; internal set; }

    /// <summary>True when the feature needs attention.</summary>
    public bool Failed => FailedReason is not null;

    /// <summary>Why the feature failed.</summary>
    public string? FailedReason { get; internal set; }

    /// <inheritdoc />
    public override string ToString() => Ticket ?? Path;
}
