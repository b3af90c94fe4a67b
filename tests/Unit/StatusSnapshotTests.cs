using LibGit2Sharp;
using WorktreeTools.Engine.Git;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class StatusSnapshotTests : IDisposable
{
    // Later than any file of the test, so that the snapshot counts them as settled.
    private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddMinutes(10);
    private static readonly DateTime LongAgo = DateTime.UtcNow.AddHours(-1);

    private readonly TestRepository repo = new();

    public void Dispose() => repo.Dispose();

    private string Worktree => repo.Clone;

    private string At(string relative) => Path.Combine(Worktree, relative);

    /// <summary>Dates every file and folder back, as if the worktree had been left alone.</summary>
    private void Age()
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(
            Worktree, "*", SearchOption.AllDirectories).Where(p => !p.Contains("/.git/")))
        {
            File.SetLastWriteTimeUtc(path, LongAgo);
        }
        Directory.SetLastWriteTimeUtc(Worktree, LongAgo);
    }

    private StatusSnapshot Take(DateTimeOffset? now = null)
    {
        using var repository = new Repository(Worktree);
        var untracked = repository.RetrieveStatus()
            .Where(e => e.State == FileStatus.NewInWorkdir)
            .Select(e => e.FilePath);
        var snapshot = StatusSnapshot.Take(
            repository, Worktree, Path.Combine(Worktree, ".git"), Head(), (0, 0, 0), untracked,
            StatusSnapshot.ExcludesFile(Worktree), now ?? Later);
        return Assert.IsType<StatusSnapshot>(snapshot);
    }

    private string? Head()
    {
        using var repository = new Repository(Worktree);
        return repository.Head.Tip?.Sha;
    }

    private void Prepare()
    {
        Directory.CreateDirectory(At("src/deep"));
        File.WriteAllText(At("src/deep/a.txt"), "aaaa");
        TestRepository.Git(Worktree, "add", ".");
        TestRepository.Git(Worktree, "commit", "-q", "-m", "src");
        Directory.CreateDirectory(At("empty"));
        Directory.CreateDirectory(At("node_modules/pkg"));
        File.WriteAllText(At("loose.txt"), "untracked");
        File.WriteAllText(At(".env"), "SECRET=0");
        File.WriteAllText(Path.Combine(repo.Root, "ignore-global"), "*.log\n");
        TestRepository.Git(
            Worktree, "config", "core.excludesFile", Path.Combine(repo.Root, "ignore-global"));
        Age();
    }

    [Fact]
    public void I_get_a_match_while_nothing_changed_even_in_ignored_folders()
    {
        Prepare();
        var snapshot = Take();

        // Only ignored files change; a new ignored file in a folder that holds tracked ones
        // would change that folder, which costs a full read but is not wrong.
        File.WriteAllText(At("node_modules/pkg/index.js"), "ignored");
        File.WriteAllText(At(".env"), "SECRET=1");

        Assert.True(snapshot.Matches(Head()));
    }

    public static TheoryData<string> Changes => new()
    {
        "content of the same size",
        "mode",
        "new untracked file",
        "file in an empty folder",
        "file in a new folder",
        "deleted file",
        "staged change",
        "exclude file",
        "untracked file content",
        "excludes file of the configuration",
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void I_get_no_match_after_a_change(string change)
    {
        Prepare();
        var snapshot = Take();

        switch (change)
        {
            case "content of the same size":
                File.WriteAllText(At("src/deep/a.txt"), "bbbb");
                break;
            case "mode":
                Engine.Processes.CommandRunner.Run("chmod", ["u+x", At("README.md")]);
                break;
            case "new untracked file":
                File.WriteAllText(At("src/new.txt"), "n");
                break;
            case "file in an empty folder":
                File.WriteAllText(At("empty/new.txt"), "n");
                break;
            case "file in a new folder":
                Directory.CreateDirectory(At("src/deep/newer"));
                File.WriteAllText(At("src/deep/newer/x.txt"), "n");
                break;
            case "deleted file":
                File.Delete(At("src/deep/a.txt"));
                break;
            case "staged change":
                TestRepository.Git(Worktree, "update-index", "--chmod=+x", "README.md");
                break;
            case "exclude file":
                File.AppendAllText(At(".git/info/exclude"), "loose.txt\n");
                break;
            case "untracked file content":
                File.WriteAllText(At("loose.txt"), "changed!!");
                break;
            case "excludes file of the configuration":
                File.AppendAllText(Path.Combine(repo.Root, "ignore-global"), "loose.txt\n");
                break;
        }

        Assert.False(snapshot.Matches(Head()));
    }

    [Fact]
    public void I_get_no_match_once_HEAD_moved()
    {
        Prepare();
        var snapshot = Take();

        TestRepository.Git(Worktree, "commit", "-q", "--allow-empty", "-m", "next");

        Assert.False(snapshot.Matches(Head()));
    }

    [Fact]
    public void I_get_no_snapshot_of_a_worktree_that_changed_a_moment_ago()
    {
        Prepare();
        File.WriteAllText(At("src/deep/a.txt"), "just now");

        using var repository = new Repository(Worktree);
        var snapshot = StatusSnapshot.Take(
            repository, Worktree, Path.Combine(Worktree, ".git"), Head(), (1, 1, 0),
            ["loose.txt"], excludesFile: null);

        Assert.Null(snapshot);
    }

    [Fact]
    public void I_get_no_snapshot_of_a_worktree_with_a_submodule()
    {
        Prepare();
        // A gitlink entry is what 'git submodule add' leaves in the index.
        TestRepository.Git(
            Worktree, "update-index", "--add", "--cacheinfo", $"160000,{Head()},vendor/lib");
        Age();

        using var repository = new Repository(Worktree);
        var snapshot = StatusSnapshot.Take(
            repository, Worktree, Path.Combine(Worktree, ".git"), Head(), (1, 0, 0), [],
            excludesFile: null, Later);

        Assert.Null(snapshot);
    }
}
