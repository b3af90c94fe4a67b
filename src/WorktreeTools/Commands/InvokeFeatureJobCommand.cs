using System.Diagnostics;
using System.Management.Automation;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Infrastructure;

namespace WorktreeTools.Commands;

/// <summary>Runs a named job or a command line in features' worktrees, a few at a time.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "FeatureJob", DefaultParameterSetName = ParameterSets.ByTicket)]
[OutputType(typeof(FeatureJobResult))]
public sealed class InvokeFeatureJobCommand : WorktreeToolsCmdlet
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

    private readonly Stopwatch sinceProgress = Stopwatch.StartNew();
    private readonly HashSet<string> queued = new(StringComparer.OrdinalIgnoreCase);
    private JobRunner? runner;
    private string jobName = string.Empty;
    private string commandLine = string.Empty;
    private List<Feature>? known;
    private Dictionary<string, FeatureRecord>? records;
    private string activity = string.Empty;
    private bool progressShown;

    /// <summary>The name of a job from the configuration's Jobs table.</summary>
    [Parameter(Position = 0)]
    [ArgumentCompleter(typeof(JobNameCompleter))]
    public string? Job { get; set; }

    /// <summary>A command line to run instead of a named job.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Command { get; set; }

    /// <summary>Tickets of the features to run in; wildcards allowed. All when omitted.</summary>
    [Parameter(
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

    /// <summary>How many jobs run at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; }

    /// <summary>Seconds one attempt may run before it is stopped.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int TimeoutSec { get; set; }

    /// <summary>How many times a failed job runs again.</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int Retries { get; set; }

    /// <summary>Starts nothing new after the first failure.</summary>
    [Parameter]
    public SwitchParameter FailFast { get; set; }

    /// <summary>
    /// Starts no job while less memory than this is free, in megabytes; 0 for no floor.
    /// </summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int MinFreeMemoryMB { get; set; }

    /// <summary>
    /// Starts no job while the load average, less these jobs, is above this; 0 for no limit.
    /// </summary>
    [Parameter]
    [ValidateRange(0.0, 100000.0)]
    public double MaxLoad { get; set; }

    /// <summary>
    /// Skips features whose last run of the job succeeded on the same clean commit.
    /// </summary>
    [Parameter]
    public SwitchParameter SkipUnchanged { get; set; }

    /// <summary>Shows each job's output as one block when it ends.</summary>
    [Parameter]
    public SwitchParameter ShowOutput { get; set; }

    /// <summary>
    /// Shows output line by line as it comes, each line prefixed with its ticket.
    /// </summary>
    [Parameter]
    public SwitchParameter LineBuffered { get; set; }

    /// <inheritdoc />
    protected override void BeginProcessing()
    {
        try
        {
            var options = CreateOptions();
            activity = $"Invoke-FeatureJob {jobName}";
            runner = new JobRunner(Workspace.Repository.StateDirectory, options, Cancellation);
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
    }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            IEnumerable<Feature> features;
            if (ParameterSetName == ParameterSets.ByObject)
            {
                features = InputObject!;
            }
            else
            {
                known ??= new FeatureReader(Workspace).List();
                features = SelectFeatures(known, Ticket);
            }
            foreach (var feature in features)
            {
                Queue(feature);
            }
        }
        catch (WorktreeToolsException failure)
        {
            ThrowFailure(failure);
        }
        Drain(wait: false);
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        runner!.Complete();
        try
        {
            Drain(wait: true);
        }
        finally
        {
            CompleteProgress();
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        // After Ctrl+C or a terminating error EndProcessing does not run: stop every job here.
        if (disposing && runner is not null)
        {
            runner.DisposeAsync().AsTask().GetAwaiter().GetResult();
            runner = null;
        }
        base.Dispose(disposing);
    }

    private JobOptions CreateOptions()
    {
        var config = Workspace.Config;
        if ((Job is null) == (Command is null))
        {
            throw new WorktreeToolsException(
                "JobOrCommandRequired",
                FailureKind.InvalidArgument,
                "Name a job from the configuration (Invoke-FeatureJob test) or pass a command "
                + "line with -Command, not both.",
                Job ?? Command);
        }
        if (LineBuffered && ShowOutput)
        {
            throw new WorktreeToolsException(
                "OutputModeConflict",
                FailureKind.InvalidArgument,
                "-ShowOutput shows each job's output at its end and -LineBuffered as it comes; "
                + "choose one.",
                null);
        }

        if (Job is not null)
        {
            if (!config.Jobs.TryGetValue(Job, out var configured))
            {
                throw new WorktreeToolsException(
                    "JobNotFound",
                    FailureKind.ObjectNotFound,
                    config.MissingJob(Job) + " Or pass a command line with -Command.",
                    Job);
            }
            jobName = config.Jobs.Keys
                .First(k => k.Equals(Job, StringComparison.OrdinalIgnoreCase));
            commandLine = configured;
        }
        else
        {
            jobName = JobWork.AdHocJob;
            commandLine = Command!;
        }

        return WithAdmission(new JobOptions
        {
            ThrottleLimit = ThrottleLimit > 0 ? ThrottleLimit : config.ThrottleLimit,
            Timeout = TimeoutSec > 0 ? TimeSpan.FromSeconds(TimeoutSec) : null,
            Retries = Retries,
            FailFast = FailFast,
            SkipUnchanged = SkipUnchanged,
            Output = LineBuffered ? JobOutputMode.Lines
                : ShowOutput ? JobOutputMode.Block
                : JobOutputMode.None,
            LogLimit = config.LogLimitMB * 1024L * 1024L,
        }, MinFreeMemoryMB, MaxLoad);
    }

    private void Queue(Feature feature)
    {
        if (RejectUnreadable(feature))
        {
            return;
        }
        // The records are read once per invocation: one lookup per feature, not one scan.
        records ??= Workspace.Store.LoadAll()
            .ToDictionary(r => r.Ticket, StringComparer.OrdinalIgnoreCase);
        var record = feature.Ticket is null ? null : records.GetValueOrDefault(feature.Ticket);
        if (record is null)
        {
            WriteError(Errors.Create(
                "NotAFeature",
                ErrorCategory.InvalidArgument,
                $"The worktree '{feature.Path}' was not made by New-Feature, so it has no ticket "
                + "to run jobs for.",
                feature.Path));
            return;
        }
        if (!queued.Add(record.Ticket))
        {
            WriteVerbose($"'{record.Ticket}' is already queued; it runs once.");
            return;
        }
        runner!.Add(new JobWork(record, jobName, commandLine));
    }

    /// <summary>
    /// Writes what the workers reported. This is the only place that writes, and it runs on
    /// the pipeline thread; with <paramref name="wait"/> it returns when every job has ended.
    /// </summary>
    private void Drain(bool wait)
    {
        var events = runner!.Events;
        while (true)
        {
            while (events.TryRead(out var item))
            {
                Write(item);
            }
            if (!wait || events.Completion.IsCompleted)
            {
                break;
            }
            ShowProgress();
            events.WaitToReadAsync().AsTask().Wait(ProgressInterval);
        }
        ShowProgress();
    }

    private void Write(JobEvent item)
    {
        switch (item)
        {
            case JobStarted started:
                WriteVerbose(started.Attempt == 1
                    ? $"Started '{activity}' in {started.Ticket}."
                    : $"Started attempt {started.Attempt} in {started.Ticket}.");
                break;
            case JobOutputLine line:
                Show($"[{line.Ticket}] {line.Line}", line.Ticket);
                break;
            case JobsWaiting waiting:
                WriteVerbose($"Jobs wait: {waiting.Reason}.");
                break;
            case JobFinished finished:
                WriteFinished(finished);
                break;
        }
    }

    private void WriteFinished(JobFinished finished)
    {
        var result = finished.Result;
        if (finished.Output is { } output)
        {
            var header = $"[{result.Ticket}] {result.Job}: {result.Status} ({result.Reason})";
            Show(header + Environment.NewLine + output.TrimEnd(), result.Ticket);
        }
        WriteObject(result);
        if (result.Failed)
        {
            var log = result.LogPath is null ? string.Empty : $" Its log: {result.LogPath}";
            WriteError(Errors.Create(
                "FeatureJobFailed",
                ErrorCategory.NotSpecified,
                $"The job '{result.Job}' "
                + $"{(result.Status == JobStatus.TimedOut ? "timed out" : "failed")} "
                + $"in {result.Ticket}: {result.Reason}.{log}",
                result));
        }
    }

    private void Show(string text, string ticket) =>
        WriteInformation(new HostInformationMessage { Message = text }, ["PSHOST", ticket]);

    private void ShowProgress()
    {
        if (sinceProgress.Elapsed < ProgressInterval && progressShown)
        {
            return;
        }
        sinceProgress.Restart();
        var progress = runner!.Progress();
        var total = progress.Done + progress.Running + progress.Queued;
        if (total == 0)
        {
            return;
        }
        var status = $"{progress.Done} done, {progress.Running} running, {progress.Queued} queued";
        if (progress.Waiting is { } reason)
        {
            status += $"; {reason}";
        }
        var record = new ProgressRecord(1, activity, status)
        {
            PercentComplete = (int)(100.0 * progress.Done / total),
            CurrentOperation = progress.RunningTickets.Count == 0
                ? string.Empty
                : "Running: " + string.Join(", ", progress.RunningTickets),
        };
        if (progress.Remaining is { } remaining)
        {
            record.SecondsRemaining = (int)Math.Ceiling(remaining.TotalSeconds);
        }
        WriteProgress(record);
        progressShown = true;
    }

    private void CompleteProgress()
    {
        if (progressShown)
        {
            WriteProgress(new ProgressRecord(1, activity, "Done")
            {
                RecordType = ProgressRecordType.Completed,
            });
        }
    }
}
