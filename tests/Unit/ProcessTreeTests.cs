using System.Diagnostics;
using WorktreeTools.Engine.Processes;
using Xunit;

namespace WorktreeTools.Tests;

public class ProcessTreeTests
{
    private const int Timeout = 30_000;

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_tree_with_grandchildren_and_one_that_ignores_signals()
    {
        // Arrange: sh -> (sh ignoring HUP and TERM -> sleep) and sh -> sleep.
        using var root = Start(
            "trap '' HUP TERM; sh -c 'trap \"\" HUP TERM; sleep 600' & sleep 600 & wait");
        var tree = await WaitForTree(root.Id, tree => tree.Count(p => Name(p.Pid) == "sleep") == 2);

        // Act
        var report = ProcessTree.Stop(tree, TimeSpan.FromMilliseconds(300));

        // Assert
        Assert.Equal(tree.Count, report.Found);
        Assert.True(
            report.Killed >= 2,
            $"expected the signal-ignoring shells to be killed: {report}");
        await WaitUntil(() => tree.All(p => !ProcessTree.IsAlive(p)));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_stop_a_polite_process_without_killing_it()
    {
        using var root = Start("sleep 600");
        var tree = await WaitForTree(root.Id, tree => tree.Any(p => Name(p.Pid) == "sleep"));

        var report = ProcessTree.Stop(tree, TimeSpan.FromSeconds(10));

        Assert.Equal(0, report.Killed);
        Assert.Equal(report.Found, report.Terminated);
    }

    [Fact]
    public void I_can_ask_for_the_tree_of_a_process_that_does_not_exist()
    {
        Assert.Empty(ProcessTree.Descendants([int.MaxValue]));
        Assert.Equal(StopReport.None, ProcessTree.Stop([], TimeSpan.Zero));
    }

    private static Process Start(string script)
    {
        var start = new ProcessStartInfo("sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        return Process.Start(start)!;
    }

    // The tree is taken once its leaves run: a snapshot taken while a shell still forks or
    // execs would miss processes that then outlive the test.
    private static async Task<List<ProcessIdentity>> WaitForTree(
        int pid,
        Func<List<ProcessIdentity>, bool> complete)
    {
        List<ProcessIdentity> tree = [];
        await WaitUntil(() => complete(tree = ProcessTree.Descendants([pid])));
        return tree;
    }

    private static string Name(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    internal static async Task WaitUntil(Func<bool> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not become true in time.");
            }
            await Task.Delay(20);
        }
    }
}
