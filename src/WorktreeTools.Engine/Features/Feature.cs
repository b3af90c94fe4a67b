using WorktreeTools.Engine.Features;

namespace WorktreeTools;

/// <summary>The health of a feature's worktree.</summary>
public enum FeatureState
{
    /// <summary>The worktree is present and linked to the repository.</summary>
    Ok,

    /// <summary>The worktree's folder is gone.</summary>
    Missing,

    /// <summary>The worktree is locked against removal and pruning.</summary>
    Locked,

    /// <summary>The worktree's link to the repository is broken.</summary>
    Broken,
}

/// <summary>One feature: a ticket with its branch, worktree and tmux session.</summary>
public sealed class Feature
{
    internal Feature(FeatureRecord? record, string path)
    {
        Ticket = record?.Ticket;
        Description = record?.Description;
        Branch = record?.Branch;
        Path = path;
        Base = record?.Base;
        Session = record?.Session;
        Created = record?.Created;
        IsManaged = record is not null;
        Port = record?.Port;
        Ports = record?.Ports ?? [];
    }

    /// <summary>A feature whose record cannot be read: Broken, the file its reason.</summary>
    internal Feature(UnreadableFeature unreadable, string path)
        : this((FeatureRecord?)null, path)
    {
        Ticket = unreadable.Ticket;
        IsManaged = true;
        Unreadable = unreadable;
        State = FeatureState.Broken;
        Reason = unreadable.Reason;
        RepairCommand = unreadable.RepairCommand;
    }

    /// <summary>The unreadable record file of a feature listed as Broken for it.</summary>
    internal UnreadableFeature? Unreadable { get; }

    /// <summary>The ticket, or null for a worktree this module did not make.</summary>
    public string? Ticket { get; }

    /// <summary>The description given when the feature was made.</summary>
    public string? Description { get; }

    /// <summary>The feature's own branch (or, for other worktrees, the one checked out).</summary>
    public string? Branch { get; internal set; }

    /// <summary>The worktree's folder.</summary>
    public string Path { get; }

    /// <summary>The ref the branch was made from.</summary>
    public string? Base { get; }

    /// <summary>The tmux session name.</summary>
    public string? Session { get; }

    /// <summary>True when the tmux session is running.</summary>
    public bool SessionAlive { get; internal set; }

    /// <summary>The health of the worktree.</summary>
    public FeatureState State { get; internal set; }

    /// <summary>Why the state is not <c>Ok</c>.</summary>
    public string? Reason { get; internal set; }

    /// <summary>A command that repairs the state, when there is one.</summary>
    public string? RepairCommand { get; internal set; }

    /// <summary>The commit checked out, when known.</summary>
    public string? Head { get; internal set; }

    /// <summary>The first port of the feature's leased block (also <c>$FEATURE_PORT</c>).</summary>
    public int? Port { get; }

    /// <summary>Every port of the feature's block.</summary>
    public IReadOnlyList<int> Ports { get; }

    /// <summary>When the feature was made.</summary>
    public DateTimeOffset? Created { get; }

    /// <summary>
    /// True for features this module made; false for other worktrees shown by -All.
    /// </summary>
    public bool IsManaged { get; }

    /// <summary>True for the repository's main worktree.</summary>
    public bool IsMain { get; internal set; }

    /// <summary>True for a bare repository entry.</summary>
    public bool IsBare { get; internal set; }

    /// <summary>True when the worktree has a detached HEAD.</summary>
    public bool IsDetached { get; internal set; }

    /// <inheritdoc />
    public override string ToString() => Ticket ?? Path;
}
