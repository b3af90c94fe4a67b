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

    // Limitation: gh lists the most recent pull requests, so a branch whose only pull request
    // is older than this many others shows None.
    private const int ListLimit = 300;

    // What gh exits with when it has no credentials.
    private const int AuthenticationRequired = 4;

    private const string Fields =
        "number,title,url,state,isDraft,headRefName,isCrossRepository,reviewDecision,"
        + "statusCheckRollup";

    private readonly Dictionary<string, PullRequest> byBranch;
    private readonly PullRequest? unknown;

    private PullRequestReader(Dictionary<string, PullRequest> byBranch, PullRequest? unknown)
    {
        this.byBranch = byBranch;
        this.unknown = unknown;
    }

    /// <summary>
    /// Asks gh, run in <paramref name="directory"/>, for the repository's pull requests. Never
    /// throws: when gh is missing, not logged in, slow or fails, every branch is Unknown with
    /// the reason.
    /// </summary>
    public static PullRequestReader Read(string directory, CancellationToken cancellation)
    {
        if (!CommandRunner.IsOnPath("gh"))
        {
            return Failed("the GitHub CLI (gh) is not installed; install it and run "
                + "'gh auth login' to see pull requests, or use -NoRemote");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(Patience);
        CommandOutcome outcome;
        try
        {
            outcome = CommandRunner.Run(
                "gh",
                ["pr", "list", "--state", "all", "--limit", $"{ListLimit}", "--json", Fields],
                directory,
                new Dictionary<string, string?>
                {
                    ["GH_PROMPT_DISABLED"] = "1",
                    ["NO_COLOR"] = "1",
                },
                deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return Failed($"gh did not answer within {Patience.TotalSeconds:0} s");
        }
        catch (WorktreeToolsException ex)
        {
            return Failed(ex.Message);
        }

        if (outcome.ExitCode == AuthenticationRequired)
        {
            return Failed("gh is not logged in; run 'gh auth login'");
        }
        if (!outcome.Succeeded)
        {
            return Failed($"gh failed: {outcome.Reason}");
        }
        try
        {
            return FromJson(outcome.StandardOutput);
        }
        catch (JsonException ex)
        {
            return Failed($"gh printed no list of pull requests: {ex.Message}");
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
        foreach (var item in document.RootElement.EnumerateArray()
            .Where(i => i.ValueKind == JsonValueKind.Object))
        {
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
        return new(found.ToDictionary(p => p.Key, p => p.Value.Pr, StringComparer.Ordinal), null);
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
            var other => throw new JsonException($"unknown pull request state '{other}'"),
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
        return new PullRequest(state)
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
