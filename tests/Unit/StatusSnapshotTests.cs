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
        // With find and touch, which take names that are not UTF-8 as they are.
        var stamp = $"@{new DateTimeOffset(LongAgo).ToUnixTimeSeconds()}";
        var aged = Engine.Processes.CommandRunner.Run("find", [
            Worktree, "-path", Path.Combine(Worktree, ".git"), "-prune", "-o",
            "-exec", "touch", "-h", "-d", stamp, "{}", "+"]);
        Assert.True(aged.Succeeded, aged.StandardError);
    }

    private StatusSnapshot Take(DateTimeOffset? now = null)
    {
        using var repository = new Repository(Worktree);
        var untracked = repository.RetrieveStatus()
            .Where(e => e.State == FileStatus.NewInWorkdir)
            .Select(e => e.FilePath);
        var snapshot = StatusSnapshot.Take(
            repository, Worktree, Path.Combine(Worktree, ".git"), Head(), (0, 0, 0), untracked,
            StatusSettings.Read(Worktree), now ?? Later);
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

        // A .gitignore that ignores itself, and files named by the configuration: all
        // outside what a status read lists, yet each decides what the counts are.
        Directory.CreateDirectory(At("ignored"));
        File.WriteAllText(At("ignored/.gitignore"), ".gitignore\n*.tmp\n");
        File.WriteAllText(At("ignored/a.tmp"), "t");
        File.WriteAllText(Outside("attributes"), "");
        TestRepository.Git(Worktree, "config", "core.attributesFile", Outside("attributes"));
        File.WriteAllText(Outside("included.cfg"), "[core]\n");
        TestRepository.Git(Worktree, "config", "include.path", Outside("included.cfg"));
        File.WriteAllText(Outside("relative-ignore"), "");
        TestRepository.Git(Worktree, "config", "--add", "core.excludesFile",
            Path.Join("..", "relative-ignore"));
        Directory.CreateDirectory(Outside("dotfiles"));
        File.WriteAllText(Outside("dotfiles/ignore"), "");
        File.CreateSymbolicLink(Outside("linked-ignore"), Outside("dotfiles/ignore"));
        TestRepository.Git(Worktree, "config", "--add", "core.excludesFile",
            Outside("linked-ignore"));
        Age();
    }

    /// <summary>A path beside the worktree, where the configuration's own files live.</summary>
    private string Outside(string relative) => Path.Combine(repo.Root, relative);

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
        "ignored rule file",
        "attributes file of the repository",
        "attributes file of the configuration",
        "file a configuration include names",
        "excludes file named relative to the worktree",
        "target of a linked excludes file",
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
            case "ignored rule file":
                File.WriteAllText(At("ignored/.gitignore"), ".gitignore\n");
                break;
            case "attributes file of the repository":
                File.WriteAllText(At(".git/info/attributes"), "*.txt text\n");
                break;
            case "attributes file of the configuration":
                File.WriteAllText(Outside("attributes"), "*.txt text\n");
                break;
            case "file a configuration include names":
                File.WriteAllText(Outside("included.cfg"), "[core]\n\tfilemode = false\n");
                break;
            case "excludes file named relative to the worktree":
                File.WriteAllText(Outside("relative-ignore"), "loose.txt\n");
                break;
            case "target of a linked excludes file":
                File.WriteAllText(Outside("dotfiles/ignore"), "loose.txt\n");
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
            ["loose.txt"], StatusSettings.Read(Worktree));

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
            StatusSettings.Read(Worktree), Later);

        Assert.Null(snapshot);
    }

    [Fact]
    public void I_get_no_snapshot_of_a_worktree_with_a_name_that_is_not_UTF8()
    {
        Prepare();
        // 'caf' and a Latin-1 e acute: a name git keeps as bytes.
        var name = Path.Combine(Worktree, "caf");
        Engine.Processes.CommandRunner.Run(
            "sh", ["-c", "printf x > \"$1\"$(printf '\\351').txt", "sh", name]);
        Age();

        using var repository = new Repository(Worktree);
        var untracked = repository.RetrieveStatus()
            .Where(e => e.State == FileStatus.NewInWorkdir)
            .Select(e => e.FilePath);
        var snapshot = StatusSnapshot.Take(
            repository, Worktree, Path.Combine(Worktree, ".git"), Head(), (0, 2, 0), untracked,
            StatusSettings.Read(Worktree), Later);

        Assert.Null(snapshot);
    }

    [Fact]
    public void I_get_no_snapshot_of_a_worktree_whose_rule_file_is_a_link()
    {
        Prepare();
        File.CreateSymbolicLink(At("src/.gitignore"), Outside("dotfiles/ignore"));
        Age();

        using var repository = new Repository(Worktree);
        var snapshot = StatusSnapshot.Take(
            repository, Worktree, Path.Combine(Worktree, ".git"), Head(), (0, 2, 0),
            ["loose.txt", "src/.gitignore"], StatusSettings.Read(Worktree), Later);

        Assert.Null(snapshot);
    }
}
