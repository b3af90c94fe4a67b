using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>
/// Stops a feature's processes and session; optionally removes worktree and branch.
/// </summary>
/// <remarks>
/// The default set is the piped object's: with the ticket's set first, PowerShell binds a
/// piped worktree that has no ticket (Get-Feature -All) to -Ticket as null and fails there.
/// </remarks>
[Cmdlet(
    VerbsLifecycle.Stop,
    "Feature",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = ParameterSets.ByObject)]
[OutputType(typeof(Feature))]
public sealed class StopFeatureCommand : WorktreeToolsCmdlet
{
    /// <summary>Tickets to stop; wildcards allowed.</summary>
    [Parameter(
        Mandatory = true,
        Position = 0,
        ValueFromPipeline = true,
        ValueFromPipelineByPropertyName = true,
        ParameterSetName = ParameterSets.ByTicket)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[] Ticket { get; set; } = [];

    /// <summary>Features from Get-Feature.</summary>
    [Parameter(
        Mandatory = true,
        ValueFromPipeline = true,
        ParameterSetName = ParameterSets.ByObject)]
    public Feature[]? InputObject { get; set; }

    /// <summary>Also removes the worktree.</summary>
    [Parameter]
    public SwitchParameter Remove { get; set; }

    /// <summary>Also deletes the feature's branch when its commits are safe elsewhere.</summary>
    [Parameter]
    public SwitchParameter DeleteBranch { get; set; }

    /// <summary>Removes the worktree even when it holds work that would be lost.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Emits the stopped features.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private List<Feature>? known;

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        if (DeleteBranch && !Remove)
        {
            ThrowTerminatingError(Errors.Create(
                "DeleteBranchWithoutRemove",
                ErrorCategory.InvalidArgument,
                "-DeleteBranch needs -Remove: a branch checked out in a worktree cannot be "
                + "deleted. Add -Remove.",
                null));
        }
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        List<Feature> features;
        try
        {
            if (ParameterSetName == ParameterSets.ByObject)
            {
                features = [.. InputObject!];
            }
            else
            {
                known ??= new FeatureReader(Workspace).List();
                features = SelectFeatures(known, Ticket);
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
            return;
        }

        var options = new StopFeatureOptions(Remove, DeleteBranch, Force);
        var stopper = new FeatureStopper(Workspace, this);
        foreach (var feature in features)
        {
            try
            {
                // Refusals come before the confirmation prompt, so nothing is asked in vain.
                stopper.CheckRemoval(feature, options);
                if (!ShouldProcess($"{feature.Ticket} ({feature.Path})", ActionOf(options)))
                {
                    continue;
                }
                var result = stopper.Stop(feature, options, Cancellation);
                if (PassThru)
                {
                    WriteObject(result.Feature);
                }
            }
            catch (WorktreeToolsException failure)
            {
                WriteFailure(failure);
            }
        }
    }

    private static string ActionOf(StopFeatureOptions options) => options switch
    {
        { Remove: true, DeleteBranch: true } => "Stop session, remove worktree and delete branch",
        { Remove: true } => "Stop session and remove worktree",
        _ => "Stop session",
    };
}
