using LibGit2Sharp;
using Microsoft.Extensions.FileSystemGlobbing;
using WorktreeTools.Engine.Agents;
using WorktreeTools.Engine.Git;
using WorktreeTools.Engine.Ports;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Features;

/// <summary>
/// Makes features, or repairs the parts of an existing one that are missing. Either every
/// step succeeds, or what the failed attempt made is undone.
/// </summary>
public sealed class FeatureCreator
{
    private readonly Workspace workspace;
    private readonly IFeatureLog log;

    /// <summary>Makes features in a workspace, reporting decisions to a log.</summary>
    public FeatureCreator(Workspace workspace, IFeatureLog? log = null)
    {
        this.workspace = workspace;
        this.log = log ?? NullFeatureLog.Instance;
    }

    /// <summary>Checks names and works out where everything goes; changes nothing.</summary>
    public FeaturePlan Plan(NewFeatureRequest request)
    {
        FeatureNames.ValidateTicket(request.Ticket);
        var slug = FeatureNames.Slugify(request.Description);
        var existing = workspace.Store.Find(request.Ticket);
        if (existing is not null)
        {
            return new FeaturePlan(
                existing.Ticket,
                existing.Description,
                slug,
                existing.Branch,
                existing.Path,
                existing.Session,
                existing);
        }

        var branch = FeatureNames.ExpandBranch(
            workspace.Config.BranchTemplate,
            request.Ticket,
            slug);
        var path = Path.Combine(workspace.WorktreeRoot, request.Ticket);
        return new FeaturePlan(
            request.Ticket,
            request.Description,
            slug,
            branch,
            path,
            FeatureNames.SessionName(request.Ticket),
            null);
    }

    /// <summary>Makes the planned feature, or repairs it when it exists.</summary>
    public Feature Create(
        FeaturePlan plan,
        NewFeatureRequest request,
        CancellationToken cancellationToken = default)
    {
        return plan.Existing is { } existing
            ? Repair(existing, plan, request, cancellationToken)
            : CreateNew(plan, request, cancellationToken);
    }

    private Feature CreateNew(
        FeaturePlan plan,
        NewFeatureRequest request,
        CancellationToken cancellationToken)
    {
        var main = workspace.Repository.RequireMainWorktree();
        var baseRef = ResolveBase(request.Base);
        var worktrees = new FeatureReader(workspace).ListWorktrees();
        var branchExists = BranchExists(plan.Branch);

        // Every check runs before anything is made.
        if (branchExists)
        {
            RefuseBranchInUse(plan.Branch, plan.Path, worktrees);
        }
        if (Directory.Exists(plan.Path) && Directory.EnumerateFileSystemEntries(plan.Path).Any())
        {
            throw new WorktreeToolsException(
                "WorktreePathOccupied",
                FailureKind.ResourceExists,
                $"The folder '{plan.Path}' already exists and is not empty. Move it away, or "
                + "change WorktreeRoot in .worktreetools.psd1.",
                plan.Path);
        }
        RefuseSessionInUse(plan, request.NoSession);
        var others = branchExists ? [] : OtherBranchesOfTicket(plan.Ticket, plan.Branch);

        var undo = new Stack<(string Step, Action Action)>();
        var step = "creating the worktree";
        try
        {
            // Undone last to first: the worktree must go before its branch can be deleted,
            // and before the folder of worktrees that this call made.
            var root = Path.GetDirectoryName(plan.Path)!;
            if (!Directory.Exists(root))
            {
                undo.Push(("removing the folder of worktrees", () => RemoveIfEmpty(root)));
            }
            if (!branchExists)
            {
                undo.Push(("deleting the branch", () => DeleteBranch(plan.Branch, main)));
            }
            undo.Push(("removing the worktree", () => RemoveWorktree(plan.Path, main)));
            AddWorktree(plan, baseRef, branchExists, main);

            step = "copying files";
            CopyFiles(main, plan.Path);

            var record = new FeatureRecord(
                plan.Ticket,
                request.Description,
                plan.Branch,
                plan.Path,
                baseRef,
                plan.Session,
                DateTimeOffset.Now,
                !branchExists);

            if (workspace.Config.Ports is { } range)
            {
                step = "leasing ports";
                var leases = new PortLeases(workspace.Repository.StateDirectory);
                var port = leases.Lease(plan.Ticket, range);
                undo.Push(("releasing the ports", () => leases.Release(port)));
                record = record with { Port = port, PortCount = range.BlockSize };
                log.Verbose($"Leased the ports {port}-{port + range.BlockSize - 1}.");
            }

            step = "running the setup command";
            RunSetup(record, cancellationToken);

            step = "saving the feature's state";
            workspace.Store.Save(record);
            undo.Push(("deleting the state", () => workspace.Store.Delete(record.Ticket)));

            if (!request.NoSession)
            {
                // The checks above found no session of this name, so one now is this call's:
                // tmux keeps the session when a later window of the same call fails.
                step = "creating the tmux session";
                undo.Push(("ending the tmux session", () => EndSession(record.Session)));
                CreateSession(record, request.NoAgent);
            }
            if (others.Count > 0)
            {
                WarnOfOtherBranches(record, others);
            }
            return Describe(record);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RollBack(undo);
            throw Failure(ex, plan.Ticket,
                $"Creating the feature '{plan.Ticket}' failed while {step}, and everything it "
                + "made was undone");
        }
    }

    private Feature Repair(
        FeatureRecord record,
        FeaturePlan plan,
        NewFeatureRequest request,
        CancellationToken cancellationToken)
    {
        var main = workspace.Repository.RequireMainWorktree();
        if (!string.IsNullOrEmpty(plan.Slug)
            && FeatureNames.Slugify(record.Description) != plan.Slug)
        {
            log.Warning(
                $"The feature '{record.Ticket}' already exists with the description "
                + $"'{record.Description}'; the new description was ignored.");
        }

        if (request.Base is { } wantedBase && wantedBase != record.Base)
        {
            log.Warning(
                $"The feature '{record.Ticket}' already exists on '{record.Branch}', made from "
                + $"'{record.Base}'; the new base '{wantedBase}' was ignored. To start it again "
                + $"from there, remove it first (Stop-Feature {record.Ticket} -Remove), or "
                + $"rebase its branch (git -C '{record.Path}' rebase {wantedBase}).");
        }

        if (!Directory.Exists(record.Path))
        {
            RepairWorktree(record, plan, main, cancellationToken);
        }

        if (!request.NoSession && !workspace.Tmux.HasSession(record.Session))
        {
            log.Verbose($"The session '{record.Session}' was not running; starting it.");
            try
            {
                CreateSession(record, request.NoAgent);
            }
            catch (WorktreeToolsException)
            {
                // No session of this name ran a moment ago, so what is there now is ours.
                EndSession(record.Session);
                throw;
            }
        }
        else if (!request.NoSession)
        {
            AddMissingWindows(record);
        }
        return Describe(record);
    }

    /// <summary>
    /// Adds a feature's worktree folder again, with the copied files and the setup command
    /// that a new one gets. When a step fails, the folder added again is removed.
    /// </summary>
    private void RepairWorktree(
        FeatureRecord record,
        FeaturePlan plan,
        string main,
        CancellationToken cancellationToken)
    {
        var remade = false;
        var worktrees = new FeatureReader(workspace).ListWorktrees();
        var registered = worktrees.Any(w => FeatureReader.SamePath(w.Path, record.Path));
        if (BranchExists(record.Branch))
        {
            RefuseBranchInUse(record.Branch, record.Path, worktrees);
            log.Verbose($"The folder '{record.Path}' was gone; adding it again on "
                + $"'{record.Branch}'.");

            // -f replaces the stale registration of this same path (and nothing else).
            var arguments = new List<string> { "worktree", "add" };
            if (registered)
            {
                arguments.Add("-f");
            }
            arguments.AddRange([record.Path, record.Branch]);
            GitCli.RunOrThrow(
                main,
                "WorktreeAddFailed",
                "Adding the worktree again",
                [.. arguments]);
        }
        else
        {
            log.Warning(
                $"The branch '{record.Branch}' was gone; making it again from "
                + $"'{record.Base}'.");
            if (registered)
            {
                RemoveWorktree(record.Path, main);
            }
            var fresh = plan with { Branch = record.Branch, Path = record.Path };
            AddWorktree(fresh, record.Base, branchExists: false, main);
            remade = true;
        }

        var step = "copying files";
        try
        {
            CopyFiles(main, record.Path);
            step = "running the setup command";
            RunSetup(record, cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Undone last to first, as for a new feature: the worktree before its branch.
            var undo = new Stack<(string Step, Action Action)>();
            if (remade)
            {
                undo.Push(("deleting the branch made again",
                    () => DeleteBranch(record.Branch, main)));
            }
            undo.Push(("removing the worktree added again",
                () => RemoveWorktree(record.Path, main)));
            RollBack(undo);
            throw Failure(ex, record.Ticket,
                $"Repairing the feature '{record.Ticket}' failed while {step}, and the "
                + "worktree folder added again was removed");
        }
    }

    /// <summary>
    /// The error for a creation step that failed and was rolled back: the failure's own id
    /// and kind when it has them, with what happened and why.
    /// </summary>
    private static WorktreeToolsException Failure(Exception ex, string ticket, string what)
    {
        var reason = ex is OperationCanceledException ? "it was cancelled" : ex.Message;
        return new WorktreeToolsException(
            ex is WorktreeToolsException known ? known.ErrorId : "NewFeatureFailed",
            ex is WorktreeToolsException kind ? kind.Kind : FailureKind.InvalidOperation,
            $"{what}: {reason}",
            ticket,
            ex);
    }

    /// <summary>
    /// Adds the configured windows that a running session lacks, such as one the user closed,
    /// as plain windows of the configuration: an agent is started only by Start-FeatureAgent.
    /// </summary>
    private void AddMissingWindows(FeatureRecord record)
    {
        var present = workspace.Tmux.ListWindows().GetValueOrDefault(record.Session) ?? [];
        foreach (var window in workspace.Config.Windows.Where(w => !present.Contains(w.Name)))
        {
            log.Verbose($"The window '{window.Name}' of '{record.Session}' was gone; adding it.");
            workspace.Tmux.NewWindow(
                record.Session, window, record.Path, FeatureEnvironment.Of(record));
        }
    }

    private Feature Describe(FeatureRecord record) =>
        new FeatureReader(workspace).List().First(f => f.Ticket == record.Ticket);

    private string ResolveBase(string? requested)
    {
        var main = workspace.Repository.RequireMainWorktree();
        using var repository = new Repository(main);
        var wanted = requested ?? workspace.Config.Base;
        if (wanted is not null)
        {
            if (repository.Lookup<Commit>(wanted) is null)
            {
                throw new WorktreeToolsException(
                    "BaseNotFound",
                    FailureKind.ObjectNotFound,
                    $"The base '{wanted}' is not a commit, branch or tag of this repository. "
                    + "Run 'git fetch', or pass an existing ref with -Base.",
                    wanted);
            }
            return wanted;
        }

        // The remote's default branch, as recorded by clone or 'git remote set-head'.
        if (repository.Refs["refs/remotes/origin/HEAD"] is SymbolicReference { Target: { } target })
        {
            var name = target.CanonicalName;
            return name.StartsWith("refs/remotes/", StringComparison.Ordinal)
                ? name["refs/remotes/".Length..]
                : name;
        }
        if (repository.Network.Remotes["origin"] is null)
        {
            var branch = repository.Head.FriendlyName;
            throw new WorktreeToolsException(
                "BaseNotFound",
                FailureKind.ObjectNotFound,
                "There is no base to start from: the repository has no remote named 'origin', "
                + "whose default branch New-Feature would use. Pass -Base (such as "
                + $"-Base {branch}), or set Base in .worktreetools.psd1 (Base = '{branch}').",
                "origin");
        }
        throw new WorktreeToolsException(
            "BaseNotFound",
            FailureKind.ObjectNotFound,
            "The remote's default branch is unknown: refs/remotes/origin/HEAD is not set. Run "
            + "'git remote set-head origin --auto', or set Base in .worktreetools.psd1, "
            + "or pass -Base.",
            "refs/remotes/origin/HEAD");
    }

    /// <summary>
    /// The local branches that the branch template gives for this ticket with any description
    /// (or none), apart from the one about to be made: work a forgotten feature left behind.
    /// </summary>
    private List<string> OtherBranchesOfTicket(string ticket, string planned)
    {
        var pattern = FeatureNames.TicketBranchPattern(workspace.Config.BranchTemplate, ticket);
        using var repository = new Repository(workspace.Repository.CommonDirectory);
        return [.. repository.Branches
            .Where(b => !b.IsRemote && b.FriendlyName != planned
                && pattern.IsMatch(b.FriendlyName))
            .Select(b => b.FriendlyName)
            .Order(StringComparer.Ordinal)];
    }

    private void WarnOfOtherBranches(FeatureRecord record, List<string> others)
    {
        var names = string.Join(", ", others.Select(b => $"'{b}'"));
        var slug = FeatureNames.SlugOf(
            workspace.Config.BranchTemplate, record.Ticket, others[0]);
        var resume = slug is null
            ? $"check it out in the worktree (git -C '{record.Path}' switch {others[0]})"
            : $"run Stop-Feature {record.Ticket} -Remove -DeleteBranch, then "
                + $"New-Feature {record.Ticket} '{slug}'";
        log.Warning(
            $"Made the new branch '{record.Branch}' from '{record.Base}', but the ticket "
            + $"'{record.Ticket}' already has the branch{(others.Count == 1 ? "" : "es")} "
            + $"{names}, kept from earlier work. To continue on {others[0]} instead, {resume}.");
    }

    private bool BranchExists(string branch)
    {
        using var repository = new Repository(workspace.Repository.CommonDirectory);
        return repository.Branches[branch] is { IsRemote: false };
    }

    private static void RefuseBranchInUse(
        string branch,
        string ownPath,
        IEnumerable<WorktreeEntry> worktrees)
    {
        var holder = worktrees.FirstOrDefault(w =>
            w.Branch == branch && !FeatureReader.SamePath(w.Path, ownPath));
        if (holder is not null)
        {
            throw new WorktreeToolsException(
                "BranchCheckedOutElsewhere",
                FailureKind.ResourceExists,
                $"The branch '{branch}' is already checked out in '{holder.Path}'. Switch that "
                + "worktree to another branch, or use another ticket.",
                branch);
        }
    }

    private void RefuseSessionInUse(FeaturePlan plan, bool noSession)
    {
        var owner = workspace.Store.LoadAll().FirstOrDefault(r => r.Session == plan.Session);
        if (owner is not null)
        {
            throw new WorktreeToolsException(
                "SessionNameTaken",
                FailureKind.ResourceExists,
                $"The tmux session name '{plan.Session}' already belongs to the feature "
                + $"'{owner.Ticket}'. Use a ticket that differs by more than '.' and '_'.",
                plan.Session);
        }
        if (!noSession && workspace.Tmux.HasSession(plan.Session))
        {
            throw new WorktreeToolsException(
                "SessionNameTaken",
                FailureKind.ResourceExists,
                $"A tmux session named '{plan.Session}' already runs and is not a feature of "
                + $"this repository. End it (tmux{SocketOption()} kill-session "
                + $"-t ={plan.Session}) or use -NoSession.",
                plan.Session);
        }
    }

    private string SocketOption() =>
        workspace.Tmux.SocketName is { } socket ? $" -L {socket}" : string.Empty;

    private void AddWorktree(FeaturePlan plan, string baseRef, bool branchExists, string main)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(plan.Path)!);
        string[] arguments = branchExists
            ? ["worktree", "add", plan.Path, plan.Branch]
            : ["worktree", "add", "--no-track", "-b", plan.Branch, plan.Path, baseRef];
        log.Verbose(branchExists
            ? $"Checking out the existing branch '{plan.Branch}' in '{plan.Path}'."
            : $"Creating the branch '{plan.Branch}' from '{baseRef}' in '{plan.Path}'.");
        GitCli.RunOrThrow(main, "WorktreeAddFailed", "git worktree add", arguments);
    }

    private static void RemoveWorktree(string path, string main)
    {
        GitCli.Run(main, "worktree", "remove", "--force", "--force", path);
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    // Limitation: only the innermost folder is removed; parents that a WorktreeRoot such as
    // '../a/b' made stay, as telling them from the user's own empty folders would need a list.
    private static void RemoveIfEmpty(string folder)
    {
        if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Directory.Delete(folder);
        }
    }

    private void EndSession(string session)
    {
        // As Stop-Feature does: the panes' processes first, since kill-session spares those
        // that ignore SIGHUP.
        var processes = ProcessTree.Descendants(workspace.Tmux.PaneProcessIds(session));
        ProcessTree.Stop(processes, TimeSpan.FromSeconds(2));
        workspace.Tmux.KillSession(session);
    }

    private static void DeleteBranch(string branch, string main) =>
        GitCli.Run(main, "branch", "-D", branch);

    private void CopyFiles(string main, string worktree)
    {
        if (workspace.Config.CopyFiles.Count == 0)
        {
            return;
        }

        // Each entry on its own, so that one matching nothing (a typo such as '.evn') is said.
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var entry in workspace.Config.CopyFiles)
        {
            var matcher = new Matcher(StringComparison.Ordinal);
            matcher.AddInclude(entry);
            matcher.AddExclude(".git/**");
            var found = matcher.GetResultsInFullPath(main)
                .Select(full => Path.GetRelativePath(main, full))
                .ToList();
            if (found.Count == 0)
            {
                log.Warning(
                    $"The CopyFiles entry '{entry}' of '{workspace.Config.SourceOf("CopyFiles")}' "
                    + $"matches no file in the main worktree '{main}', so nothing was copied "
                    + "for it. Check its spelling.");
            }
            files.UnionWith(found);
        }
        foreach (var relative in files)
        {
            var target = Path.Combine(worktree, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(main, relative), target, overwrite: true);
            log.Verbose($"Copied '{relative}' from the main worktree.");
        }
    }

    private void RunSetup(FeatureRecord record, CancellationToken cancellationToken)
    {
        if (workspace.Config.Setup is not { } setup)
        {
            return;
        }
        log.Verbose($"Running the setup command in '{record.Path}'.");
        var outcome = CommandRunner.Run(
            "sh",
            ["-c", setup],
            record.Path,
            FeatureEnvironment.Of(record).ToDictionary(p => p.Key, p => (string?)p.Value),
            cancellationToken);
        if (!outcome.Succeeded)
        {
            throw new WorktreeToolsException(
                "SetupFailed",
                FailureKind.InvalidOperation,
                $"the setup command exited with code {outcome.ExitCode}: {outcome.Reason}",
                record.Ticket);
        }
    }

    private void CreateSession(FeatureRecord record, bool noAgent)
    {
        // The feature's agent takes the 'ai' window, added when the configuration has none.
        var agents = new AgentService(workspace, log);
        var (agentWindow, agent) = agents.PlanFeatureAgent(record, noAgent);
        var windows = workspace.Config.Windows.ToList();
        var index = windows.FindIndex(w => w.Name == AgentService.FeatureWindow);
        var started = agent is { Reason: null };
        if (started && index < 0)
        {
            windows.Add(agentWindow);
        }
        else if (started)
        {
            windows[index] = agentWindow;
        }

        log.Verbose($"Starting the tmux session '{record.Session}'.");
        workspace.Tmux.CreateSession(
            record.Session, record.Path, windows, FeatureEnvironment.Of(record));
        agents.Remember(record.Ticket, agent);
    }

    private void RollBack(Stack<(string Step, Action Action)> undo)
    {
        while (undo.Count > 0)
        {
            var (step, action) = undo.Pop();
            try
            {
                action();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException
                or WorktreeToolsException)
            {
                log.Warning($"Undoing a failed New-Feature: {step} failed: {ex.Message}");
            }
        }
    }
}
