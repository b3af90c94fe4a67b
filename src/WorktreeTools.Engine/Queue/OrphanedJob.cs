using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Queue;

/// <summary>Stops what is left of a job whose runner died: its process group's members.</summary>
/// <remarks>
/// A job runs in a process group of its own, which outlives a runner killed with SIGKILL.
/// Linux never gives a new process an id that is still in use as a process group, so while
/// any member lives the number is the job's; once the group is empty and its leader's id is
/// reused, the leader's start time tells the two apart.
/// </remarks>
public static class OrphanedJob
{
    /// <summary>Stops the job's group members (ask, wait, kill) and says how.</summary>
    /// <param name="processGroup">The job's process group.</param>
    /// <param name="groupStart">The start time of the group's leader, when it was recorded.</param>
    /// <param name="grace">How long the processes get to end before they are killed.</param>
    public static StopReport Stop(int processGroup, long? groupStart, TimeSpan grace)
    {
        var all = ProcessTree.Snapshot();

        // A process with the group's id that is not, or cannot be shown to be, the job's
        // leader: the id was reused, and the group is someone else's.
        if (all.TryGetValue(processGroup, out var leader)
            && (groupStart is null || (long)leader.StartTicks != groupStart))
        {
            return StopReport.None;
        }
        var report = ProcessTree.Stop(Members(all, processGroup, groupStart), grace);

        // A member forked after the snapshot (a shell that had not yet started its command)
        // survives its parent's end: look again, and give late ones no second grace period.
        for (var round = 0; round < 3; round++)
        {
            var late = Members(ProcessTree.Snapshot(), processGroup, groupStart)
                .Where(ProcessTree.IsAlive)
                .ToList();
            if (late.Count == 0)
            {
                break;
            }
            var more = ProcessTree.Stop(late, TimeSpan.Zero);
            report = new StopReport(
                report.Found + more.Found,
                report.Terminated + more.Terminated,
                report.Killed + more.Killed);
        }
        return report;
    }

    private static List<ProcessIdentity> Members(
        IReadOnlyDictionary<int, ProcessIdentity> all,
        int processGroup,
        long? groupStart) =>
        [.. all.Values
            .Where(p => p.ProcessGroup == processGroup)
            .Where(p => groupStart is null || (long)p.StartTicks >= groupStart)];
}
