using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Agents;

namespace WorktreeTools.Infrastructure;

/// <summary>Completes agent roles: the names of the prompt templates.</summary>
public sealed class RoleCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        List<string> roles;
        try
        {
            roles = new AgentService(CompletionContext.OpenWorkspace()).Roles();
        }
        catch (WorktreeToolsException)
        {
            yield break;
        }
        var prefix = wordToComplete.Trim('\'', '"');
        foreach (var role in roles.Where(
            r => r.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
        {
            yield return new CompletionResult(
                role,
                role,
                CompletionResultType.ParameterValue,
                role);
        }
    }
}
