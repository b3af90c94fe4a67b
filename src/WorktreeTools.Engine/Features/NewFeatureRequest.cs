namespace WorktreeTools.Engine.Features;

/// <summary>What New-Feature was asked for.</summary>
public sealed record NewFeatureRequest(
    string Ticket,
    string? Description = null,
    string? Base = null,
    bool NoSession = false,
    bool NoAgent = false)
{
    /// <summary>The description, trimmed; null when it is blank (only spaces is none).</summary>
    public string? Description { get; init; } =
        string.IsNullOrWhiteSpace(Description) ? null : Description.Trim();
}

/// <summary>A checked request: the names and places a new feature would get.</summary>
public sealed record FeaturePlan(
    string Ticket,
    string? Description,
    string Slug,
    string Branch,
    string Path,
    string Session,
    FeatureRecord? Existing)
{
    /// <summary>A short text for -WhatIf and -Confirm.</summary>
    public string Target => $"{Ticket} ({Path})";
}
