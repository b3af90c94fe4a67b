using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Git;
using WorktreeTools.Engine.Processes;
using WorktreeTools.Engine.Tmux;

namespace WorktreeTools.Tests;

/// <summary>
/// A clone with a bare origin in a temporary folder, and a private tmux server; both are
/// removed on dispose.
/// </summary>
public sealed class TestRepository : IDisposable
{
    private static readonly Dictionary<string, string?> Identity = new()
    {
        ["GIT_AUTHOR_NAME"] = "Test",
        ["GIT_AUTHOR_EMAIL"] = "test@example.invalid",
        ["GIT_COMMITTER_NAME"] = "Test",
        ["GIT_COMMITTER_EMAIL"] = "test@example.invalid",
        ["GIT_CONFIG_NOSYSTEM"] = "1",
    };

    public TestRepository(string defaultBranch = "main")
    {
        Root = Path.Combine(Path.GetTempPath(), "wt-unit-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        var origin = Path.Combine(Root, "origin.git");
        Clone = Path.Combine(Root, "repo");
        DefaultBranch = defaultBranch;

        Git(Root, "init", "--bare", "-q", "-b", defaultBranch, origin);
        Git(Root, "clone", "-q", origin, Clone);
        File.WriteAllText(Path.Combine(Clone, "README.md"), "hello\n");
        File.WriteAllText(Path.Combine(Clone, ".gitignore"), ".env\nnode_modules/\n");
        Git(Clone, "add", ".");
        Git(Clone, "commit", "-q", "-m", "first");
        Git(Clone, "push", "-q", "origin", defaultBranch);
        Git(Clone, "remote", "set-head", "origin", "--auto");

        Tmux = new TmuxServer("wt-unit-" + Guid.NewGuid().ToString("N")[..12]);
    }

    public string Root { get; }

    public string Clone { get; }

    public string DefaultBranch { get; }

    public TmuxServer Tmux { get; }

    public Workspace Workspace(FeatureConfig? config = null) =>
        new(RepositoryLocation.Find(Clone), config ?? FeatureConfig.Default, Tmux);

    public static string Git(string directory, params string[] arguments)
    {
        var outcome = CommandRunner.Run(
            "git",
            ["-C", directory, .. arguments],
            environment: Identity);
        if (!outcome.Succeeded)
        {
            throw new InvalidOperationException(
                $"git {string.Join(' ', arguments)} failed: {outcome.StandardError}");
        }
        return outcome.StandardOutput.Trim();
    }

    /// <summary>Where tmux puts the socket of <c>tmux -L name</c>.</summary>
    private static string SocketPath(string name)
    {
        var folder = Environment.GetEnvironmentVariable("TMUX_TMPDIR") is { Length: > 0 } tmp
            ? tmp
            : "/tmp";
        var uid = File.ReadLines("/proc/self/status")
            .First(line => line.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
        return Path.Combine(folder, $"tmux-{uid}", name);
    }

    public void Dispose()
    {
        // kill-server leaves the socket file behind, and so does a server that ended with its
        // last session: the file is removed by its path, which tmux derives from the name.
        Tmux.KillServer();
        File.Delete(SocketPath(Tmux.SocketName!));
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A process that outlived its test may still hold a file; the folder is temporary.
        }
    }
}
