using System.Management.Automation;
using System.Text;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Reports;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Writes the features' status and last jobs as one self-contained HTML page.</summary>
[Cmdlet(
    VerbsData.Export,
    "FeatureReport",
    DefaultParameterSetName = ParameterSets.ByTicket,
    SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportFeatureReportCommand : WorktreeToolsCmdlet
{
    /// <summary>The HTML file to write.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>Tickets to report; wildcards allowed.</summary>
    [Parameter(
        Position = 1,
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

    /// <summary>How many of each feature's last runs the timeline shows.</summary>
    [Parameter]
    [ValidateRange(1, 10000)]
    public int Last { get; set; } = 20;

    /// <summary>Skips the pull requests, which take a call to GitHub.</summary>
    [Parameter]
    public SwitchParameter NoRemote { get; set; }

    /// <summary>Refuses to replace an existing file.</summary>
    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    /// <summary>Returns the file written.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private readonly List<Feature> selected = [];
    private List<Feature>? known;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            if (ParameterSetName == ParameterSets.ByObject)
            {
                selected.AddRange(InputObject!.Where(f => !selected.Contains(f)));
                return;
            }
            known ??= new FeatureReader(Workspace).List();
            selected.AddRange(SelectFeatures(known, Ticket).Where(f => !selected.Contains(f)));
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        var target = SessionState.Path.GetUnresolvedProviderPathFromPSPath(
            Path, out var provider, out _);

        // Another provider's path (Variable:\x, Env:X) comes back as a bare name, which would
        // land as a file in whatever folder the process happens to be in.
        if (provider.ImplementingType != typeof(Microsoft.PowerShell.Commands.FileSystemProvider))
        {
            ThrowTerminatingError(Errors.Create(
                "ReportPathNotFile",
                ErrorCategory.InvalidArgument,
                $"'{Path}' is a path of the {provider.Name} provider, not a file. Give the path "
                + "of an HTML file, such as './report.html'.",
                Path));
        }
        if (UnmatchedTickets > 0)
        {
            // A report that silently leaves out a feature the user named would mislead.
            WriteWarning($"No report was written to '{target}': {UnmatchedTickets} of the "
                + "tickets given match no feature. Correct them and run it again.");
            return;
        }
        if (NoClobber && File.Exists(target))
        {
            ThrowTerminatingError(Errors.Create(
                "ReportFileExists",
                ErrorCategory.ResourceExists,
                $"The file '{target}' exists and -NoClobber keeps it. Choose another path, or "
                + "leave out -NoClobber to replace it.",
                target));
        }
        if (Directory.Exists(target))
        {
            ThrowTerminatingError(Errors.Create(
                "ReportPathIsFolder",
                ErrorCategory.InvalidArgument,
                $"'{target}' is a folder. Give the path of the HTML file to write, such as "
                + $"'{System.IO.Path.Combine(target, "report.html")}'.",
                target));
        }
        if (!ShouldProcess(target, $"Write the report of {selected.Count} features"))
        {
            return;
        }

        try
        {
            var statuses = new FeatureReader(Workspace)
                .Status(selected, pullRequests: !NoRemote, Cancellation);
            var runs = LastRuns(statuses.Select(s => s.Ticket).OfType<string>().ToHashSet());
            var html = FeatureReport.Render(
                statuses,
                runs,
                Workspace.Repository.MainWorktree ?? Workspace.Repository.CommonDirectory,
                DateTimeOffset.Now);
            WriteWhole(target, html);
            if (PassThru)
            {
                WriteObject(new FileInfo(target));
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(Errors.Create(
                "ReportWriteFailed",
                ErrorCategory.WriteError,
                $"Cannot write the report to '{target}': {ex.Message}",
                target));
        }
    }

    /// <summary>The last runs of each ticket, from one pass over the joblog.</summary>
    private List<JobLogEntry> LastRuns(HashSet<string> tickets)
    {
        var path = System.IO.Path.Combine(Workspace.Repository.StateDirectory, "jobs", "joblog");
        var kept = new Dictionary<string, Queue<JobLogEntry>>(StringComparer.Ordinal);
        foreach (var row in new JobLog(path).Read().Where(r => tickets.Contains(r.Ticket)))
        {
            if (!kept.TryGetValue(row.Ticket, out var window))
            {
                kept[row.Ticket] = window = new Queue<JobLogEntry>(Last);
            }
            if (window.Count == Last)
            {
                window.Dequeue();
            }
            window.Enqueue(row);
        }
        return kept.Values.SelectMany(w => w).ToList();
    }

    /// <summary>
    /// Writes the page beside its target and moves it into place, so a failure never leaves
    /// half a page where a whole one was.
    /// </summary>
    private static void WriteWhole(string target, string html)
    {
        var folder = System.IO.Path.GetDirectoryName(target);
        if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException(
                $"The folder '{folder}' does not exist; create it first");
        }
        var temporary = $"{target}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllText(temporary, html, new UTF8Encoding(false));
            File.Move(temporary, target, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The user named the target; the temporary file beside it is ours.
            throw new IOException(ex.Message.Replace(temporary, target), ex);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
