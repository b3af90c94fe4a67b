namespace WorktreeTools.Engine.Features;

/// <summary>What the module stores about a feature it made.</summary>
public sealed record FeatureRecord(
    string Ticket,
    string? Description,
    string Branch,
    string Path,
    string Base,
    string Session,
    DateTimeOffset Created,
    bool BranchCreated);
