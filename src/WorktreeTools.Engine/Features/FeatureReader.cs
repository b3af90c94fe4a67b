using System.Collections.Concurrent;
using LibGit2Sharp;
using WorktreeTools.Engine.Git;
using WorktreeTools.Engine.Jobs;
using WorktreeTools.Engine.Remote;

namespace WorktreeTools.Engine.Features;

/// <summary>Lists features and reads their status.</summary>
public sealed class FeatureReader
{
    private readonly Workspace workspace;

    /// <summary>Reads the features of a workspace.</summary>
    public FeatureReader(Workspace workspace)
    {
        this.workspace = workspace;
    }

    /// <summary>The worktrees git knows, main first.</summary>
    public List<WorktreeEntry> ListWorktrees()
    {
        var output = GitCli.RunOrThrow(
            workspace.Repository.CommonDirectory,
            "WorktreeListFailed",
            "Listing worktrees",
            "worktree", "list", "--porcelain", "-z");
        return GitCli.ParseWorktreeList(output);
    }

    /// <summary>
    /// The module's features, each with its worktree and session state; with
    /// <paramref name="all"/>, every other worktree of the repository too.
    /// </summary>
    public List<Feature> List(bool all = false)
    {
        var worktrees = ListWorktrees();
        var sessions = workspace.Tmux.ListSessions();
        var features = new List<Feature>();
        var claimed = new HashSet<string>(StringComparer.Ordinal);

        var (records, unreadable) = workspace.Store.Scan();
        foreach (var bad in unreadable)
        {
            // Its worktree, if any, is where New-Feature would have put it.
            var path = Path.Combine(workspace.WorktreeRoot, bad.Ticket);
            var entry = worktrees.FirstOrDefault(w => SamePath(w.Path, path));
            if (entry is not null)
            {
                claimed.Add(entry.Path);
            }
            features.Add(new Feature(bad, path) { Head = entry?.Head });
        }
        foreach (var record in records)
        {
            var entry = worktrees.FirstOrDefault(w => SamePath(w.Path, record.Path));
            if (entry is not null)
            {
                claimed.Add(entry.Path);
            }
            var feature = new Feature(record, record.Path)
            {
                SessionAlive = sessions.Contains(record.Session),
                Head = entry?.Head,
            };
            Diagnose(feature, entry);
            features.Add(feature);
        }
        features.Sort((a, b) => StringComparer.OrdinalIgnoreCase.Compare(a.Ticket, b.Ticket));

        if (all)
        {
            foreach (var entry in worktrees.Where(w => !claimed.Contains(w.Path)))
            {
                var feature = new Feature((FeatureRecord?)null, entry.Path)
                {
                    Branch = entry.Branch,
                    Head = entry.Head,
                    IsMain = entry.IsMain,
                    IsBare = entry.IsBare,
                    IsDetached = entry.IsDetached,
                };
                if (!entry.IsBare)
                {
                    Diagnose(feature, entry);
                }
                features.Add(feature);
            }
        }
        return features;
    }

    /// <summary>
    /// The status of each feature, read in parallel, in the order given. With
    /// <paramref name="pullRequests"/>, the one call to gh runs beside the local reads.
    /// </summary>
    public List<FeatureStatus> Status(
        IReadOnlyList<Feature> features,
        bool pullRequests = false,
        CancellationToken cancellation = default)
    {
        var remote = pullRequests && features.Any(f => f.IsManaged)
            ? Task.Run(() => PullRequestReader.Read(
                MainDirectory(),
                features.Where(f => f.IsManaged).Select(f => f.Branch).OfType<string>(),
                cancellation))
            : null;
        var windows = workspace.Tmux.ListWindows();
        var history = new JobHistory(workspace.Repository.StateDirectory);
        var errorLine = RecentErrors.Combine(workspace.Config.ErrorPatterns);
        var results = new FeatureStatus[features.Count];
        var common = workspace.Repository.CommonDirectory;
        var settings = new Lazy<StatusSettings?>(() => StatusSettings.Read(MainDirectory()));

        // Each worktree is read by its own Repository object, so the reads are independent.
        var options = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
        var failures = new ConcurrentQueue<Exception>();
        Parallel.For(0, features.Count, options, i =>
        {
            try
            {
                results[i] = ReadStatus(features[i], windows, common, settings);
            }
            catch (Exception ex) when (ex is LibGit2SharpException or IOException)
            {
                results[i] = new FeatureStatus(features[i])
                {
                    FailedReason = $"The worktree cannot be read: {ex.Message}",
                };
            }
            AddJobs(results[i], history, errorLine);
        });
        AddAgents(results);
        if (remote is not null)
        {
            var reader = remote.GetAwaiter().GetResult();
            foreach (var status in results.Where(r => r.Feature.IsManaged))
            {
                status.PullRequest = reader.For(status.Feature.Branch);
            }
        }
        return [.. results];
    }

    /// <summary>The main worktree, or the repository's folder when it is bare.</summary>
    private string MainDirectory() =>
        workspace.Repository.MainWorktree ?? workspace.Repository.CommonDirectory;

    /// <summary>
    /// Adds each feature's agents (one look at all of them together) and the processor and
    /// memory use of its processes (one scan of /proc for all).
    /// </summary>
    private void AddAgents(FeatureStatus[] statuses)
    {
        var tickets = statuses.Where(s => s.Ticket is not null).Select(s => s.Ticket!).ToHashSet();
        if (tickets.Count == 0)
        {
            return;
        }
        var records = workspace.Store.LoadAll().Where(r => tickets.Contains(r.Ticket)).ToList();
        var alive = records.Where(r => statuses.Any(s => s.Ticket == r.Ticket && s.SessionAlive));
        var agents = new Agents.AgentService(workspace).List(alive).ToLookup(a => a.Ticket);
        var processes = new FeatureProcessReader(workspace).List(records).ToLookup(p => p.Ticket);
        foreach (var status in statuses.Where(s => s.Ticket is not null))
        {
            status.Agents = agents[status.Ticket!].ToList();
            status.CpuPercent = Math.Round(processes[status.Ticket!].Sum(p => p.CpuPercent), 1);
            status.MemoryMB = Math.Round(processes[status.Ticket!].Sum(p => p.MemoryMB), 1);
        }
    }

    private static string Describe(JobStatus status) => status switch
    {
        JobStatus.TimedOut => "timed out",
        _ => status.ToString().ToLowerInvariant(),
    };

    /// <summary>Adds the last run of each job; a failed one marks the feature failed.</summary>
    private static void AddJobs(
        FeatureStatus status,
        JobHistory history,
        System.Text.RegularExpressions.Regex errorLine)
    {
        if (status.Ticket is null)
        {
            return;
        }
        status.LastJobs = history.Load(status.Ticket);
        var failed = status.LastJobs.Where(j => j.Failed).ToList();
        if (failed.Count > 0)
        {
            var latest = failed.OrderByDescending(j => j.End ?? DateTimeOffset.MinValue).First();
            status.RecentErrors = RecentErrors.FromLog(latest.LogPath, errorLine);
        }
        if (failed.Count > 0 && status.FailedReason is null)
        {
            status.FailedReason = string.Join("; ", failed.Select(j =>
                $"the last run of the job '{j.Job}' {Describe(j.Status)}: {j.Reason}"));
        }
    }

    private static FeatureStatus ReadStatus(
        Feature feature,
        Dictionary<string, List<string>> windows,
        string commonDirectory,
        Lazy<StatusSettings?> settings)
    {
        var status = new FeatureStatus(feature);
        if (feature.Session is not null && windows.TryGetValue(feature.Session, out var names))
        {
            status.Windows = names;
        }
        if (feature.State is FeatureState.Missing or FeatureState.Broken)
        {
            status.FailedReason = feature.Reason;
            return status;
        }

        // A bare repository has no files to compare, which is its normal state.
        if (feature.IsBare)
        {
            return status;
        }

        using var repository = new Repository(feature.Path);
        return ReadGit(repository, status, commonDirectory, settings);
    }

    private static FeatureStatus ReadGit(
        Repository repository,
        FeatureStatus status,
        string commonDirectory,
        Lazy<StatusSettings?> settings)
    {
        var feature = status.Feature;
        status.Branch = repository.Info.IsHeadDetached ? null : repository.Head.FriendlyName;

        CountChanges(repository, status, commonDirectory, settings);

        var head = repository.Head.Tip;
        if (head is not null)
        {
            status.LastCommit = new CommitSummary(
                head.Sha, head.MessageShort, head.Author.Name, head.Author.When);
            if (feature.Base is not null && repository.Lookup<Commit>(feature.Base) is { } baseTip)
            {
                var divergence = repository.ObjectDatabase.CalculateHistoryDivergence(
                    head,
                    baseTip);
                status.AheadOfBase = divergence.AheadBy;
                status.BehindBase = divergence.BehindBy;
            }
        }

        if (!repository.Info.IsHeadDetached && repository.Head.TrackedBranch is { } upstream)
        {
            status.Upstream = upstream.FriendlyName;
            status.AheadOfUpstream = repository.Head.TrackingDetails.AheadBy;
            status.BehindUpstream = repository.Head.TrackingDetails.BehindBy;
        }
        return status;
    }

    /// <summary>
    /// Counts modified, untracked and conflicted files: from the worktree's snapshot when
    /// nothing it depends on changed, else from a full status read.
    /// </summary>
    private static void CountChanges(
        Repository repository,
        FeatureStatus status,
        string commonDirectory,
        Lazy<StatusSettings?> settings)
    {
        var path = status.Feature.Path;
        var head = repository.Head.Tip?.Sha;
        var seen = StatusSnapshot.Kept.TryGetValue(path, out var snapshot);
        if (snapshot is not null && snapshot.Matches(head))
        {
            (status.Modified, status.Untracked, status.Conflicted) = snapshot.Counts;
            return;
        }

        var untracked = new List<string>();
        var changes = repository.RetrieveStatus(new StatusOptions
        {
            IncludeUntracked = true,
            RecurseUntrackedDirs = true,
            IncludeIgnored = false,
            DetectRenamesInIndex = false,
            DetectRenamesInWorkDir = false,
        });
        foreach (var change in changes)
        {
            var state = change.State;
            if (state.HasFlag(FileStatus.Conflicted))
            {
                status.Conflicted++;
            }
            else if (state == FileStatus.NewInWorkdir)
            {
                status.Untracked++;
                untracked.Add(change.FilePath);
            }
            else if (state != FileStatus.Ignored && state != FileStatus.Unaltered)
            {
                status.Modified++;
            }
        }
        if (!seen)
        {
            // Taking a snapshot costs about one more read: only a worktree read again has one.
            StatusSnapshot.Kept[path] = null;
            return;
        }
        // The main worktree's settings serve all, unless a worktree's own may differ.
        var own = settings.Value is { PerWorktree: true }
            ? StatusSettings.Read(path)
            : settings.Value;
        StatusSnapshot.Kept[path] = StatusSnapshot.Take(repository, path, commonDirectory, head,
            (status.Modified, status.Untracked, status.Conflicted), untracked, own);
    }

    /// <summary>Sets a feature's state from its folder, its .git link and git's record.</summary>
    private void Diagnose(Feature feature, WorktreeEntry? entry)
    {
        var path = feature.Path;
        var main = workspace.Repository.MainWorktree ?? workspace.Repository.CommonDirectory;
        if (!Directory.Exists(path))
        {
            feature.State = FeatureState.Missing;
            feature.Reason = $"The worktree folder '{path}' is gone.";
            feature.RepairCommand = feature.Ticket is null
                ? $"git -C '{main}' worktree prune"
                : $"New-Feature {feature.Ticket}";
            return;
        }

        var problem = entry is null
            ? "git has no worktree registered at this folder"
            : entry.PrunableReason ?? CheckGitLink(path, entry.IsMain);
        if (problem is not null)
        {
            feature.State = FeatureState.Broken;
            feature.Reason = $"The worktree at '{path}' is broken: {problem}.";
            feature.RepairCommand = $"git -C '{main}' worktree repair '{path}'";
            return;
        }

        if (entry!.IsLocked)
        {
            feature.State = FeatureState.Locked;
            feature.Reason = entry.LockedReason is { Length: > 0 } reason
                ? $"The worktree is locked: {reason}."
                : "The worktree is locked.";
            feature.RepairCommand = $"git -C '{main}' worktree unlock '{path}'";
        }
    }

    /// <summary>
    /// Checks that a linked worktree's .git file points at an existing git folder.
    /// </summary>
    private static string? CheckGitLink(string path, bool isMain)
    {
        var link = Path.Combine(path, ".git");
        if (isMain)
        {
            return Directory.Exists(link) ? null : "its .git folder is missing";
        }
        if (!File.Exists(link))
        {
            return "its .git file is missing";
        }
        var text = File.ReadAllText(link).Trim();
        if (!text.StartsWith("gitdir:", StringComparison.Ordinal))
        {
            return "its .git file does not name a git folder";
        }
        var target = text["gitdir:".Length..].Trim();
        target = Path.GetFullPath(target, path);
        return Directory.Exists(target)
            ? null
            : $"its .git file points to '{target}', which is gone";
    }

    /// <summary>Compares two folder paths after making them full and trimming separators.</summary>
    internal static bool SamePath(string left, string right) =>
        string.Equals(Normalize(left), Normalize(right), StringComparison.Ordinal);

    private static string Normalize(string path) =>
        Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
}
