namespace WorktreeTools.Engine.Git;

/// <summary>Where a repository's parts are: its common git folder and its main worktree.</summary>
public sealed class RepositoryLocation
{
    private RepositoryLocation(string commonDirectory, string? mainWorktree)
    {
        CommonDirectory = commonDirectory;
        MainWorktree = mainWorktree;
    }

    /// <summary>
    /// The git folder shared by every worktree (the main worktree's <c>.git</c>).
    /// </summary>
    public string CommonDirectory { get; }

    /// <summary>The main worktree's folder, or null for a bare repository.</summary>
    public string? MainWorktree { get; }

    /// <summary>The folder holding this module's own state, inside the common git folder.</summary>
    public string StateDirectory => Path.Combine(CommonDirectory, "worktreetools");

    /// <summary>
    /// The main worktree, or an error that says a bare repository cannot hold features.
    /// </summary>
    public string RequireMainWorktree() =>
        MainWorktree ?? throw new WorktreeToolsException(
            "BareRepositoryNotSupported",
            FailureKind.InvalidOperation,
            $"The repository at '{CommonDirectory}' is bare. Run the command from a clone "
            + "with a working tree.",
            CommonDirectory);

    /// <summary>Finds the repository that holds a folder, from any of its worktrees.</summary>
    public static RepositoryLocation Find(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw NotARepository(directory);
        }
        var outcome = GitCli.Run(
            directory,
            "rev-parse",
            "--path-format=absolute",
            "--git-common-dir",
            "--is-bare-repository");
        if (!outcome.Succeeded)
        {
            throw NotARepository(directory);
        }

        var lines = outcome.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var common = Path.TrimEndingDirectorySeparator(lines[0]);
        var bare = lines.Length > 1 && lines[1] == "true";

        // A non-bare repository keeps its common folder as .git inside the main worktree.
        string? main = null;
        if (!bare && Path.GetFileName(common) == ".git")
        {
            main = Path.GetDirectoryName(common);
        }
        return new RepositoryLocation(common, main);
    }

    private static WorktreeToolsException NotARepository(string directory) =>
        new(
            "NotAGitRepository",
            FailureKind.ObjectNotFound,
            $"'{directory}' is not inside a git repository. Set-Location into a clone first.",
            directory);
}
