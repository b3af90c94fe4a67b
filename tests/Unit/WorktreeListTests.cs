using WorktreeTools.Engine.Git;
using Xunit;

namespace WorktreeTools.Tests;

public class WorktreeListTests
{
    [Fact]
    public void I_can_read_every_kind_of_worktree_from_the_porcelain_list()
    {
        var output = string.Join('\0',
            "worktree /r", "HEAD aaa", "branch refs/heads/main", "",
            "worktree /w/ABC-1", "HEAD bbb", "branch refs/heads/feature/ABC-1", "locked busy", "",
            "worktree /w/detached", "HEAD ccc", "detached", "",
            "worktree /w/gone", "HEAD ddd", "branch refs/heads/x",
            "prunable gitdir file points to non-existent location", "") + "\0";

        var list = GitCli.ParseWorktreeList(output);

        Assert.Equal(4, list.Count);
        Assert.True(list[0].IsMain);
        Assert.Equal("main", list[0].Branch);
        Assert.Equal("feature/ABC-1", list[1].Branch);
        Assert.Equal("busy", list[1].LockedReason);
        Assert.True(list[2].IsDetached);
        Assert.Null(list[2].Branch);
        Assert.NotNull(list[3].PrunableReason);
    }

    [Fact]
    public void I_can_read_a_path_with_spaces_and_non_ascii_letters()
    {
        var list = GitCli.ParseWorktreeList("worktree /w/é dir\0HEAD a\0branch refs/heads/b\0\0");

        Assert.Equal("/w/é dir", Assert.Single(list).Path);
    }
}
