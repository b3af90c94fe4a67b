using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Git;
using WorktreeTools.Engine.Processes;
using WorktreeTools.Engine.Tmux;

namespace WorktreeTools.Engine.Agents;

/// <summary>
/// Starts AI coding agents in features' sessions, tells what they are doing, types text
/// into them and stops them.
/// </summary>
public sealed class AgentService
{
    /// <summary>The role of the agent New-Feature starts, in the <c>ai</c> window.</summary>
    public const string FeatureRole = "feature";

    /// <summary>The window of the feature role.</summary>
    public const string FeatureWindow = "ai";

    // Linux reports processor time in ticks of 1/100 s (sysconf(_SC_CLK_TCK) is 100).
    private const double TicksPerSecond = 100;

    private const int ScreenLines = 60;
    private const int MaxDiffLines = 80;
    private const int MaxDiffChars = 16 * 1024;
    private const int ShownLines = 5;
    private const double BusyPercent = 2.0;

    // Feeds an agent the prompt file ($1), then what is typed into the window, on its
    // standard input; the agent is "$@" after it. The feeder (cat) reads the terminal and only
    // notices that the agent ended when it next writes, so once the agent ends the feeder gets
    // the SIGPIPE it would get then (which the shell does not report), and the pane ends with
    // the agent's exit code. The feeder writes its pid to "$1.feeder"; the pid is signalled
    // only while its parent is still this shell, so a reused pid is left alone.
    private const string StandardInputScript = """
        f=$1; shift
        rm -f -- "$f.feeder"
        sh -c 'echo $$ > "$1.feeder"; exec cat -- "$1" -' sh "$f" | {
            "$@"; s=$?
            n=0
            while [ ! -s "$f.feeder" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
            if read -r p < "$f.feeder" && read -r _ _ _ q _ < "/proc/$p/stat" \
                && [ "$q" = $$ ]; then
                kill -s PIPE "$p"
            fi 2>/dev/null
            exit $s
        }
        """;

    private static readonly Regex Placeholder = new(
        @"\{(Ticket|Description|Branch|Base|Path|Diff)\}",
        RegexOptions.CultureInvariant,
        TimeSpan.FromSeconds(1));

    // An earlier look older than this says little about now: a second look is taken instead.
    private static readonly TimeSpan FreshSample = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SecondLook = TimeSpan.FromMilliseconds(400);

    private readonly Workspace workspace;
    private readonly AgentStore store;
    private readonly IFeatureLog log;

    /// <summary>Works on the agents of a workspace, reporting decisions to a log.</summary>
    public AgentService(Workspace workspace, IFeatureLog? log = null)
    {
        this.workspace = workspace;
        this.log = log ?? NullFeatureLog.Instance;
        store = new AgentStore(workspace.Repository.StateDirectory);
    }

    private AgentConfig Config => workspace.Config.Agent;

    /// <summary>
    /// The window name of a role: <c>ai</c> for the feature role, else <c>ai-ROLE</c>.
    /// </summary>
    public static string WindowOf(string role) =>
        role == FeatureRole ? FeatureWindow : $"{FeatureWindow}-{role}";

    /// <summary>
    /// The window New-Feature gives the feature's agent, and the record to save once the
    /// session exists; a plain window (and a record saying why) when no agent can start.
    /// </summary>
    public (WindowSpec Window, AgentRecord? Record) PlanFeatureAgent(
        FeatureRecord feature,
        bool noAgent)
    {
        var plain = new WindowSpec(FeatureWindow, null);
        if (noAgent || !Config.Enabled)
        {
            return (plain, null);
        }
        var command = Config.Command!;
        if (!CommandRunner.IsOnPath(command))
        {
            var reason = $"the agent program '{command}' is not installed or not on PATH";
            log.Warning($"No agent in {feature.Ticket}: {reason}. Install it, or set Agent in "
                + $"{FeatureConfig.FileName}.");
            return (plain, new AgentRecord(
                feature.Ticket,
                FeatureRole,
                FeatureWindow,
                command,
                null,
                reason));
        }
        var window = AgentWindow(feature, FeatureRole, FeatureWindow);
        return (window, new AgentRecord(
            feature.Ticket, FeatureRole, FeatureWindow, command, DateTimeOffset.Now, null));
    }

    /// <summary>
    /// Saves the record of the agent started with a session, or forgets an older one when
    /// the session's ai window has no agent now (so no text is ever sent to its shell).
    /// </summary>
    public void Remember(string ticket, AgentRecord? record)
    {
        if (record is null)
        {
            store.Forget(ticket, FeatureWindow);
        }
        else
        {
            store.Save(record);
        }
    }

    /// <summary>
    /// Starts an agent for a role in its own window of the feature's session; when that
    /// window already runs an agent, returns it unless <paramref name="newWindow"/> is set.
    /// </summary>
    public FeatureAgent Start(FeatureRecord feature, string role, bool newWindow)
    {
        ValidateRole(role);
        if (!Config.Enabled)
        {
            throw new WorktreeToolsException(
                "AgentNotConfigured",
                FailureKind.InvalidOperation,
                $"No agent is configured: the Agent key of {FeatureConfig.FileName} turns it off.",
                feature.Ticket);
        }
        if (!CommandRunner.IsOnPath(Config.Command!))
        {
            throw new WorktreeToolsException(
                "AgentNotInstalled",
                FailureKind.NotInstalled,
                $"The agent program '{Config.Command}' is not installed or not on PATH. Install "
                + $"it, or name another in the Agent key of {FeatureConfig.FileName}.",
                Config.Command);
        }
        if (!workspace.Tmux.HasSession(feature.Session))
        {
            throw new WorktreeToolsException(
                "SessionNotRunning",
                FailureKind.InvalidOperation,
                $"The session of '{feature.Ticket}' is not running. Start it with: "
                + $"New-Feature {feature.Ticket}",
                feature.Ticket);
        }

        var panes = workspace.Tmux.ListPanes(feature.Session);
        var window = WindowOf(role);
        var existing = panes.FirstOrDefault(p => p.Window == window);
        if (existing is not null && newWindow)
        {
            window = NextFreeWindow(window, panes);
            existing = null;
        }
        var known = store.Load(feature.Ticket).FirstOrDefault(r => r.Window == window);
        if (existing is { Dead: false } && known is { Reason: null })
        {
            log.Verbose($"The {role} agent of {feature.Ticket} already runs in '{window}'.");
            return Inspect([(feature, [known])])[0];
        }
        if (existing is { Dead: false } && known is null)
        {
            throw NotAnAgentWindow(feature, window);
        }

        // The plain shell left where the agent could not start may be in use by now: it is
        // replaced only while it runs nothing.
        if (existing is { Dead: false }
            && ProcessTree.Descendants([existing.ProcessId]).Count(ProcessTree.IsAlive) > 1)
        {
            throw new WorktreeToolsException(
                "AgentWindowBusy",
                FailureKind.ResourceExists,
                $"The window '{window}' of {feature.Ticket} has no agent, but its shell runs a "
                + $"command ({existing.CurrentCommand}). Let it end, or pass -New to open "
                + "another window.",
                feature.Ticket);
        }

        var spec = AgentWindow(feature, role, window);
        var environment = FeatureEnvironment.Of(feature);
        if (existing is not null)
        {
            log.Verbose(
                $"Restarting the {role} agent in the window '{window}' of {feature.Ticket}.");
            workspace.Tmux.RespawnWindow(feature.Session, spec, feature.Path, environment);
        }
        else
        {
            log.Verbose(
                $"Starting the {role} agent in a new window '{window}' of {feature.Ticket}.");
            workspace.Tmux.NewWindow(feature.Session, spec, feature.Path, environment);
        }
        var record = new AgentRecord(
            feature.Ticket, role, window, Config.Command, DateTimeOffset.Now, null);
        store.Save(record);
        return Inspect([(feature, [record])])[0];
    }

    /// <summary>
    /// Refuses a window this module did not start an agent in: any other (such as a plain ai
    /// window when the agent was missing) may run the user's shell.
    /// </summary>
    private void RequireAgentWindow(
        FeatureRecord feature,
        string window,
        string role,
        string outcome)
    {
        if (!HasAgent(feature, window))
        {
            var record = store.Load(feature.Ticket).FirstOrDefault(r => r.Window == window);
            throw new WorktreeToolsException(
                "AgentNotRunning",
                FailureKind.InvalidOperation,
                $"The window '{window}' of {feature.Ticket} has no agent started by this module "
                + $"({record?.Reason ?? "none was started there"}), so {outcome}. "
                + $"Start one with: Start-FeatureAgent {role} -Ticket {feature.Ticket}",
                feature.Ticket);
        }
    }

    private bool HasAgent(FeatureRecord feature, string window) =>
        store.Load(feature.Ticket).Any(r => r.Window == window && r.Reason is null);

    private string RoleOfWindow(string window) =>
        window == FeatureWindow ? FeatureRole
            : window.StartsWith(FeatureWindow + "-", StringComparison.Ordinal)
                ? window[(FeatureWindow.Length + 1)..]
            : window;

    /// <summary>The agents of features, each with its state; looks twice when it must.</summary>
    public List<FeatureAgent> List(IEnumerable<FeatureRecord> features) =>
        Inspect([.. features.Select(f => (f, store.Load(f.Ticket)))]);

    /// <summary>Types text into an agent's window literally, then presses Enter.</summary>
    public void Send(FeatureRecord feature, string window, string text)
    {
        var role = RoleOfWindow(window);
        var pane = workspace.Tmux.ListPanes(feature.Session)
            .FirstOrDefault(p => p.Window == window);
        if (pane is null || pane.Dead)
        {
            throw new WorktreeToolsException(
                "AgentNotRunning",
                FailureKind.InvalidOperation,
                $"No {role} agent runs in {feature.Ticket} (window '{window}'). Start one with: "
                + $"Start-FeatureAgent {role} -Ticket {feature.Ticket}",
                feature.Ticket);
        }

        RequireAgentWindow(feature, window, role, "the text was not sent");
        workspace.Tmux.PasteIntoWindow(feature.Session, window, text);
        log.Verbose(
            $"Sent {text.Length} characters to the agent in '{window}' of {feature.Ticket}.");
    }

    /// <summary>
    /// Stops one agent: an interrupt (Ctrl+C) first, then terminate, then kill. Its window
    /// stays, showing that the agent ended.
    /// </summary>
    public string Stop(FeatureRecord feature, string window, TimeSpan grace)
    {
        var pane = workspace.Tmux.ListPanes(feature.Session)
            .FirstOrDefault(p => p.Window == window);
        var started = store.Load(feature.Ticket).Any(r => r.Window == window);
        if (pane is null && !started)
        {
            throw new WorktreeToolsException(
                "AgentNotFound",
                FailureKind.ObjectNotFound,
                $"{feature.Ticket} has no agent window '{window}', so nothing was stopped. "
                + $"Get-FeatureAgent {feature.Ticket} lists its agents and their roles.",
                feature.Ticket);
        }
        if (pane is null || pane.Dead)
        {
            return "it was not running";
        }
        if (!HasAgent(feature, window))
        {
            return "no agent started by this module runs there, so nothing was stopped";
        }
        var tree = ProcessTree.Descendants([pane.ProcessId]);
        workspace.Tmux.Run("send-keys", "-t", $"={feature.Session}:={window}", "C-c");
        var deadline = DateTime.UtcNow + grace;
        while (DateTime.UtcNow < deadline && tree.Any(ProcessTree.IsAlive))
        {
            Thread.Sleep(25);
        }
        if (!tree.Any(ProcessTree.IsAlive))
        {
            WaitForDeadPane(feature.Session, window);
            return "it ended on the interrupt";
        }
        var report = ProcessTree.Stop(tree, grace);
        WaitForDeadPane(feature.Session, window);
        return report.Killed > 0
            ? "it ignored the interrupt and the terminate signal, and "
                + $"{Sentences.Count(report.Killed, "process", "processes")} "
                + $"{(report.Killed == 1 ? "was" : "were")} killed"
            : "it ignored the interrupt and ended on the terminate signal";
    }

    /// <summary>
    /// Waits a little for tmux to see that the pane's program ended: it reaps it a moment
    /// after the processes are gone, and until then the agent would still look alive.
    /// </summary>
    private void WaitForDeadPane(string session, string window)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (DateTime.UtcNow < deadline
            && workspace.Tmux.ListPanes(session).FirstOrDefault(p => p.Window == window) is
                { Dead: false })
        {
            Thread.Sleep(25);
        }
    }

    /// <summary>
    /// Looks at agents. Where no recent earlier look exists, it looks a second time shortly
    /// after (once for all of them), since a state needs two looks to tell what moves.
    /// </summary>
    private List<FeatureAgent> Inspect(
        List<(FeatureRecord Feature, List<AgentRecord> Records)> features)
    {
        var agents = new List<FeatureAgent>();
        var looks =
            new List<(FeatureAgent Agent, AgentRecord Record, string Session, Look First)>();
        var allPanes = features.Any(f => f.Records.Count > 0)
            ? workspace.Tmux.ListAllPanes()
            : Enumerable.Empty<PaneInfo>().ToLookup(_ => string.Empty);
        foreach (var (feature, records) in features)
        {
            var panes = allPanes[feature.Session].ToList();
            foreach (var record in records)
            {
                var agent = new FeatureAgent(record.Ticket, record.Role, record.Window)
                {
                    Command = record.Command,
                };
                agents.Add(agent);
                var pane = panes.FirstOrDefault(p => p.Window == record.Window);
                if (record.Reason is { } reason)
                {
                    agent.State = AgentState.NotStarted;
                    agent.Reason = reason;
                }
                else if (pane is null)
                {
                    agent.State = AgentState.NotStarted;
                    agent.Reason = panes.Count == 0
                        ? "the feature's session is not running"
                        : $"the window '{record.Window}' is gone";
                }
                else if (pane.Dead)
                {
                    agent.State = AgentState.Exited;
                    agent.ExitCode = pane.ExitStatus;
                    agent.Pid = pane.ProcessId;
                    agent.Reason = pane.ExitStatus is { } code ? $"exit code {code}"
                        : pane.ExitSignal is { } signal ? $"ended by signal {signal}"
                        : "the program ended";
                    agent.LastLines = LastLines(
                        workspace.Tmux.CaptureWindow(feature.Session, record.Window, ScreenLines));
                }
                else
                {
                    agent.Pid = pane.ProcessId;
                    var first = TakeLook(feature.Session, record.Window, pane.ProcessId);
                    looks.Add((agent, record, feature.Session, first));
                }
            }
        }

        if (looks.Any(l => !IsFresh(l.Record.LastSample, l.First)))
        {
            Thread.Sleep(SecondLook);
        }
        var unsure =
            new List<(FeatureAgent Agent, AgentRecord Record, string Session, Look First)>();
        foreach (var (agent, record, session, first) in looks)
        {
            var before = record.LastSample;
            var now = first;
            if (!IsFresh(before, first))
            {
                now = TakeLook(session, record.Window, first.Pid);
                before = first.ToSample(AgentState.Unknown, first.Time);
            }
            if (Decide(agent, before!, now) == AgentState.Unknown
                && IsFresh(record.LastSample, first))
            {
                // What moved since an earlier look may have stopped since: look again shortly.
                unsure.Add((agent, record, session, first));
                continue;
            }
            Remember(agent, record, now);
        }
        if (unsure.Count > 0)
        {
            Thread.Sleep(SecondLook);
        }
        foreach (var (agent, record, session, first) in unsure)
        {
            var now = TakeLook(session, record.Window, first.Pid);
            Decide(agent, first.ToSample(AgentState.Unknown, first.Time), now);
            Remember(agent, record, now);
        }
        return agents;
    }

    /// <summary>Saves a look, keeping the time the state began when it did not change.</summary>
    private void Remember(FeatureAgent agent, AgentRecord record, Look now)
    {
        var since = record.LastSample is { } last && last.State == agent.State
            && last.Pid == now.Pid
            ? last.Since
            : now.Time;
        agent.Since = since;
        store.Save(record with { LastSample = now.ToSample(agent.State, since) });
    }

    private AgentState Decide(FeatureAgent agent, AgentSample before, Look now)
    {
        var seconds = (now.Time - before.Time).TotalSeconds;
        var cpu = seconds > 0
            ? (now.CpuTicks - before.CpuTicks) / TicksPerSecond / seconds * 100
            : 0;
        agent.CpuPercent = Math.Round(Math.Max(0, cpu), 1);
        agent.MemoryMB = Math.Round(now.ResidentBytes / 1048576.0, 1);
        agent.LastLines = now.Lines;

        var busy = agent.CpuPercent >= BusyPercent || now.ScreenHash != before.ScreenHash;
        var prompt = now.Lines.Count > 0
            && Config.WaitingPatterns.Any(p => now.Lines.TakeLast(3).Any(l => p.IsMatch(l)));
        (agent.State, agent.Reason) = (busy, prompt) switch
        {
            (true, false)
                => (AgentState.Working, $"{agent.CpuPercent}% processor or a changing screen"),
            (false, true) => (AgentState.WaitingForInput, "it shows a prompt and nothing moves"),
            (false, false) => (AgentState.Idle, "nothing moves and no known prompt shows"),
            _ => (AgentState.Unknown, "it shows a prompt, but its screen or processor still moves"),
        };
        return agent.State;
    }

    private Look TakeLook(string session, string window, int pid)
    {
        var tree = ProcessTree.Descendants([pid]);
        var screen = workspace.Tmux.CaptureWindow(session, window, ScreenLines) ?? string.Empty;
        return new Look(
            DateTimeOffset.Now,
            pid,
            tree.Sum(p => ProcessTree.CpuTicks(p.Pid)),
            tree.Sum(p => ProcessTree.ResidentBytes(p.Pid)),
            Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(screen))),
            LastLines(screen));
    }

    private static bool IsFresh(AgentSample? sample, Look now) =>
        sample is not null && sample.Pid == now.Pid && now.Time - sample.Time < FreshSample;

    private static List<string> LastLines(string? screen) =>
        screen is null
            ? []
            : [.. screen.Split('\n')
                .Select(l => l.TrimEnd())
                .Where(l => l.Length > 0)
                .TakeLast(ShownLines)];

    private WindowSpec AgentWindow(FeatureRecord feature, string role, string window)
    {
        var prompt = RenderPrompt(feature, role);
        var promptFile = Path.Combine(store.FolderOf(feature.Ticket), window + ".prompt.md");
        Directory.CreateDirectory(Path.GetDirectoryName(promptFile)!);
        // Standard input gets the prompt as whole lines, so what is typed next starts a new one.
        File.WriteAllText(promptFile, prompt.EndsWith('\n') ? prompt : prompt + "\n");

        // The prompt is data in the argument list or a file, never text typed into a shell.
        var arguments = Config.Arguments
            .Select(a => a.Replace("{PromptFile}", promptFile, StringComparison.Ordinal)
                .Replace("{Prompt}", prompt, StringComparison.Ordinal))
            .ToList();
        List<string> program = Config.Prompt == PromptDelivery.StandardInput
            ? ["sh", "-c", StandardInputScript, "sh", promptFile, Config.Command!, .. arguments]
            : [Config.Command!, .. arguments];
        return new WindowSpec(window, null) { Program = program, KeepDeadPane = true };
    }

    /// <summary>
    /// The prompt of a role for a feature, from the user's template or the shipped one.
    /// </summary>
    public string RenderPrompt(FeatureRecord feature, string role)
    {
        var template = File.ReadAllText(FindTemplate(role));
        var diff = template.Contains("{Diff}", StringComparison.Ordinal)
            ? DiffSummary(feature)
            : string.Empty;
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Ticket"] = feature.Ticket,
            ["Description"] = feature.Description ?? string.Empty,
            ["Branch"] = feature.Branch,
            ["Base"] = feature.Base,
            ["Path"] = feature.Path,
            ["Diff"] = diff,
        };

        // One pass: a description or diff that holds "{Path}" keeps it as written.
        return Placeholder.Replace(template, m => values[m.Groups[1].Value]);
    }

    /// <summary>The roles that have a template, the user's and the shipped ones.</summary>
    public List<string> Roles() =>
        [.. TemplateFolders()
            .Where(Directory.Exists)
            .SelectMany(f => Directory.EnumerateFiles(f, "*.md"))
            .Select(Path.GetFileNameWithoutExtension)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)];

    private string FindTemplate(string role)
    {
        ValidateRole(role);
        foreach (var folder in TemplateFolders())
        {
            var file = Path.Combine(folder, role + ".md");
            if (File.Exists(file))
            {
                return file;
            }
        }
        throw new WorktreeToolsException(
            "AgentRoleUnknown",
            FailureKind.ObjectNotFound,
            $"There is no prompt template for the role '{role}' "
            + $"(roles: {string.Join(", ", Roles())}). "
            + $"Add {role}.md to {Path.Combine(Config.Templates)} in the main worktree.",
            role);
    }

    private IEnumerable<string> TemplateFolders()
    {
        if (workspace.Repository.MainWorktree is { } main)
        {
            yield return Path.GetFullPath(Path.Combine(main, Config.Templates));
        }
        if (workspace.ShippedTemplates is { } shipped)
        {
            yield return shipped;
        }
    }

    private static void ValidateRole(string role)
    {
        if (role.Length is 0 or > 32
            || !role.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw new WorktreeToolsException(
                "InvalidAgentRole",
                FailureKind.InvalidArgument,
                $"The role '{role}' cannot be used: a role is 1 to 32 lower-case letters, digits "
                + "or '-', such as 'review'.",
                role);
        }
    }

    private static string DiffSummary(FeatureRecord feature)
    {
        var range = $"{feature.Base}...HEAD";
        var log = GitCli.Run(feature.Path, "log", "--oneline", "--no-decorate", "-n", "30", range);
        var stat = GitCli.Run(feature.Path, "diff", "--stat", range);
        var lines = (log.StandardOutput + stat.StandardOutput).Trim()
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0)
        {
            return "(no changes yet)";
        }

        // A prompt is one argument, and the kernel limits those: keep the summary short.
        if (lines.Length > MaxDiffLines)
        {
            var more = lines.Length - MaxDiffLines;
            lines =
            [
                .. lines.Take(MaxDiffLines - 1),
                $"... and {more + 1} more lines: git diff --stat {range}",
            ];
        }
        var text = string.Join('\n', lines);
        return text.Length <= MaxDiffChars ? text : text[..MaxDiffChars] + "\n...";
    }

    private static string NextFreeWindow(string window, List<PaneInfo> panes)
    {
        for (var n = 2; ; n++)
        {
            var candidate = $"{window}-{n}";
            if (panes.All(p => p.Window != candidate))
            {
                return candidate;
            }
        }
    }

    private static WorktreeToolsException NotAnAgentWindow(FeatureRecord feature, string window) =>
        new(
            "AgentWindowTaken",
            FailureKind.ResourceExists,
            $"The window '{window}' of {feature.Ticket} runs something this module did not start. "
            + "Close it, or pass -New to open another window.",
            feature.Ticket);

    private sealed record Look(
        DateTimeOffset Time,
        int Pid,
        long CpuTicks,
        long ResidentBytes,
        string ScreenHash,
        List<string> Lines)
    {
        public AgentSample ToSample(AgentState state, DateTimeOffset since) =>
            new(Time, CpuTicks, ScreenHash, state, since, Pid);
    }
}
