namespace WorktreeTools;

/// <summary>Where a feature's pull request stands.</summary>
public enum PullRequestState
{
    /// <summary>The pull requests could not be read; the Reason says why.</summary>
    Unknown,

    /// <summary>The branch has no pull request.</summary>
    None,

    /// <summary>The pull request is open (or an open draft).</summary>
    Open,

    /// <summary>The pull request was closed without being merged.</summary>
    Closed,

    /// <summary>The pull request was merged.</summary>
    Merged,
}

/// <summary>The pull request of a feature's branch, as the GitHub CLI reports it.</summary>
public sealed class PullRequest
{
    internal PullRequest(PullRequestState state, string? reason = null)
    {
        State = state;
        Reason = reason;
    }

    /// <summary>Open, Closed, Merged, None, or Unknown when it could not be read.</summary>
    public PullRequestState State { get; }

    /// <summary>Why the state is Unknown; null otherwise.</summary>
    public string? Reason { get; }

    /// <summary>The pull request's number.</summary>
    public int? Number { get; internal init; }

    /// <summary>The pull request's title.</summary>
    public string? Title { get; internal init; }

    /// <summary>The pull request's web address.</summary>
    public string? Url { get; internal init; }

    /// <summary>True for a draft.</summary>
    public bool IsDraft { get; internal init; }

    /// <summary>
    /// The review decision: Approved, ChangesRequested, ReviewRequired, or null when no
    /// review is asked for.
    /// </summary>
    public string? Review { get; internal init; }

    /// <summary>Checks of the head commit that succeeded (or were neutral or skipped).</summary>
    public int ChecksPassed { get; internal init; }

    /// <summary>Checks of the head commit that failed, timed out or were cancelled.</summary>
    public int ChecksFailed { get; internal init; }

    /// <summary>Checks of the head commit that have not finished.</summary>
    public int ChecksPending { get; internal init; }

    /// <summary>The checks in one phrase, such as "3 passed, 1 failed"; null for none.</summary>
    public string? Checks
    {
        get
        {
            var parts = new List<string>();
            if (ChecksPassed > 0)
            {
                parts.Add($"{ChecksPassed} passed");
            }
            if (ChecksFailed > 0)
            {
                parts.Add($"{ChecksFailed} failed");
            }
            if (ChecksPending > 0)
            {
                parts.Add($"{ChecksPending} pending");
            }
            return parts.Count == 0 ? null : string.Join(", ", parts);
        }
    }

    /// <inheritdoc />
    public override string ToString()
    {
        if (Number is not { } number)
        {
            return State.ToString();
        }
        var text = $"#{number} {(IsDraft ? "Draft" : State.ToString())}";
        var details = new[] { Review, Checks }.Where(d => d is not null).ToArray();
        return details.Length == 0 ? text : $"{text} ({string.Join("; ", details)})";
    }
}
