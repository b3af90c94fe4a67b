using System.Collections;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Processes;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class FeatureLifecycleTests : IDisposable
{
    private const int Timeout = 60_000;

    private readonly TestRepository repo = new("trunk");

    public void Dispose() => repo.Dispose();

    [Fact(Timeout = Timeout)]
    public async Task I_can_create_a_feature_from_a_new_branch_without_an_upstream()
    {
        await Task.Yield();
        var feature = Create(repo.Workspace(), "ABC-1", "Add login!");

        Assert.Equal("feature/ABC-1-add-login", feature.Branch);
        Assert.Equal("origin/trunk", feature.Base);
        Assert.Equal(Path.Combine(repo.Root, "worktrees", "ABC-1"), feature.Path);
        Assert.True(feature.SessionAlive);
        Assert.Equal(FeatureState.Ok, feature.State);
        var remote = CommandRunner.Run(
            "git", ["-C", repo.Clone, "config", $"branch.{feature.Branch}.remote"]);
        Assert.False(remote.Succeeded, "the branch must not track its base");
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_create_a_feature_twice_and_get_the_same_one()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        Create(workspace, "ABC-1", "One");

        var log = new RecordingLog();
        var again = Create(workspace, "ABC-1", "Two", log);

        Assert.Equal("feature/ABC-1-one", again.Branch);
        Assert.Contains(log.Warnings, w => w.Contains("already exists"));
        Assert.Single(new FeatureReader(workspace).List());
        Assert.Equal(4, repo.Tmux.ListWindows()["ABC-1"].Count);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_repair_a_feature_whose_session_and_folder_are_gone()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        var feature = Create(workspace, "ABC-1");
        File.WriteAllText(Path.Combine(feature.Path, "work.txt"), "kept");
        TestRepository.Git(feature.Path, "add", ".");
        TestRepository.Git(feature.Path, "commit", "-q", "-m", "work");
        repo.Tmux.KillSession("ABC-1");
        Directory.Delete(feature.Path, recursive: true);

        var repaired = Create(workspace, "ABC-1");

        Assert.Equal(FeatureState.Ok, repaired.State);
        Assert.True(repaired.SessionAlive);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(feature.Path, "work.txt")));
        var branches = TestRepository.Git(repo.Clone, "branch", "--list", "feature/*");
        Assert.Single(branches.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_try_a_feature_whose_setup_fails_and_find_nothing_left_behind()
    {
        await Task.Yield();
        var config = FeatureConfig.FromData(
            new Hashtable { ["Setup"] = "echo broken >&2; exit 3" },
            "x");
        var workspace = repo.Workspace(config);

        var error = Assert.Throws<WorktreeToolsException>(() => Create(workspace, "ABC-1"));

        Assert.Equal("SetupFailed", error.ErrorId);
        Assert.Contains("running the setup command", error.Message);
        Assert.Contains("broken", error.Message);
        Assert.False(Directory.Exists(Path.Combine(repo.Root, "worktrees", "ABC-1")));
        Assert.Empty(TestRepository.Git(repo.Clone, "branch", "--list", "feature/*"));
        Assert.DoesNotContain("ABC-1", TestRepository.Git(repo.Clone, "worktree", "list"));
        Assert.Empty(new FeatureReader(workspace).List());
        Assert.False(repo.Tmux.HasSession("ABC-1"));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_try_a_branch_checked_out_elsewhere_and_get_its_path()
    {
        await Task.Yield();
        var elsewhere = Path.Combine(repo.Root, "elsewhere");
        TestRepository.Git(repo.Clone, "worktree", "add", "-q", "-b", "feature/ABC-1", elsewhere);

        var error = Assert.Throws<WorktreeToolsException>(
            () => Create(repo.Workspace(), "ABC-1"));

        Assert.Equal("BranchCheckedOutElsewhere", error.ErrorId);
        Assert.Contains(elsewhere, error.Message);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_one_feature_without_touching_one_whose_name_it_prefixes()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        var shorter = Create(workspace, "ABC-12");
        Create(workspace, "ABC-123");

        new FeatureStopper(workspace).Stop(shorter, new StopFeatureOptions());

        Assert.False(repo.Tmux.HasSession("ABC-12"));
        Assert.True(repo.Tmux.HasSession("ABC-123"));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_try_to_remove_a_dirty_worktree_and_get_an_error()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        var feature = Create(workspace, "ABC-1");
        File.WriteAllText(Path.Combine(feature.Path, ".env"), "SECRET=1");
        Directory.CreateDirectory(Path.Combine(feature.Path, "node_modules", "x"));
        File.WriteAllText(Path.Combine(feature.Path, "node_modules", "x", "a.js"), "");
        var stopper = new FeatureStopper(workspace);

        var error = Assert.Throws<WorktreeToolsException>(
            () => stopper.Stop(feature, new StopFeatureOptions(Remove: true)));

        Assert.Equal("WorktreeHasUncommittedWork", error.ErrorId);
        Assert.Contains(".env", error.Message);
        Assert.DoesNotContain("node_modules", error.Message);
        Assert.True(Directory.Exists(feature.Path));
        Assert.True(repo.Tmux.HasSession("ABC-1"));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_remove_a_feature_and_keep_a_branch_with_unmerged_commits()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        var feature = Create(workspace, "ABC-1");
        File.WriteAllText(Path.Combine(feature.Path, "new.txt"), "x");
        TestRepository.Git(feature.Path, "add", ".");
        TestRepository.Git(feature.Path, "commit", "-q", "-m", "unpushed");
        var log = new RecordingLog();

        var result = new FeatureStopper(workspace, log).Stop(
            feature, new StopFeatureOptions(Remove: true, DeleteBranch: true));

        Assert.True(result.WorktreeRemoved);
        Assert.False(result.BranchDeleted);
        Assert.Contains(log.Warnings, w => w.Contains("1 commit on it is on neither"));
        Assert.NotEmpty(TestRepository.Git(repo.Clone, "branch", "--list", feature.Branch!));
        Assert.False(Directory.Exists(feature.Path));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_remove_a_merged_feature_with_its_branch()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        var feature = Create(workspace, "ABC-1");

        var result = new FeatureStopper(workspace).Stop(
            feature, new StopFeatureOptions(Remove: true, DeleteBranch: true));

        Assert.True(result.BranchDeleted);
        Assert.Empty(TestRepository.Git(repo.Clone, "branch", "--list", feature.Branch!));
        Assert.Empty(new FeatureReader(workspace).List());
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_read_the_status_of_a_changed_feature()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        var feature = Create(workspace, "ABC-1");
        File.WriteAllText(Path.Combine(feature.Path, "a.txt"), "a");
        TestRepository.Git(feature.Path, "add", ".");
        TestRepository.Git(feature.Path, "commit", "-q", "-m", "a");
        File.WriteAllText(Path.Combine(feature.Path, "README.md"), "changed");
        File.WriteAllText(Path.Combine(feature.Path, "café.txt"), "new");

        var status = Assert.Single(new FeatureReader(workspace).Status([feature]));

        Assert.Equal(1, status.AheadOfBase);
        Assert.Equal(0, status.BehindBase);
        Assert.Equal(1, status.Modified);
        Assert.Equal(1, status.Untracked);
        Assert.True(status.Dirty);
        Assert.Equal("a", status.LastCommit!.Subject);
        Assert.False(status.Failed);
        Assert.Equal(["editor", "server", "tests", "ai"], status.Windows);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_see_every_change_made_between_two_status_reads()
    {
        // The second read uses the repository kept from the first; it must miss nothing.
        await Task.Yield();
        var workspace = repo.Workspace();
        var feature = Create(workspace, "ABC-1");
        var reader = new FeatureReader(workspace);
        var before = Assert.Single(reader.Status([feature]));

        File.WriteAllText(Path.Combine(feature.Path, "staged.txt"), "s");
        TestRepository.Git(feature.Path, "add", "staged.txt");
        TestRepository.Git(feature.Path, "commit", "-q", "-m", "one");
        File.WriteAllText(Path.Combine(feature.Path, "README.md"), "changed");
        File.WriteAllText(Path.Combine(feature.Path, "new.txt"), "n");
        TestRepository.Git(feature.Path, "push", "-q", "-u", "origin", feature.Branch!);
        TestRepository.Git(feature.Path, "commit", "-q", "--allow-empty", "-m", "two");
        var after = Assert.Single(reader.Status([feature]));

        Assert.Equal((0, 0, 0, null), (before.Modified, before.Untracked, before.AheadOfBase,
            before.Upstream));
        Assert.Equal(1, after.Modified);
        Assert.Equal(1, after.Untracked);
        Assert.Equal(2, after.AheadOfBase);
        Assert.Equal($"origin/{feature.Branch}", after.Upstream);
        Assert.Equal(1, after.AheadOfUpstream);
        Assert.Equal("two", after.LastCommit!.Subject);

        TestRepository.Git(feature.Path, "add", "README.md");
        TestRepository.Git(feature.Path, "commit", "-q", "-m", "three");
        var third = Assert.Single(reader.Status([feature]));
        Assert.Equal(0, third.Modified);
        Assert.Equal(2, third.AheadOfUpstream);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_get_a_warning_naming_the_kept_branch_when_a_ticket_starts_again()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        var first = Create(workspace, "ABC-1", "Add login");
        TestRepository.Git(first.Path, "commit", "-q", "--allow-empty", "-m", "unpushed");
        new FeatureStopper(workspace).Stop(
            first, new StopFeatureOptions(Remove: true, DeleteBranch: true, Force: true));
        var log = new RecordingLog();

        var again = Create(workspace, "ABC-1", log: log);

        Assert.Equal("feature/ABC-1", again.Branch);
        var warning = Assert.Single(log.Warnings, w => w.Contains("already has the branch"));
        Assert.Contains("'feature/ABC-1-add-login'", warning);
        Assert.Contains("New-Feature ABC-1 'add-login'", warning);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_get_no_such_warning_for_another_ticket_that_shares_a_prefix()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        Create(workspace, "ABC-12", "Short");
        var log = new RecordingLog();

        Create(workspace, "ABC-1", "Other", log);

        Assert.DoesNotContain(log.Warnings, w => w.Contains("already has the branch"));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_get_a_warning_when_an_existing_feature_is_asked_for_another_base()
    {
        await Task.Yield();
        var workspace = repo.Workspace();
        Create(workspace, "ABC-1", "Fix rounding");
        var log = new RecordingLog();
        var creator = new FeatureCreator(workspace, log);
        var request = new NewFeatureRequest("ABC-1", "Fix rounding", Base: "origin/trunk~0");

        var feature = creator.Create(creator.Plan(request), request);

        Assert.Equal("origin/trunk", feature.Base);
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("the new base 'origin/trunk~0' was ignored", warning);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_give_a_blank_description_and_get_none()
    {
        await Task.Yield();

        var feature = Create(repo.Workspace(), "ABC-1", "   ");

        Assert.Null(feature.Description);
        Assert.Equal("feature/ABC-1", feature.Branch);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_get_advice_that_fits_a_repository_without_a_remote()
    {
        await Task.Yield();
        TestRepository.Git(repo.Clone, "remote", "remove", "origin");

        var failure = Assert.Throws<WorktreeToolsException>(
            () => Create(repo.Workspace(), "ABC-1"));

        Assert.Equal("BaseNotFound", failure.ErrorId);
        Assert.Contains("no remote named 'origin'", failure.Message);
        Assert.Contains("-Base", failure.Message);
        Assert.DoesNotContain("set-head", failure.Message);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_get_a_warning_for_a_CopyFiles_entry_that_matches_nothing()
    {
        await Task.Yield();
        File.WriteAllText(Path.Combine(repo.Clone, ".env"), "A=1");
        var config = FeatureConfig.FromData(
            new Hashtable { ["CopyFiles"] = new object[] { ".env", ".evn" } }, "test.psd1");
        var log = new RecordingLog();

        var feature = Create(repo.Workspace(config), "ABC-1", log: log);

        Assert.True(File.Exists(Path.Combine(feature.Path, ".env")));
        var warning = Assert.Single(log.Warnings, w => w.Contains("CopyFiles"));
        Assert.Contains("'.evn'", warning);
        Assert.Contains("matches no file", warning);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_leave_no_tmux_socket_file_behind()
    {
        await Task.Yield();
        var other = new TestRepository();
        var feature = Create(other.Workspace(), "ABC-1");
        var socket = other.Tmux.Run("display-message", "-p", "#{socket_path}")
            .StandardOutput.Trim();
        Assert.True(File.Exists(socket), feature.Ticket);

        other.Dispose();

        Assert.False(File.Exists(socket));
    }

    private static Feature Create(
        Workspace workspace,
        string ticket,
        string? description = null,
        IFeatureLog? log = null)
    {
        var creator = new FeatureCreator(workspace, log);
        var request = new NewFeatureRequest(ticket, description);
        return creator.Create(creator.Plan(request), request);
    }

    private sealed class RecordingLog : IFeatureLog
    {
        public List<string> Warnings { get; } = [];

        public void Verbose(string message)
        {
        }

        public void Warning(string message) => Warnings.Add(message);
    }
}
