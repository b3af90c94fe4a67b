using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Agents;
using WorktreeTools.Engine.Features;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Lists the AI agents of features and what each is doing.</summary>
[Cmdlet(VerbsCommon.Get, "FeatureAgent")]
[OutputType(typeof(FeatureAgent))]
public sealed class GetFeatureAgentCommand : WorktreeToolsCmdlet
{
    /// <summary>Tickets whose agents to show; wildcards allowed. All when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    /// <summary>Roles to show; wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(RoleCompleter))]
    public string[]? Role { get; set; }

    private readonly List<FeatureRecord> selected = [];
    private List<Feature>? known;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            known ??= new FeatureReader(Workspace).List();
            var records = Workspace.Store.LoadAll();
            foreach (var feature in SelectFeatures(known, Ticket))
            {
                if (records.FirstOrDefault(r => r.Ticket == feature.Ticket) is { } record
                    && !selected.Contains(record))
                {
                    selected.Add(record);
                }
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
            // All agents are looked at together, so a second look costs one short wait.
            var roles = Role
                ?.Select(r => new WildcardPattern(r, WildcardOptions.IgnoreCase))
                .ToList();
            foreach (var agent in new AgentService(Workspace).List(selected))
            {
                if (roles is null || roles.Any(r => r.IsMatch(agent.Role)))
                {
                    WriteObject(agent);
                }
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }
}
