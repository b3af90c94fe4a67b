using LibGit2Sharp;
using WorktreeTools.Engine.Git;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Features;

/// <summary>Stops a feature's processes and session, and removes its worktree and branch.</summary>
public sealed class FeatureStopper
{
    // Ignored folders and files that a build or an install makes again.
    private static readonly string[] Rebuildable =
    [
        "node_modules/", "bin/", "obj/", "dist/", "build/", "out/", "target/", "coverage/",
        ".venv/", "venv/", "__pycache__/", ".pytest_cache/", ".mypy_cache/", ".next/",
        ".nuxt/", ".cache/", ".gradle/", ".tox/", ".parcel-cache/", ".turbo/",
    ];

    private static readonly string[] RebuildableExtensions = [".pyc", ".pyo", ".o", ".class"];

    private readonly Workspace workspace;
    private readonly IFeatureLog log;

    /// <summary>Stops features of a workspace, reporting decisions to a log.</summary>
    public FeatureStopper(Workspace workspace, IFeatureLog? log = null)
    {
        this.workspace = workspace;
        this.log = log ?? NullFeatureLog.Instance;
    }

    /// <summary>
    /// Runs every check that removal needs and throws when work would be lost; changes nothing.
    /// </summary>
    public void CheckRemoval(Feature feature, StopFeatureOptions options)
    {
        RequireManaged(feature);
        if (options.Remove && feature.State == FeatureState.Broken)
        {
            // git cannot read or remove a worktree whose link is broken, not even forced, and
            // what it would lose cannot be listed: refuse before the session is stopped.
            throw new WorktreeToolsException(
                "WorktreeBroken",
                FailureKind.InvalidOperation,
                $"'{feature.Ticket}': {feature.Reason} Stop-Feature -Remove cannot check or "
                + "remove it. Repair it "
                + $"first ({feature.RepairCommand}), then run Stop-Feature again.",
                feature.Ticket);
        }
        if (!options.Remove || options.Force || !Directory.Exists(feature.Path))
        {
            return;
        }
        var losses = FindLosses(feature.Path, workspace.Repository.MainWorktree);
        if (losses.Count > 0)
        {
            const int shown = 10;
            var list = string.Join(", ", losses.Take(shown));
            var more = losses.Count > shown ? $" and {losses.Count - shown} more" : string.Empty;
            throw new WorktreeToolsException(
                "WorktreeHasUncommittedWork",
                FailureKind.InvalidOperation,
                $"The worktree of '{feature.Ticket}' holds work that removal would lose: "
                + $"{list}{more}. Commit or stash it, or pass -Force to remove it anyway.",
                feature.Ticket);
        }
        if (feature.State == FeatureState.Locked)
        {
            throw new WorktreeToolsException(
                "WorktreeLocked",
                FailureKind.InvalidOperation,
                $"'{feature.Ticket}': {feature.Reason} Stop-Feature -Remove leaves it alone. "
                + $"Unlock it ({feature.RepairCommand}), or pass -Force.",
                feature.Ticket);
        }
    }

    /// <summary>Stops the feature and, as asked, removes its worktree and branch.</summary>
    public StopFeatureResult Stop(
        Feature feature,
        StopFeatureOptions options,
        CancellationToken cancellationToken = default)
    {
        CheckRemoval(feature, options);
        var session = feature.Session!;

        var report = StopProcesses(feature, session, options, cancellationToken);
        var stopped = workspace.Tmux.KillSession(session);
        feature.SessionAlive = false;

        var removed = false;
        var branchDeleted = false;
        if (options.Remove)
        {
            var main = workspace.Repository.RequireMainWorktree();
            var deletable = options.DeleteBranch && CanDeleteBranch(feature, main);
            RemoveWorktree(feature, main, options.Force);
            workspace.Store.Delete(feature.Ticket!);
            feature.State = FeatureState.Missing;
            feature.Reason = "The worktree was removed by Stop-Feature -Remove.";
            feature.RepairCommand = null;
            if (feature.Port is { } port)
            {
                new Ports.PortLeases(workspace.Repository.StateDirectory).Release(port);
            }
            new Jobs.JobHistory(workspace.Repository.StateDirectory).Forget(feature.Ticket!);
            new Agents.AgentStore(workspace.Repository.StateDirectory).Forget(feature.Ticket!);
            removed = true;
            if (deletable)
            {
                GitCli.RunOrThrow(
                    main,
                    "BranchDeleteFailed",
                    "Deleting the branch",
                    "branch",
                    "-D",
                    feature.Branch!);
                log.Verbose($"Deleted the branch '{feature.Branch}'.");
                branchDeleted = true;
            }
        }
        return new StopFeatureResult(
            feature, stopped, report.Terminated, report.Killed, removed, branchDeleted);
    }

    /// <summary>
    /// Stops everything the feature runs: its panes' process trees and its running jobs'
    /// process groups, in one round of terminate, bounded wait and kill.
    /// </summary>
    private StopReport StopProcesses(
        Feature feature,
        string session,
        StopFeatureOptions options,
        CancellationToken cancellationToken)
    {
        // Collect the panes' process trees first: kill-session spares processes that ignore
        // SIGHUP, and after it the panes' process ids are no longer known.
        var panes = workspace.Tmux.PaneProcessIds(session);
        var snapshot = ProcessTree.Snapshot();
        var runningJobs = new Jobs.RunningJobs(workspace.Repository.StateDirectory);
        var groups = snapshot.Values.Select(p => p.ProcessGroup).ToHashSet();
        var jobs = runningJobs.List(groups);
        var mine = jobs.Where(j => j.Ticket == feature.Ticket).ToList();

        // A job of another feature started from one of these windows is that feature's, as
        // Get-FeatureProcess shows it.
        var others = jobs.Where(j => j.Ticket != feature.Ticket)
            .SelectMany(j => j.Members(snapshot))
            .Select(p => p.Pid)
            .ToHashSet();
        var inWindows = ProcessTree.Descendants(panes, snapshot)
            .Where(p => !others.Contains(p.Pid))
            .ToList();

        // Marked before any signal, so that their runners report them as cancelled.
        foreach (var job in mine)
        {
            runningJobs.MarkStopped(job);
        }
        var ofJobs = mine.SelectMany(j => j.Members(snapshot)).ToList();
        var processes = inWindows.Concat(ofJobs).DistinctBy(p => p.Pid).ToList();
        var report = ProcessTree.Stop(processes, options.GracePeriod, cancellationToken);

        // What a job started while it was being stopped gets no second grace period.
        var after = ProcessTree.Snapshot();
        var late = mine.SelectMany(j => j.Members(after))
            .Where(p => processes.All(known => known.Pid != p.Pid))
            .ToList();
        if (late.Count > 0)
        {
            var lateReport = ProcessTree.Stop(late, TimeSpan.Zero, cancellationToken);
            report = new StopReport(
                report.Found + lateReport.Found,
                report.Terminated + lateReport.Terminated,
                report.Killed + lateReport.Killed);
        }
        if (report.Found > 0)
        {
            var where = mine.Count == 0
                ? $"of '{session}'"
                : $"of '{feature.Ticket}' (its windows and "
                    + $"{Sentences.Count(mine.Count, "running job")})";
            log.Verbose(
                $"Stopped {Sentences.Count(report.Found, "process", "processes")} {where}: "
                + $"{report.Terminated} ended when asked, {report.Killed} "
                + $"{(report.Killed == 1 ? "was" : "were")} killed after "
                + $"{options.GracePeriod.TotalSeconds} s.");
        }
        return report;
    }

    /// <summary>
    /// Lists what removing a worktree would lose: changes, untracked files and ignored files
    /// that are not rebuildable (an ignored .env counts).
    /// </summary>
    public static List<string> FindLosses(string path, string? mainWorktree = null)
    {
        using var repository = new Repository(path);
        var status = repository.RetrieveStatus(new StatusOptions
        {
            IncludeUntracked = true,
            RecurseUntrackedDirs = false,
            IncludeIgnored = true,
            RecurseIgnoredDirs = false,
            DetectRenamesInIndex = false,
            DetectRenamesInWorkDir = false,
        });
        return status
            .Where(entry => entry.State != FileStatus.Unaltered)
            .Where(entry => entry.State != FileStatus.Ignored || !IsRebuildable(entry.FilePath))
            .Where(entry => !IsCopyOfMain(entry, path, mainWorktree))
            .Select(entry => entry.FilePath)
            .ToList();
    }

    /// <summary>
    /// True for an untracked or ignored file that the main worktree holds byte for byte, such
    /// as a .env that New-Feature copied: removing it loses nothing.
    /// </summary>
    private static bool IsCopyOfMain(StatusEntry entry, string path, string? mainWorktree)
    {
        if (mainWorktree is null
            || entry.State is not (FileStatus.NewInWorkdir or FileStatus.Ignored)
            || entry.FilePath.EndsWith('/'))
        {
            return false;
        }
        var mine = new FileInfo(Path.Combine(path, entry.FilePath));
        var theirs = new FileInfo(Path.Combine(mainWorktree, entry.FilePath));
        if (!mine.Exists || !theirs.Exists || mine.Length != theirs.Length
            || mine.Length > 16 << 20)
        {
            return false;
        }
        return File.ReadAllBytes(mine.FullName).AsSpan()
            .SequenceEqual(File.ReadAllBytes(theirs.FullName));
    }

    private static bool IsRebuildable(string relativePath)
    {
        var name = relativePath.Replace('\\', '/');
        var leaf = name.TrimEnd('/');
        leaf = leaf[(leaf.LastIndexOf('/') + 1)..];
        return Rebuildable.Any(folder => name.EndsWith('/') && leaf + "/" == folder)
            || RebuildableExtensions.Any(ext => name.EndsWith(ext, StringComparison.Ordinal));
    }

    private bool CanDeleteBranch(Feature feature, string main)
    {
        var branchName = feature.Branch!;
        using var repository = new Repository(main);
        var branch = repository.Branches[branchName];
        if (branch is null)
        {
            log.Verbose($"The branch '{branchName}' no longer exists.");
            return false;
        }

        // Safe when every commit of the branch is on the base or on its upstream.
        var tip = branch.Tip;
        foreach (var keeper in new[] { feature.Base, branch.TrackedBranch?.CanonicalName })
        {
            if (keeper is not null && repository.Lookup<Commit>(keeper) is { } keeperTip
                && repository.ObjectDatabase
                    .CalculateHistoryDivergence(tip, keeperTip).AheadBy == 0)
            {
                return true;
            }
        }

        var baseTip = feature.Base is null ? null : repository.Lookup<Commit>(feature.Base);
        var unique = baseTip is null
            ? repository.Commits.QueryBy(new CommitFilter { IncludeReachableFrom = tip }).Count()
            : repository.ObjectDatabase.CalculateHistoryDivergence(tip, baseTip).AheadBy ?? 0;
        log.Warning(
            $"Kept the branch '{branchName}': {Sentences.Count(unique, "commit")} on it "
            + $"{(unique == 1 ? "is" : "are")} on neither "
            + $"'{feature.Base}' nor its upstream and would be lost. Push or merge them, then "
            + $"delete it with: git branch -D {branchName}");
        return false;
    }

    private void RemoveWorktree(Feature feature, string main, bool force)
    {
        // Only this worktree's registration is touched; others are never pruned.
        Git.StatusSnapshot.Forget(feature.Path);
        var arguments = new List<string> { "worktree", "remove", "--force" };
        if (force)
        {
            arguments.Add("--force");
        }
        arguments.Add(feature.Path);
        var outcome = GitCli.Run(main, [.. arguments]);
        if (!outcome.Succeeded && Directory.Exists(feature.Path))
        {
            throw new WorktreeToolsException(
                "WorktreeRemoveFailed",
                FailureKind.InvalidOperation,
                $"git could not remove the worktree '{feature.Path}': {outcome.Reason}",
                feature.Ticket);
        }
        log.Verbose($"Removed the worktree '{feature.Path}'.");
    }

    private static void RequireManaged(Feature feature)
    {
        if (feature.Unreadable is { } unreadable)
        {
            throw unreadable.ToException();
        }
        if (!feature.IsManaged)
        {
            throw new WorktreeToolsException(
                "NotAFeature",
                FailureKind.InvalidArgument,
                $"The worktree '{feature.Path}' was not made by New-Feature, so Stop-Feature "
                + "leaves it alone. Use 'git worktree remove' for it.",
                feature.Path);
        }
    }
}
