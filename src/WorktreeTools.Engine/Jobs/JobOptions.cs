using WorktreeTools.Engine.Features;

namespace WorktreeTools.Engine.Jobs;

/// <summary>How a job's output reaches the user besides its log file.</summary>
public enum JobOutputMode
{
    /// <summary>Only the log file.</summary>
    None,

    /// <summary>Each job's whole output as one block when it ends.</summary>
    Block,

    /// <summary>Each line as it arrives, prefixed with the ticket.</summary>
    Lines,
}

/// <summary>One job to run in one feature: the job's name and its command line.</summary>
/// <param name="Feature">The feature whose worktree the job runs in.</param>
/// <param name="Job">The job's name, as the joblog and the last-run history record it.</param>
/// <param name="Command">The command line, run by <c>sh -c</c>.</param>
/// <param name="Tag">What the caller wants back with the result, such as a queue entry id.</param>
public sealed record JobWork(FeatureRecord Feature, string Job, string Command, object? Tag = null)
{
    /// <summary>The name recorded for an ad-hoc command line.</summary>
    public const string AdHocJob = "command";
}

/// <summary>The limits under which a runner runs jobs.</summary>
public sealed record JobOptions
{
    /// <summary>How many jobs may run at once.</summary>
    public int ThrottleLimit { get; init; } = 1;

    /// <summary>How long one attempt may run, or null for no limit.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>How many times a failed job is run again.</summary>
    public int Retries { get; init; }

    /// <summary>Start nothing new after the first failure.</summary>
    public bool FailFast { get; init; }

    /// <summary>Start no job while less memory than this is available, in bytes.</summary>
    public long MinFreeMemory { get; init; }

    /// <summary>
    /// Start no job while the one-minute load average, less this runner's running jobs, is
    /// above this; 0 for no limit.
    /// </summary>
    public double MaxLoad { get; init; }

    /// <summary>
    /// Where the one-minute load average comes from: /proc/loadavg unless a test gives its own.
    /// </summary>
    public Func<double?> LoadAverage { get; init; } = JobRunner.LoadAverage;

    /// <summary>Skip a feature whose last run succeeded on the same commit, clean.</summary>
    public bool SkipUnchanged { get; init; }

    /// <summary>Where output goes besides the log.</summary>
    public JobOutputMode Output { get; init; }

    /// <summary>The size at which a log is cut; the process is still drained.</summary>
    public long LogLimit { get; init; } = 100L * 1024 * 1024;

    /// <summary>How long a stopped job gets to end before it is killed.</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromSeconds(5);
}
