using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Reports each feature's changes, divergence, session and failure.</summary>
[Cmdlet(VerbsCommon.Get, "FeatureStatus", DefaultParameterSetName = ParameterSets.ByTicket)]
[OutputType(typeof(FeatureStatus))]
public sealed class GetFeatureStatusCommand : WorktreeToolsCmdlet
{
    /// <summary>Tickets to report; wildcards allowed.</summary>
    [Parameter(
        Position = 0,
        ValueFromPipelineByPropertyName = true,
        ParameterSetName = ParameterSets.ByTicket)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    /// <summary>Features from Get-Feature.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ParameterSets.ByObject)]
    public Feature[]? InputObject { get; set; }

    private readonly List<Feature> selected = [];
    private List<Feature>? known;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            // Features are gathered here and read together at the end, in parallel.
            if (ParameterSetName == ParameterSets.ByObject)
            {
                selected.AddRange(InputObject!);
                return;
            }
            known ??= new FeatureReader(Workspace).List(all: true)
                .Where(f => f.IsManaged || Ticket is { Length: > 0 })
                .ToList();
            selected.AddRange(SelectFeatures(known, Ticket));
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        if (selected.Count == 0)
        {
            return;
        }
        try
        {
            var statuses = new FeatureReader(Workspace).Status(selected);
            WriteObject(statuses, enumerateCollection: true);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }
}
