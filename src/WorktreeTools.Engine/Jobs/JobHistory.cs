using System.Text.Json;

namespace WorktreeTools.Engine.Jobs;

/// <summary>
/// The last run of each job of each feature, one small file each, so status reports need
/// not read the whole joblog.
/// </summary>
public sealed class JobHistory
{
    private readonly string folder;

    /// <summary>Uses <c>jobs/last</c> under the given state folder.</summary>
    public JobHistory(string stateDirectory)
    {
        folder = Path.Combine(stateDirectory, "jobs", "last");
    }

    /// <summary>Records a finished run as the job's last one.</summary>
    public void Save(string ticket, LastJob last)
    {
        var directory = Path.Combine(folder, ticket);
        Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, last.Job + ".json");
        var temporary =
            $"{target}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(last));
        File.Move(temporary, target, overwrite: true);
    }

    /// <summary>The last run of every job of a feature, by job name.</summary>
    public List<LastJob> Load(string ticket)
    {
        var directory = Path.Combine(folder, ticket);
        if (!Directory.Exists(directory))
        {
            return [];
        }
        var runs = new List<LastJob>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<LastJob>(File.ReadAllText(file)) is { } last)
                {
                    runs.Add(last);
                }
            }
            catch (JsonException)
            {
                // Limitation: a damaged record is skipped; the joblog still holds the run.
            }
        }
        return [.. runs.OrderBy(r => r.Job, StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>The last run of one job of a feature, or null.</summary>
    public LastJob? Find(string ticket, string job) =>
        Load(ticket).FirstOrDefault(r => r.Job.Equals(job, StringComparison.OrdinalIgnoreCase));

    /// <summary>Forgets a feature's runs (when the feature is removed).</summary>
    public void Forget(string ticket)
    {
        var directory = Path.Combine(folder, ticket);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
