namespace WorktreeTools.Engine.Jobs;

/// <summary>Something a running invocation reports to the thread that writes output.</summary>
public abstract record JobEvent;

/// <summary>A job attempt started, in a process group of its own.</summary>
public sealed record JobStarted(
    string Ticket,
    int Attempt,
    int ProcessGroup,
    JobWork Work) : JobEvent;

/// <summary>A line of a job's output (only with <see cref="JobOutputMode.Lines"/>).</summary>
public sealed record JobOutputLine(string Ticket, string Line) : JobEvent;

/// <summary>
/// A job's lane is free: its job ended (or never started), and a <see cref="JobFinished"/> follows
/// once its joblog row and last run are written.
/// </summary>
public sealed record JobEnded(JobWork Work) : JobEvent;

/// <summary>A job ended; <paramref name="Output"/> holds its output in block mode.</summary>
public sealed record JobFinished(FeatureJobResult Result, string? Output, JobWork Work) : JobEvent;

/// <summary>Jobs wait before starting, for the reason given.</summary>
public sealed record JobsWaiting(string Reason) : JobEvent;

/// <summary>A snapshot of an invocation's progress.</summary>
public sealed record JobProgress(
    int Done,
    int Running,
    int Queued,
    IReadOnlyList<string> RunningTickets,
    TimeSpan? Remaining,
    string? Waiting);
