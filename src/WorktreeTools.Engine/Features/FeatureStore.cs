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

    /// <summary>Every readable stored feature, ordered by ticket.</summary>
    public List<FeatureRecord> LoadAll() => Scan().Records;

    /// <summary>
    /// Every stored feature, ordered by ticket, and apart from them the files that cannot be
    /// read. One bad file never hides the others; it is never deleted or rewritten either.
    /// </summary>
    public (List<FeatureRecord> Records, List<UnreadableFeature> Unreadable) Scan()
    {
        var records = new List<FeatureRecord>();
        var unreadable = new List<UnreadableFeature>();
        if (!Directory.Exists(folder))
        {
            return (records, unreadable);
        }
        foreach (var file in Directory.EnumerateFiles(folder, "*.json"))
        {
            switch (TryRead(file))
            {
                case FeatureRecord record:
                    records.Add(record);
                    break;
                case UnreadableFeature bad:
                    unreadable.Add(bad);
                    break;
            }
        }
        records.Sort((a, b) => StringComparer.OrdinalIgnoreCase.Compare(a.Ticket, b.Ticket));
        unreadable.Sort((a, b) => StringComparer.OrdinalIgnoreCase.Compare(a.Ticket, b.Ticket));
        return (records, unreadable);
    }

    /// <summary>
    /// The stored feature with this ticket (ignoring case), or null. Throws
    /// <c>FeatureStateUnreadable</c> when that ticket's file cannot be read.
    /// </summary>
    public FeatureRecord? Find(string ticket)
    {
        // The file of the exact ticket first; a scan only when the case differs.
        var file = FileOf(ticket);
        if (File.Exists(file))
        {
            switch (TryRead(file))
            {
                case FeatureRecord exact when exact.Ticket == ticket:
                    return exact;
                case UnreadableFeature bad:
                    throw bad.ToException();
            }
        }
        var (records, unreadable) = Scan();
        var found = records.FirstOrDefault(
            r => r.Ticket.Equals(ticket, StringComparison.OrdinalIgnoreCase));
        if (found is null
            && unreadable.FirstOrDefault(
                u => u.Ticket.Equals(ticket, StringComparison.OrdinalIgnoreCase)) is { } broken)
        {
            throw broken.ToException();
        }
        return found;
    }

    /// <summary>The unreadable record file of this ticket (ignoring case), or null.</summary>
    public UnreadableFeature? FindUnreadable(string ticket) =>
        Scan().Unreadable.FirstOrDefault(
            u => u.Ticket.Equals(ticket, StringComparison.OrdinalIgnoreCase));

    /// <summary>The unreadable record a listed feature stands for, or null.</summary>
    public static UnreadableFeature? UnreadableOf(Feature feature) => feature.Unreadable;

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

    private static object? TryRead(string file)
    {
        try
        {
            var record = JsonSerializer.Deserialize<FeatureRecord>(File.ReadAllText(file), Options);
            if (record is { Ticket.Length: > 0, Branch: not null, Path: not null })
            {
                return record;
            }
            return new UnreadableFeature(TicketOf(file), file, "it holds no feature");
        }
        catch (JsonException ex)
        {
            return new UnreadableFeature(TicketOf(file), file, ex.Message);
        }
        catch (IOException ex)
        {
            return new UnreadableFeature(TicketOf(file), file, ex.Message);
        }
    }

    private static string TicketOf(string file) => Path.GetFileNameWithoutExtension(file);
}

/// <summary>A feature record file that cannot be read, kept as it is for the user to fix.</summary>
/// <param name="Ticket">The ticket, from the file's name.</param>
/// <param name="File">The file's full path.</param>
/// <param name="Problem">What is wrong with it.</param>
public sealed record UnreadableFeature(string Ticket, string File, string Problem)
{
    /// <summary>A command that sets the file aside, so the ticket can be made again.</summary>
    public string RepairCommand => $"Move-Item -LiteralPath '{File}' -Destination '{File}.bad'";

    /// <summary>What is wrong and what to do, in full sentences.</summary>
    public string Reason =>
        $"The feature record '{File}' cannot be read: {Sentences.Inner(Problem)}. The module "
        + "never changes it: fix the JSON by hand, or set it aside "
        + $"({RepairCommand}) to forget the feature and keep its worktree and branch.";

    /// <summary>The error for a command that acts on this ticket.</summary>
    public WorktreeToolsException ToException() =>
        new("FeatureStateUnreadable", FailureKind.InvalidData, $"'{Ticket}': {Reason}", File);
}
