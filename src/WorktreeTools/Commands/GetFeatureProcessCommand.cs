using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Lists every process that belongs to features: their windows, agents and jobs.</summary>
[Cmdlet(VerbsCommon.Get, "FeatureProcess")]
[OutputType(typeof(FeatureProcess))]
public sealed class GetFeatureProcessCommand : WorktreeToolsCmdlet
{
    /// <summary>Tickets whose processes to list; wildcards allowed. All when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    private readonly HashSet<string> selected = new(StringComparer.Ordinal);
    private List<Feature>? known;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            known ??= new FeatureReader(Workspace).List();
            foreach (var feature in SelectFeatures(known, Ticket))
            {
                selected.Add(feature.Ticket!);
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        try
        {
            // One scan of /proc serves every feature.
            var records = Workspace.Store.LoadAll().Where(r => selected.Contains(r.Ticket));
            WriteObject(
                new FeatureProcessReader(Workspace).List(records),
                enumerateCollection: true);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }
}
