using System.Text.Json;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Remote;

/// <summary>
/// Reads the pull requests of a repository with the GitHub command line (<c>gh</c>), in one
/// call, and finds each branch's among them.
/// </summary>
public sealed class PullRequestReader
{
    /// <summary>How long the one call to gh may take before it is stopped.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    // The most recent pull requests that the one call lists; a branch not among them when
    // the list is full is asked for on its own.
    internal const int ListLimit = 300;

    // What gh exits with when it has no credentials.
    private const int AuthenticationRequired = 4;

    private const string Fields =
        "number,title,url,state,isDraft,headRefName,isCrossRepository,reviewDecision,"
        + "statusCheckRollup";

    private readonly Dictionary<string, PullRequest> byBranch;
    private readonly PullRequest? unknown;

    private PullRequestReader(
        Dictionary<string, PullRequest> byBranch,
        PullRequest? unknown,
        int count = 0)
    {
        this.byBranch = byBranch;
        this.unknown = unknown;
        Count = count;
    }

    /// <summary>How many pull requests gh listed, forks' too.</summary>
    public int Count { get; }

    /// <summary>
    /// Asks gh, run in <paramref name="directory"/>, for the repository's pull requests, in
    /// one call; when that list is full, it asks once more for each of
    /// <paramref name="branches"/> not in it, by name. Never throws: when gh is missing, not
    /// logged in, slow or fails, every branch is Unknown with the reason.
    /// </summary>
    public static PullRequestReader Read(
        string directory,
        IEnumerable<string> branches,
        CancellationToken cancellation)
    {
        if (!CommandRunner.IsOnPath("gh"))
        {
            return Failed("the GitHub CLI (gh) is not installed; install it and run "
                + "'gh auth login' to see pull requests, or use -NoRemote");
        }

        // One deadline for all the calls together.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(Patience);
        var (listing, failure) = Ask(directory, [], deadline.Token, cancellation);
        if (failure is not null)
        {
            return Failed(failure);
        }
        if (listing!.Count < ListLimit)
        {
            return listing;
        }

        // The list holds only the newest pull requests: an older feature's is asked for.
        foreach (var branch in branches.Distinct().Where(b => !listing.byBranch.ContainsKey(b)))
        {
            var (own, ownFailure) = Ask(
                directory, [$"--head={branch}"], deadline.Token, cancellation);
            listing.byBranch[branch] = ownFailure is null
                ? own!.For(branch)
                : new PullRequest(PullRequestState.Unknown, ownFailure);
        }
        return listing;
    }

    /// <summary>Runs one <c>gh pr list</c>, and reads its list or says why it has none.</summary>
    private static (PullRequestReader? Reader, string? Failure) Ask(
        string directory,
        string[] filter,
        CancellationToken deadline,
        CancellationToken cancellation)
    {
        CommandOutcome outcome;
        try
        {
            outcome = CommandRunner.Run(
                "gh",
                [
                    "pr", "list", "--state", "all", "--limit", $"{ListLimit}", .. filter,
                    "--json", Fields,
                ],
                directory,
                new Dictionary<string, string?>
                {
                    ["GH_PROMPT_DISABLED"] = "1",
                    ["NO_COLOR"] = "1",
                },
                deadline);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return (null, $"gh did not answer within {Patience.TotalSeconds:0} s");
        }
        catch (WorktreeToolsException ex)
        {
            return (null, ex.Message);
        }

        if (outcome.ExitCode == AuthenticationRequired)
        {
            return (null, "gh is not logged in; run 'gh auth login'");
        }
        if (!outcome.Succeeded)
        {
            return (null, $"gh failed: {outcome.Reason}");
        }
        try
        {
            return (FromJson(outcome.StandardOutput), null);
        }
        catch (JsonException ex)
        {
            return (null, $"gh printed no list of pull requests: {ex.Message}");
        }
    }

    /// <summary>A reader that answers Unknown, with the reason, for every branch.</summary>
    public static PullRequestReader Failed(string reason) =>
        new([], new PullRequest(PullRequestState.Unknown, reason));

    /// <summary>Reads the JSON list that <c>gh pr list --json</c> prints.</summary>
    public static PullRequestReader FromJson(string json)
    {
        var found = new Dictionary<string, (PullRequest Pr, int Rank)>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("the JSON is not a list");
        }
        var count = 0;
        foreach (var item in document.RootElement.EnumerateArray()
            .Where(i => i.ValueKind == JsonValueKind.Object))
        {
            count++;
            // A fork's branch may share a name with ours; it is not this feature's.
            if (Bool(item, "isCrossRepository") || Text(item, "headRefName") is not { } branch)
            {
                continue;
            }
            var pr = Parse(item);

            // An open pull request wins; otherwise the newest (the highest number).
            var rank = (pr.State == PullRequestState.Open ? 1 << 30 : 0) + (pr.Number ?? 0);
            if (!found.TryGetValue(branch, out var held) || rank > held.Rank)
            {
                found[branch] = (pr, rank);
            }
        }
        return new(
            found.ToDictionary(p => p.Key, p => p.Value.Pr, StringComparer.Ordinal), null, count);
    }

    /// <summary>The pull request of <paramref name="branch"/>: its own, by name.</summary>
    public PullRequest For(string? branch)
    {
        if (unknown is not null)
        {
            return unknown;
        }
        if (branch is null)
        {
            return new PullRequest(PullRequestState.Unknown, "the feature has no branch");
        }
        return byBranch.TryGetValue(branch, out var pr)
            ? pr
            : new PullRequest(PullRequestState.None);
    }

    private static PullRequest Parse(JsonElement item)
    {
        var state = Text(item, "state") switch
        {
            "OPEN" => PullRequestState.Open,
            "CLOSED" => PullRequestState.Closed,
            "MERGED" => PullRequestState.Merged,
            _ => PullRequestState.Unknown,
        };
        int passed = 0, failed = 0, pending = 0;
        if (item.TryGetProperty("statusCheckRollup", out var checks)
            && checks.ValueKind == JsonValueKind.Array)
        {
            foreach (var check in checks.EnumerateArray()
                .Where(c => c.ValueKind == JsonValueKind.Object))
            {
                switch (Classify(check))
                {
                    case CheckOutcome.Passed: passed++; break;
                    case CheckOutcome.Failed: failed++; break;
                    default: pending++; break;
                }
            }
        }
        var reason = state == PullRequestState.Unknown
            ? $"gh reported the state '{Text(item, "state")}', which this does not know"
            : null;
        return new PullRequest(state, reason)
        {
            Number = item.TryGetProperty("number", out var n)
                && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out var number)
                ? number : null,
            Title = Text(item, "title"),
            Url = Text(item, "url"),
            IsDraft = Bool(item, "isDraft"),
            Review = Text(item, "reviewDecision") switch
            {
                "APPROVED" => "Approved",
                "CHANGES_REQUESTED" => "ChangesRequested",
                "REVIEW_REQUIRED" => "ReviewRequired",
                _ => null,
            },
            ChecksPassed = passed,
            ChecksFailed = failed,
            ChecksPending = pending,
        };
    }

    private enum CheckOutcome
    {
        Passed,
        Failed,
        Pending,
    }

    /// <summary>
    /// A check run (status and conclusion) or a commit status (state), as one outcome.
    /// </summary>
    private static CheckOutcome Classify(JsonElement check)
    {
        var conclusion = Text(check, "conclusion");
        var state = Text(check, "state");
        if (Text(check, "status") is { } status && status != "COMPLETED")
        {
            return CheckOutcome.Pending;
        }
        return (conclusion ?? state) switch
        {
            "SUCCESS" or "NEUTRAL" or "SKIPPED" => CheckOutcome.Passed,
            "FAILURE" or "ERROR" or "TIMED_OUT" or "CANCELLED" or "ACTION_REQUIRED"
                or "STARTUP_FAILURE" => CheckOutcome.Failed,
            _ => CheckOutcome.Pending,
        };
    }

    // TryGetProperty throws on anything but an object, and gh's output is not ours to trust:
    // a stray number in a list must not sink every other field of Get-FeatureStatus.
    private static string? Text(JsonElement item, string name) =>
        item.ValueKind == JsonValueKind.Object
            && item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            && value.GetString() is { Length: > 0 } text
            ? text
            : null;

    private static bool Bool(JsonElement item, string name) =>
        item.ValueKind == JsonValueKind.Object
            && item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
