using System.Text.Json;

namespace WorktreeTools.Engine.Features;

/// <summary>Feature records as one JSON file each in the state folder.</summary>
public sealed class FeatureStore
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    private readonly string folder;

    /// <summary>Uses <c>features</c> under the given state folder.</summary>
    public FeatureStore(string stateDirectory)
    {
        folder = Path.Combine(stateDirectory, "features");
    }

    /// <summary>Every stored feature, ordered by ticket.</summary>
    public List<FeatureRecord> LoadAll()
    {
        if (!Directory.Exists(folder))
        {
            return [];
        }
        return Directory.EnumerateFiles(folder, "*.json")
            .Select(Read)
            .OfType<FeatureRecord>()
            .OrderBy(r => r.Ticket, StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    /// <summary>The stored feature with this ticket (ignoring case), or null.</summary>
    public FeatureRecord? Find(string ticket)
    {
        // The file of the exact ticket first; a scan only when the case differs.
        var file = FileOf(ticket);
        if (File.Exists(file) && Read(file) is { } exact && exact.Ticket == ticket)
        {
            return exact;
        }
        return LoadAll().FirstOrDefault(
            r => r.Ticket.Equals(ticket, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Writes a record; a reader never sees a half-written file.</summary>
    public void Save(FeatureRecord record)
    {
        Directory.CreateDirectory(folder);
        var target = FileOf(record.Ticket);
        var temporary = target + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(record, Options));
        File.Move(temporary, target, overwrite: true);
    }

    /// <summary>Deletes a record; nothing happens when there is none.</summary>
    public void Delete(string ticket) => File.Delete(FileOf(ticket));

    private string FileOf(string ticket) => Path.Combine(folder, ticket + ".json");

    private static FeatureRecord? Read(string file)
    {
        try
        {
            return JsonSerializer.Deserialize<FeatureRecord>(File.ReadAllText(file), Options);
        }
        catch (JsonException ex)
        {
            throw new WorktreeToolsException(
                "FeatureStateUnreadable",
                FailureKind.InvalidData,
                $"The feature state file '{file}' cannot be read: {ex.Message}. Fix or delete it.",
                file,
                ex);
        }
    }
}
