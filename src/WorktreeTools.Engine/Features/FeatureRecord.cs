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
    bool BranchCreated)
{
    /// <summary>The first port of the feature's leased block, or null without one.</summary>
    public int? Port { get; init; }

    /// <summary>How many ports the block holds.</summary>
    public int PortCount { get; init; }

    /// <summary>Every port of the block, first to last.</summary>
    public IReadOnlyList<int> Ports =>
        Port is { } first ? Enumerable.Range(first, PortCount).ToArray() : [];
}
