using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Features;

/// <summary>
/// Finds every process that belongs to features: their windows' trees and their jobs.
/// </summary>
public sealed class FeatureProcessReader
{
    private readonly Workspace workspace;

    /// <summary>Reads the processes of a workspace's features.</summary>
    public FeatureProcessReader(Workspace workspace)
    {
        this.workspace = workspace;
    }

    /// <summary>The processes of the given features, by feature, window or job, then id.</summary>
    public List<FeatureProcess> List(IEnumerable<FeatureRecord> features)
    {
        var records = features.ToList();
        if (records.Count == 0)
        {
            return [];
        }
        var snapshot = ProcessTree.Snapshot();
        var uptime = ProcessTree.Uptime();
        var found = new List<FeatureProcess>();
        var seen = new HashSet<int>();

        // Jobs first: they run in groups of their own, and may have been started from another
        // feature's window, whose tree would otherwise claim them.
        var groups = snapshot.Values.Select(p => p.ProcessGroup).ToHashSet();
        var tickets = records.Select(r => r.Ticket).ToHashSet(StringComparer.Ordinal);
        foreach (var job in new RunningJobs(workspace.Repository.StateDirectory).List(groups))
        {
            foreach (var process in job.Members(snapshot))
            {
                if (tickets.Contains(job.Ticket))
                {
                    Add(process, job.Ticket, job.Job);
                }
                else
                {
                    seen.Add(process.Pid);
                }
            }
        }

        var panes = workspace.Tmux.ListAllPanes();
        foreach (var record in records)
        {
            foreach (var pane in panes[record.Session].Where(p => !p.Dead))
            {
                foreach (var process in ProcessTree.Descendants([pane.ProcessId], snapshot))
                {
                    Add(process, record.Ticket, pane.Window);
                }
            }
        }

        return [.. found
            .OrderBy(p => p.Ticket, StringComparer.Ordinal)
            .ThenBy(p => p.Role)
            .ThenBy(p => p.Pid)];

        void Add(ProcessIdentity process, string ticket, string role)
        {
            if (seen.Add(process.Pid)
                && ProcessTree.IsAlive(process)
                && ProcessTree.Describe(process, ticket, role, uptime) is { } described)
            {
                found.Add(described);
            }
        }
    }
}
