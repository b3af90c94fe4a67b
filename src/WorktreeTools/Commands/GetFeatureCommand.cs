using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Lists features with the state of their worktree and session.</summary>
[Cmdlet(VerbsCommon.Get, "Feature")]
[OutputType(typeof(Feature))]
public sealed class GetFeatureCommand : WorktreeToolsCmdlet
{
    /// <summary>Tickets to show; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    /// <summary>Also lists worktrees this module did not make.</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    private List<Feature>? features;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            features ??= new FeatureReader(Workspace).List(All);
            WriteObject(SelectFeatures(features, Ticket), enumerateCollection: true);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }
}
