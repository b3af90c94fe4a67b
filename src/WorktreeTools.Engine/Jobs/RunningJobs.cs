namespace WorktreeTools.Engine.Jobs;

/// <summary>A job attempt running now, in a process group of its own.</summary>
public sealed record RunningJob(string Ticket, string Job, int ProcessGroup);

/// <summary>
/// The jobs running now, from any shell: one small file per attempt while it runs, so that
/// Get-FeatureProcess can find a job's processes by their group.
/// </summary>
public sealed class RunningJobs
{
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
        var file = Path.Combine(folder, $"{job.ProcessGroup}.job");
        File.WriteAllText(file, $"{job.Ticket}\t{job.Job}");
        return new Entry(file);
    }

    private sealed class Entry(string file) : IDisposable
    {
        public void Dispose() => File.Delete(file);
    }

    /// <summary>The attempts recorded as running whose process group still exists.</summary>
    public List<RunningJob> List(IReadOnlySet<int> liveGroups)
    {
        var jobs = new List<RunningJob>();
        if (!Directory.Exists(folder))
        {
            return jobs;
        }
        foreach (var file in Directory.EnumerateFiles(folder, "*.job"))
        {
            if (!int.TryParse(Path.GetFileNameWithoutExtension(file), out var group)
                || !liveGroups.Contains(group))
            {
                continue;
            }
            try
            {
                var fields = File.ReadAllText(file).Split('\t');
                if (fields.Length == 2)
                {
                    jobs.Add(new RunningJob(fields[0], fields[1], group));
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
