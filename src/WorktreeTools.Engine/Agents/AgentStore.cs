using System.Text.Json;

namespace WorktreeTools.Engine.Agents;

/// <summary>Agent records, one JSON file per feature and window, in the state folder.</summary>
public sealed class AgentStore
{
    private readonly string folder;

    /// <summary>Uses <c>agents</c> under the given state folder.</summary>
    public AgentStore(string stateDirectory)
    {
        folder = Path.Combine(stateDirectory, "agents");
    }

    /// <summary>The folder for a feature's agent files (prompt files go there too).</summary>
    public string FolderOf(string ticket) => Path.Combine(folder, ticket);

    /// <summary>Every agent record of a feature, by window name.</summary>
    public List<AgentRecord> Load(string ticket)
    {
        var directory = FolderOf(ticket);
        if (!Directory.Exists(directory))
        {
            return [];
        }
        var records = new List<AgentRecord>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<AgentRecord>(File.ReadAllText(file)) is { } record)
                {
                    records.Add(record);
                }
            }
            catch (JsonException)
            {
                // Limitation: a damaged record hides that agent until it is started again.
            }
        }
        return [.. records.OrderBy(r => r.Window, StringComparer.Ordinal)];
    }

    /// <summary>Writes a record; a reader never sees a half-written file.</summary>
    public void Save(AgentRecord record)
    {
        var directory = FolderOf(record.Ticket);
        Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, record.Window + ".json");
        var temporary = $"{target}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(record));
        File.Move(temporary, target, overwrite: true);
    }

    /// <summary>Forgets the agent of one window, when a window is made without one.</summary>
    public void Forget(string ticket, string window)
    {
        var file = Path.Combine(FolderOf(ticket), window + ".json");
        if (File.Exists(file))
        {
            File.Delete(file);
        }
    }

    /// <summary>Forgets every agent of a feature.</summary>
    public void Forget(string ticket)
    {
        var directory = FolderOf(ticket);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
