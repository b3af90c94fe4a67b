using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Git;
using WorktreeTools.Engine.Tmux;

namespace WorktreeTools.Engine.Features;

/// <summary>A repository with its configuration, state and tmux server.</summary>
public sealed class Workspace
{
    /// <summary>Puts the parts together.</summary>
    public Workspace(
        RepositoryLocation repository,
        FeatureConfig config,
        TmuxServer tmux,
        string? shippedTemplates = null)
    {
        Repository = repository;
        Config = config;
        Tmux = tmux;
        ShippedTemplates = shippedTemplates;
        Store = new FeatureStore(repository.StateDirectory);
    }

    /// <summary>The folder of the prompt templates that come with the module, if any.</summary>
    public string? ShippedTemplates { get; }

    /// <summary>Where the repository is.</summary>
    public RepositoryLocation Repository { get; }

    /// <summary>The effective configuration.</summary>
    public FeatureConfig Config { get; }

    /// <summary>The tmux server features' sessions live on.</summary>
    public TmuxServer Tmux { get; }

    /// <summary>The stored features.</summary>
    public FeatureStore Store { get; }

    /// <summary>The folder that holds feature worktrees.</summary>
    public string WorktreeRoot =>
        Path.GetFullPath(Path.Combine(Repository.RequireMainWorktree(), Config.WorktreeRoot));
}
