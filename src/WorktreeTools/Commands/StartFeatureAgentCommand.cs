using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Agents;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>
/// Starts a fresh AI agent on a role's prompt in its own window of a feature's session.
/// </summary>
[Cmdlet(
    VerbsLifecycle.Start,
    "FeatureAgent",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(FeatureAgent))]
public sealed class StartFeatureAgentCommand : WorktreeToolsCmdlet
{
    /// <summary>
    /// The role, whose prompt template the agent gets: review, tests, docs, security...
    /// </summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(RoleCompleter))]
    public string Role { get; set; } = string.Empty;

    /// <summary>The features to start it in.</summary>
    [Parameter(
        Mandatory = true,
        Position = 1,
        ValueFromPipeline = true,
        ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[] Ticket { get; set; } = [];

    /// <summary>Opens another window even when one for the role exists.</summary>
    [Parameter]
    public SwitchParameter New { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        foreach (var ticket in Ticket)
        {
            try
            {
                if (FindFeature(ticket) is not { } feature
                    || !ShouldProcess(
                        $"{feature.Ticket} ({AgentService.WindowOf(Role)})",
                        $"Start {Role} agent"))
                {
                    continue;
                }
                WriteObject(new AgentService(Workspace, this).Start(feature, Role, New));
            }
            catch (WorktreeToolsException failure)
            {
                WriteFailure(failure);
            }
        }
    }
}
