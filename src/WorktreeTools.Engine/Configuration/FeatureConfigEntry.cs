namespace WorktreeTools;

/// <summary>One configuration value and where it came from.</summary>
public sealed record FeatureConfigEntry(string Key, object? Value, string Source);
