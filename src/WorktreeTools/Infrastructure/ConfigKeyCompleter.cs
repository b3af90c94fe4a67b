using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using WorktreeTools.Engine.Configuration;

namespace WorktreeTools.Infrastructure;

/// <summary>Completes configuration key names.</summary>
public sealed class ConfigKeyCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters) =>
        FeatureConfig.Keys
            .Where(k => k.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            .Select(k => new CompletionResult(k, k, CompletionResultType.ParameterValue, k));
}
