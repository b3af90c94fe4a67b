namespace WorktreeTools;

/// <summary>Where a queue entry stands.</summary>
public enum QueuedJobState
{
    /// <summary>Waiting for a runner (again, after a failed or interrupted attempt).</summary>
    Queued,

    /// <summary>Claimed by a runner, which runs it now.</summary>
    Running,

    /// <summary>Finished with exit code 0.</summary>
    Succeeded,

    /// <summary>Failed or timed out on its last allowed attempt.</summary>
    Failed,

    /// <summary>Cancelled with Stop-FeatureJob.</summary>
    Cancelled,

    /// <summary>Its runner died or stopped while it ran, and no attempt is left.</summary>
    Interrupted,
}

/// <summary>One entry of the durable job queue: a job to run in one feature, and its end.</summary>
public sealed class QueuedJob
{
    /// <summary>Makes an entry; the queue fills it in from its database.</summary>
    internal QueuedJob(long id, string ticket, string job, string command)
    {
        Id = id;
        Ticket = ticket;
        Job = job;
        Command = command;
    }

    /// <summary>The entry's number, never reused.</summary>
    public long Id { get; }

    /// <summary>The feature's ticket.</summary>
    public string Ticket { get; }

    /// <summary>The job's name in the configuration's Jobs table.</summary>
    public string Job { get; }

    /// <summary>The command line, as the Jobs table had it when the entry was queued.</summary>
    public string Command { get; }

    /// <summary>Where the entry stands.</summary>
    public QueuedJobState State { get; internal set; }

    /// <summary>Entries with a higher priority run first.</summary>
    public int Priority { get; internal set; }

    /// <summary>The entry runs at this time or later.</summary>
    public DateTimeOffset NotBefore { get; internal set; }

    /// <summary>How many times a runner took the entry.</summary>
    public int Attempts { get; internal set; }

    /// <summary>When the entry was queued.</summary>
    public DateTimeOffset Enqueued { get; internal set; }

    /// <summary>When the job of the last attempt started.</summary>
    public DateTimeOffset? Started { get; internal set; }

    /// <summary>When the last attempt ended.</summary>
    public DateTimeOffset? Finished { get; internal set; }

    /// <summary>How long the last attempt ran, once it ended.</summary>
    public TimeSpan? Duration => Finished - Started;

    /// <summary>The exit code of the last attempt, when it ran to its end.</summary>
    public int? ExitCode { get; internal set; }

    /// <summary>Why the entry has its state, in a few words.</summary>
    public string? Reason { get; internal set; }

    /// <summary>The log file of the last attempt.</summary>
    public string? LogPath { get; internal set; }

    /// <summary>The runner of the last attempt, as <c>host:pid</c>.</summary>
    public string? Runner { get; internal set; }

    /// <summary>The process group of the last attempt's job.</summary>
    public int? ProcessGroup { get; internal set; }

    /// <summary>The joblog row of the last attempt.</summary>
    public long? Seq { get; internal set; }

    /// <summary>True when Stop-FeatureJob asked the entry's runner to stop it.</summary>
    public bool CancelRequested { get; internal set; }

    /// <summary>True when the entry will not run again.</summary>
    public bool IsFinished => State is not (QueuedJobState.Queued or QueuedJobState.Running);

    /// <inheritdoc />
    public override string ToString() => $"{Id} {Ticket} {Job}: {State}";
}
