using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Agents;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Stops one agent (interrupt, terminate, kill) and leaves its window.</summary>
[Cmdlet(
    VerbsLifecycle.Stop,
    "FeatureAgent",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FeatureAgent))]
public sealed class StopFeatureAgentCommand : WorktreeToolsCmdlet
{
    /// <summary>The features whose agent to stop.</summary>
    [Parameter(
        Mandatory = true,
        Position = 0,
        ValueFromPipeline = true,
        ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[] Ticket { get; set; } = [];

    /// <summary>The agent's role; <c>feature</c> (the ai window) by default.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(RoleCompleter))]
    public string Role { get; set; } = AgentService.FeatureRole;

    /// <summary>
    /// The agent's window, such as <c>ai-review-2</c>; by default the role's first one.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Window { get; set; }

    private string TargetWindow => Window ?? AgentService.WindowOf(Role);

    /// <summary>Seconds the agent gets after the interrupt, and again after terminate.</summary>
    [Parameter]
    [ValidateRange(0, 300)]
    public int GracePeriodSec { get; set; } = 3;

    /// <summary>Emits the agent after it stopped.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var agents = new AgentService(Workspace, this);
        foreach (var ticket in Ticket)
        {
            try
            {
                if (FindFeature(ticket) is not { } feature
                    || !ShouldProcess($"{feature.Ticket} ({TargetWindow})", $"Stop {Role} agent"))
                {
                    continue;
                }
                var how = agents.Stop(feature, TargetWindow, TimeSpan.FromSeconds(GracePeriodSec));
                WriteVerbose($"The agent in '{TargetWindow}' of {feature.Ticket}: {how}.");
                if (PassThru)
                {
                    var agent = agents.List([feature])
                        .FirstOrDefault(a => a.Window == TargetWindow);
                    if (agent is not null)
                    {
                        WriteObject(agent);
                    }
                }
            }
            catch (WorktreeToolsException failure)
            {
                WriteFailure(failure);
            }
        }
    }
}
