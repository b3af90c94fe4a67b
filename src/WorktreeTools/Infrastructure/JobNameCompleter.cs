using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using WorktreeTools.Engine;

namespace WorktreeTools.Infrastructure;

/// <summary>Completes the job names of the configuration at the current location.</summary>
public sealed class JobNameCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        List<string> jobs;
        try
        {
            jobs = [.. CompletionContext.OpenWorkspace().Config.Jobs.Keys.Order()];
        }
        catch (WorktreeToolsException)
        {
            yield break;
        }
        var prefix = wordToComplete.Trim('\'', '"');
        foreach (var job in jobs.Where(
            j => j.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
        {
            yield return new CompletionResult(job, job, CompletionResultType.ParameterValue, job);
        }
    }
}
