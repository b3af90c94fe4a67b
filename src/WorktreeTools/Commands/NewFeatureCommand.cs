using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>
/// Creates a feature (branch, worktree, tmux session), or repairs an existing one.
/// </summary>
[Cmdlet(
    VerbsCommon.New,
    "Feature",
    SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(Feature))]
public sealed class NewFeatureCommand : WorktreeToolsCmdlet
{
    /// <summary>The ticket, such as ABC-123.</summary>
    [Parameter(
        Mandatory = true,
        Position = 0,
        ValueFromPipeline = true,
        ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string Ticket { get; set; } = string.Empty;

    /// <summary>A few words that become the branch name's slug.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    public string? Description { get; set; }

    /// <summary>The ref to branch from, instead of the configured or default base.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Base { get; set; }

    /// <summary>Makes no tmux session.</summary>
    [Parameter]
    public SwitchParameter NoSession { get; set; }

    /// <summary>Starts no AI agent in the session's ai window.</summary>
    [Parameter]
    public SwitchParameter NoAgent { get; set; }

    /// <summary>Attaches to the session afterwards.</summary>
    [Parameter]
    public SwitchParameter Attach { get; set; }

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        // Outside a repository nothing can run: stop here, as the other cmdlets do.
        try
        {
            _ = Workspace;
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
        if (Attach && NoSession)
        {
            ThrowTerminatingError(Errors.Create(
                "AttachWithoutSession",
                ErrorCategory.InvalidArgument,
                "-Attach needs a session, so it cannot be used with -NoSession.",
                null));
        }
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            var request = new NewFeatureRequest(Ticket, Description, Base, NoSession, NoAgent);
            var creator = new FeatureCreator(Workspace, this);
            var plan = creator.Plan(request);
            var action = plan.Existing is null ? "Create feature" : "Repair feature if needed";
            if (!ShouldProcess(plan.Target, action))
            {
                return;
            }

            var feature = creator.Create(plan, request, Cancellation);
            WriteObject(feature);
            if (Attach)
            {
                Workspace.Tmux.Attach(feature.Session!);
            }
        }
        catch (WorktreeToolsException failure)
        {
            WriteFailure(failure);
        }
    }
}
