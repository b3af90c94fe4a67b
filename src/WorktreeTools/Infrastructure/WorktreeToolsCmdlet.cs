using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Git;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Tmux;

namespace WorktreeTools.Infrastructure;

/// <summary>
/// The base of every cmdlet: finds the workspace of the current location, owns the one
/// cancellation source that Ctrl+C triggers, and turns engine failures into error records.
/// </summary>
public abstract class WorktreeToolsCmdlet : PSCmdlet, IDisposable, IFeatureLog
{
    private readonly CancellationTokenSource cancellation = new();
    private Workspace? workspace;

    /// <summary>Cancelled when the pipeline is stopped.</summary>
    protected CancellationToken Cancellation => cancellation.Token;

    /// <summary>The workspace of the current location, found once per invocation.</summary>
    protected Workspace Workspace => workspace ??= OpenWorkspace(CurrentDirectory);

    /// <summary>The current file-system location (the process's own may differ).</summary>
    protected string CurrentDirectory =>
        SessionState.Path.CurrentFileSystemLocation.ProviderPath;

    /// <summary>The prompt templates that come with the module, beside its dll.</summary>
    private static string ShippedTemplates { get; } = Path.Combine(
        Path.GetDirectoryName(typeof(WorktreeToolsCmdlet).Assembly.Location) ?? ".", "templates");

    /// <summary>
    /// The stored feature for a ticket, or an error record (<c>FeatureNotFound</c>) written.
    /// </summary>
    protected FeatureRecord? FindFeature(string ticket)
    {
        FeatureRecord? record;
        try
        {
            record = Workspace.Store.Find(ticket);
        }
        catch (WorktreeToolsException unreadable)
        {
            WriteFailure(unreadable);
            return null;
        }
        if (record is null)
        {
            WriteFeatureNotFound(ticket);
        }
        return record;
    }

    /// <summary>
    /// Writes <c>FeatureNotFound</c> for a ticket, or <c>FeatureStateUnreadable</c> when the
    /// ticket has a record that cannot be read.
    /// </summary>
    protected void WriteFeatureNotFound(string ticket)
    {
        if (Workspace.Store.FindUnreadable(ticket) is { } unreadable)
        {
            WriteFailure(unreadable.ToException());
            return;
        }
        WriteError(Errors.Create(
            "FeatureNotFound",
            ErrorCategory.ObjectNotFound,
            $"No feature has the ticket '{ticket}'. Run Get-Feature to see the features.",
            ticket));
    }

    /// <summary>
    /// Writes <c>FeatureStateUnreadable</c> and returns true for a listed feature whose record
    /// cannot be read, which no command can act on.
    /// </summary>
    protected bool RejectUnreadable(Feature feature)
    {
        if (FeatureStore.UnreadableOf(feature) is not { } unreadable)
        {
            return false;
        }
        WriteFailure(unreadable.ToException());
        return true;
    }

    /// <summary>Opens the workspace of the repository that holds a folder.</summary>
    internal static Workspace OpenWorkspace(string directory)
    {
        var repository = RepositoryLocation.Find(directory);
        var config = ConfigFile.Load(repository.MainWorktree);
        return new Workspace(repository, config, TmuxServer.FromEnvironment(), ShippedTemplates);
    }

    /// <inheritdoc />
    protected override void StopProcessing() => cancellation.Cancel();

    /// <summary>
    /// Adds the admission limits to job options: the configuration's <c>Admission</c>,
    /// unless the command was given its own (-MinFreeMemoryMB, -MaxLoad; 0 turns one off).
    /// </summary>
    protected JobOptions WithAdmission(JobOptions options, int minFreeMemoryMB, double maxLoad)
    {
        var limits = Workspace.Config.Admission;
        var bound = MyInvocation.BoundParameters;
        var floor = bound.ContainsKey("MinFreeMemoryMB") ? minFreeMemoryMB : limits.MinFreeMemoryMB;
        if (floor > 0 && JobRunner.TotalMemory() is { } total && floor * 1024L * 1024L >= total)
        {
            throw new WorktreeToolsException(
                "MemoryFloorTooHigh",
                FailureKind.InvalidArgument,
                $"A memory floor of {floor} MB is at least all the memory of this machine "
                + $"({total / 1048576} MB), so no job could ever start. Ask for less, with "
                + "-MinFreeMemoryMB or Admission.MinFreeMemoryMB in the configuration.",
                floor);
        }
        return options with
        {
            MinFreeMemory = floor * 1024L * 1024L,
            MaxLoad = bound.ContainsKey("MaxLoad") ? maxLoad : limits.MaxLoad,
        };
    }

    /// <summary>Writes a non-terminating error for an engine failure.</summary>
    protected void WriteFailure(WorktreeToolsException failure) => WriteError(Errors.From(failure));

    /// <summary>Stops the command with an engine failure.</summary>
    protected void ThrowFailure(WorktreeToolsException failure) =>
        ThrowTerminatingError(Errors.From(failure));

    /// <summary>How many literal tickets given to SelectFeatures matched no feature.</summary>
    protected int UnmatchedTickets { get; private set; }

    /// <summary>
    /// The features whose tickets match the patterns (all when none are given). A literal
    /// ticket that matches nothing writes a <c>FeatureNotFound</c> error, unless
    /// <paramref name="quiet"/> (for a selection made again, whose errors were written once).
    /// </summary>
    protected List<Feature> SelectFeatures(
        IReadOnlyList<Feature> features,
        string[]? patterns,
        bool quiet = false)
    {
        if (patterns is null || patterns.Length == 0)
        {
            return [.. features];
        }
        var selected = new List<Feature>();
        foreach (var pattern in patterns)
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            List<Feature> matches;
            try
            {
                matches = features
                    .Where(f => wildcard.IsMatch(f.Ticket ?? Path.GetFileName(f.Path)))
                    .ToList();
            }
            catch (WildcardPatternException) when (quiet)
            {
                continue;
            }
            catch (WildcardPatternException)
            {
                // The pattern is parsed on its first match; bad, it would otherwise end the
                // whole command with PowerShell's bare "pattern is not valid".
                WriteError(Errors.Create(
                    "InvalidTicketPattern",
                    ErrorCategory.InvalidArgument,
                    $"'{pattern}' is not a valid ticket pattern: a '[' opens a set of "
                    + "characters that ']' must close. Give a ticket such as 'ABC-123', or a "
                    + "pattern such as 'ABC-*' or 'ABC-1[0-9]'.",
                    pattern));
                continue;
            }
            if (matches.Count == 0 && !quiet
                && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                UnmatchedTickets++;
                WriteFeatureNotFound(pattern);
            }
            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }
        return selected;
    }

    /// <inheritdoc />
    void IFeatureLog.Verbose(string message) => WriteVerbose(message);

    /// <inheritdoc />
    void IFeatureLog.Warning(string message) => WriteWarning(message);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Releases what the invocation holds; PowerShell calls it even after Ctrl+C.
    /// </summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            cancellation.Dispose();
        }
    }
}
