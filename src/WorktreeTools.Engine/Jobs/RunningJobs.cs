using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Jobs;

/// <summary>A job attempt running now, in a process group of its own.</summary>
/// <param name="Ticket">The feature's ticket.</param>
/// <param name="Job">The job's name.</param>
/// <param name="ProcessGroup">The group, whose id is the pid of the job's first process.</param>
/// <param name="StartTicks">
/// When that first process started (clock ticks since boot), which tells the group from a
/// later one that reuses its id; 0 when unknown.
/// </param>
public sealed record RunningJob(string Ticket, string Job, int ProcessGroup, ulong StartTicks = 0)
{
    /// <summary>
    /// The processes of a snapshot that belong to this attempt: its group's members that
    /// started no earlier than the job. None when the group id now belongs to another job.
    /// </summary>
    public List<ProcessIdentity> Members(IReadOnlyDictionary<int, ProcessIdentity> snapshot)
    {
        if (StartTicks != 0
            && snapshot.TryGetValue(ProcessGroup, out var leader)
            && leader.StartTicks != StartTicks)
        {
            return [];
        }
        return [.. snapshot.Values
            .Where(p => p.ProcessGroup == ProcessGroup && p.StartTicks >= StartTicks)];
    }
}

/// <summary>
/// The jobs running now, from any shell: one small file per attempt while it runs, so that
/// Get-FeatureProcess can find a job's processes by their group and Stop-Feature can stop
/// them.
/// </summary>
public sealed class RunningJobs
{
    private const string JobExtension = ".job";
    private const string StopExtension = ".stop";

    private readonly string folder;

    /// <summary>Uses <c>jobs/running</c> under the given state folder.</summary>
    public RunningJobs(string stateDirectory)
    {
        folder = Path.Combine(stateDirectory, "jobs", "running");
    }

    /// <summary>Records that an attempt runs, until the returned object is disposed.</summary>
    public IDisposable Add(RunningJob job)
    {
        Directory.CreateDirectory(folder);
        var file = FileOf(job.ProcessGroup, JobExtension);

        // A stop mark left by an earlier job of the same group id is not for this one.
        File.Delete(FileOf(job.ProcessGroup, StopExtension));
        File.WriteAllText(file, $"{job.Ticket}\t{job.Job}\t{job.StartTicks}");
        return new Entry(file, FileOf(job.ProcessGroup, StopExtension));
    }

    /// <summary>
    /// Marks a running attempt as stopped by Stop-Feature, before its processes are signalled,
    /// so that its runner reports it as cancelled rather than failed.
    /// </summary>
    public void MarkStopped(RunningJob job)
    {
        if (File.Exists(FileOf(job.ProcessGroup, JobExtension)))
        {
            File.WriteAllText(FileOf(job.ProcessGroup, StopExtension), job.Ticket);
        }
    }

    /// <summary>True when Stop-Feature stopped the attempt running in that group.</summary>
    public bool WasStopped(int processGroup) => File.Exists(FileOf(processGroup, StopExtension));

    private string FileOf(int group, string extension) =>
        Path.Combine(folder, group.ToString(System.Globalization.CultureInfo.InvariantCulture)
            + extension);

    private sealed class Entry(string file, string stopMark) : IDisposable
    {
        public void Dispose()
        {
            File.Delete(file);
            File.Delete(stopMark);
        }
    }

    /// <summary>The attempts recorded as running whose process group still exists.</summary>
    public List<RunningJob> List(IReadOnlySet<int> liveGroups)
    {
        var jobs = new List<RunningJob>();
        if (!Directory.Exists(folder))
        {
            return jobs;
        }
        foreach (var file in Directory.EnumerateFiles(folder, "*" + JobExtension))
        {
            if (!int.TryParse(Path.GetFileNameWithoutExtension(file), out var group)
                || !liveGroups.Contains(group))
            {
                continue;
            }
            try
            {
                // Ticket, job and start ticks; files of older versions lack the ticks.
                var fields = File.ReadAllText(file).Split('\t');
                var ticks = fields.Length == 3 && ulong.TryParse(fields[2], out var parsed)
                    ? parsed
                    : 0;
                if (fields.Length is 2 or 3)
                {
                    jobs.Add(new RunningJob(fields[0], fields[1], group, ticks));
                }
            }
            catch (IOException)
            {
                // The attempt ended while the folder was read.
            }
        }
        return jobs;
    }
}
