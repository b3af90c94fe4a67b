using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Configuration;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Shows the effective configuration and where each value came from.</summary>
[Cmdlet(VerbsCommon.Get, "FeatureConfig")]
[OutputType(typeof(FeatureConfigEntry))]
public sealed class GetFeatureConfigCommand : WorktreeToolsCmdlet
{
    /// <summary>Keys to show; wildcards allowed.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ConfigKeyCompleter))]
    public string[]? Key { get; set; }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        try
        {
            var config = Workspace.Config;
            var patterns = (Key is { Length: > 0 } ? Key : ["*"])
                .Select(k => new WildcardPattern(k, WildcardOptions.IgnoreCase))
                .ToList();
            foreach (var key in Key ?? [])
            {
                var pattern = new WildcardPattern(key, WildcardOptions.IgnoreCase);
                if (!WildcardPattern.ContainsWildcardCharacters(key)
                    && !FeatureConfig.Keys.Any(pattern.IsMatch))
                {
                    WriteError(Errors.Create(
                        "ConfigKeyNotFound",
                        ErrorCategory.ObjectNotFound,
                        $"There is no configuration key '{key}'. The keys are: "
                        + $"{string.Join(", ", FeatureConfig.Keys)}.",
                        key));
                }
            }
            foreach (var key in FeatureConfig.Keys.Where(k => patterns.Any(p => p.IsMatch(k))))
            {
                WriteObject(new FeatureConfigEntry(key, config.ValueOf(key), config.SourceOf(key)));
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }
}
