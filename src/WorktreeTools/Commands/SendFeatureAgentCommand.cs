using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Agents;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Types text into a feature's agent literally, then presses Enter.</summary>
[Cmdlet(
    VerbsCommunications.Send,
    "FeatureAgent",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Low)]
public sealed class SendFeatureAgentCommand : WorktreeToolsCmdlet
{
    /// <summary>The feature whose agent gets the text.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string Ticket { get; set; } = string.Empty;

    /// <summary>The text; it may span lines and hold any characters.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    [AllowEmptyString]
    public string Text { get; set; } = string.Empty;

    /// <summary>The agent's role; <c>feature</c> (the ai window) by default.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(RoleCompleter))]
    public string Role { get; set; } = AgentService.FeatureRole;

    /// <summary>
    /// The agent's window, such as <c>ai-review-2</c>; by default the role's first one.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Window { get; set; }

    private string TargetWindow => Window ?? AgentService.WindowOf(Role);

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            if (FindFeature(Ticket) is { } feature
                && ShouldProcess($"{feature.Ticket} ({TargetWindow})", "Send text"))
            {
                new AgentService(Workspace, this).Send(feature, TargetWindow, Text);
            }
        }
        catch (WorktreeToolsException failure)
        {
            WriteFailure(failure);
        }
    }
}
