namespace WorktreeTools.Engine.Features;

/// <summary>
/// The environment variables through which a feature's values reach its programs.
/// </summary>
public static class FeatureEnvironment
{
    /// <summary>
    /// FEATURE_TICKET, FEATURE_BRANCH, FEATURE_PATH and FEATURE_BASE of a feature, and its
    /// ports: FEATURE_PORT (the first) and FEATURE_PORT_1, FEATURE_PORT_2... (the next ones).
    /// </summary>
    public static IReadOnlyDictionary<string, string> Of(FeatureRecord record)
    {
        var variables = new Dictionary<string, string>
        {
            ["FEATURE_TICKET"] = record.Ticket,
            ["FEATURE_BRANCH"] = record.Branch,
            ["FEATURE_PATH"] = record.Path,
            ["FEATURE_BASE"] = record.Base,
        };
        var ports = record.Ports;
        for (var i = 0; i < ports.Count; i++)
        {
            var name = i == 0 ? "FEATURE_PORT" : $"FEATURE_PORT_{i}";
            variables[name] = ports[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return variables;
    }
}
