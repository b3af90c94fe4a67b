namespace WorktreeTools.Engine.Features;

/// <summary>The environment variables through which a feature's values reach its programs.</summary>
public static class FeatureEnvironment
{
    /// <summary>FEATURE_TICKET, FEATURE_BRANCH, FEATURE_PATH and FEATURE_BASE of a feature.</summary>
    public static IReadOnlyDictionary<string, string> Of(FeatureRecord record) =>
        new Dictionary<string, string>
        {
            ["FEATURE_TICKET"] = record.Ticket,
            ["FEATURE_BRANCH"] = record.Branch,
            ["FEATURE_PATH"] = record.Path,
            ["FEATURE_BASE"] = record.Base,
        };
}
