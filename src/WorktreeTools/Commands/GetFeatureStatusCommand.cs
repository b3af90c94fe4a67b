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
        ValueFromPipeline = true,
        ValueFromPipelineByPropertyName = true,
        ParameterSetName = ParameterSets.ByTicket)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TicketCompleter))]
    public string[]? Ticket { get; set; }

    /// <summary>Features from Get-Feature.</summary>
    [Parameter(
        Mandatory = true,
        ValueFromPipeline = true,
        ParameterSetName = ParameterSets.ByObject)]
    public Feature[]? InputObject { get; set; }

    /// <summary>Redraws the table in place every interval until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Watch { get; set; }

    /// <summary>Seconds between redraws with -Watch.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int Interval { get; set; } = 2;

    /// <summary>Skips the pull requests, which take a call to GitHub.</summary>
    [Parameter]
    public SwitchParameter NoRemote { get; set; }

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
            known ??= Listed(new FeatureReader(Workspace));
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
        if (Watch)
        {
            WatchStatus();
            return;
        }
        if (selected.Count == 0)
        {
            return;
        }
        try
        {
            var statuses = new FeatureReader(Workspace)
                .Status(selected, pullRequests: !NoRemote, Cancellation);
            WriteObject(statuses, enumerateCollection: true);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <summary>
    /// The features to select from: the module's own, and any other worktree when tickets
    /// are given (they may name one).
    /// </summary>
    private List<Feature> Listed(FeatureReader reader) =>
        reader.List(all: true).Where(f => f.IsManaged || Ticket is { Length: > 0 }).ToList();

    /// <summary>True when the host has a console with a size to draw on.</summary>
    private bool HasConsole()
    {
        try
        {
            return Host.UI?.RawUI is { } raw && raw.WindowSize.Width > 0;
        }
        catch (Exception ex) when (ex is NotImplementedException or NotSupportedException
            or System.Management.Automation.Host.HostException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Draws the status table, waits, and draws it again over the old one, until stopped. The
    /// features are listed anew each time, so new and removed ones show.
    /// </summary>
    private void WatchStatus()
    {
        if (!HasConsole())
        {
            ThrowTerminatingError(Errors.Create(
                "WatchNeedsConsole",
                ErrorCategory.InvalidOperation,
                "-Watch draws the table on a console, and this PowerShell host has none. Run "
                + "Get-FeatureStatus without -Watch here, or with -Watch in a terminal.",
                null));
        }
        var draw = InvokeCommand.NewScriptBlock(
            "param($rows) $rows | Format-Table | Out-String "
            + "-Width $Host.UI.RawUI.WindowSize.Width");
        while (!Cancellation.IsCancellationRequested)
        {
            try
            {
                var reader = new FeatureReader(Workspace);
                // Listed as without -Watch; a ticket that matches nothing was said so once.
                var features = ParameterSetName == ParameterSets.ByObject
                    ? selected
                    : SelectFeatures(Listed(reader), Ticket, quiet: true);
                var table = draw.Invoke(
                    reader.Status(features, pullRequests: !NoRemote, Cancellation));
                var text = string.Concat(table.Select(t => t.ToString()));

                // Home the cursor and clear the screen, then draw: the table replaces itself.
                Host.UI.Write($"\u001b[H\u001b[2J{DateTime.Now:HH:mm:ss}  Get-FeatureStatus -Watch "
                    + $"(every {Interval} s, Ctrl+C ends){Environment.NewLine}{text}");
            }
            catch (WorktreeToolsException failure)
            {
                ThrowFailure(failure);
            }
            Cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(Interval));
        }
    }
}
