using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Git;

/// <summary>The git command line, for what LibGit2Sharp does not do safely (worktrees).</summary>
public static class GitCli
{
    /// <summary>
    /// Runs git in a folder with the given arguments; never throws for exit codes.
    /// </summary>
    public static CommandOutcome Run(string directory, params string[] arguments) =>
        CommandRunner.Run("git", ["-C", directory, .. arguments], environment: QuietEnvironment);

    /// <summary>Runs git and throws an error with the given id when it fails.</summary>
    public static string RunOrThrow(
        string directory,
        string errorId,
        string what,
        params string[] arguments)
    {
        var outcome = Run(directory, arguments);
        if (!outcome.Succeeded)
        {
            throw new WorktreeToolsException(
                errorId,
                FailureKind.InvalidOperation,
                $"{what} failed: {outcome.Reason}",
                directory);
        }
        return outcome.StandardOutput;
    }

    /// <summary>Parses <c>git worktree list --porcelain -z</c> output.</summary>
    public static List<WorktreeEntry> ParseWorktreeList(string output)
    {
        var entries = new List<WorktreeEntry>();
        string? path = null, head = null, branch = null, locked = null, prunable = null;
        bool bare = false, detached = false;

        void Flush()
        {
            if (path is not null)
            {
                entries.Add(new WorktreeEntry(
                    path, head, branch, bare, detached, entries.Count == 0, locked, prunable));
            }
            path = head = branch = locked = prunable = null;
            bare = detached = false;
        }

        // Records are NUL-terminated attribute lines; an empty one ends a worktree.
        foreach (var field in output.Split('\0'))
        {
            if (field.Length == 0)
            {
                Flush();
                continue;
            }
            var space = field.IndexOf(' ');
            var label = space < 0 ? field : field[..space];
            var value = space < 0 ? string.Empty : field[(space + 1)..];
            switch (label)
            {
                case "worktree":
                    path = value;
                    break;
                case "HEAD":
                    head = value;
                    break;
                case "branch":
                    branch = value.StartsWith("refs/heads/", StringComparison.Ordinal)
                        ? value["refs/heads/".Length..]
                        : value;
                    break;
                case "bare":
                    bare = true;
                    break;
                case "detached":
                    detached = true;
                    break;
                case "locked":
                    locked = value;
                    break;
                case "prunable":
                    prunable = value;
                    break;
            }
        }
        Flush();
        return entries;
    }

    // Git must never wait for a password or an editor while a cmdlet runs.
    private static readonly Dictionary<string, string?> QuietEnvironment = new()
    {
        ["GIT_TERMINAL_PROMPT"] = "0",
        ["GIT_EDITOR"] = "true",
        ["LC_ALL"] = "C",
    };
}
