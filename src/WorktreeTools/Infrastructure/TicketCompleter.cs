using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using WorktreeTools.Engine;

namespace WorktreeTools.Infrastructure;

/// <summary>Completes the tickets of the repository at the current location.</summary>
public sealed class TicketCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        List<string> tickets;
        try
        {
            tickets = CompletionContext.OpenWorkspace().Store.LoadAll()
                .Select(r => r.Ticket)
                .ToList();
        }
        catch (WorktreeToolsException)
        {
            yield break;
        }

        var pattern = new WildcardPattern(
            wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        foreach (var ticket in tickets.Where(t => pattern.IsMatch(t)))
        {
            yield return new CompletionResult(
                ticket,
                ticket,
                CompletionResultType.ParameterValue,
                ticket);
        }
    }
}
