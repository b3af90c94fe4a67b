using System.Diagnostics;
using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Processes;

namespace WorktreeTools.Engine.Tmux;

/// <summary>
/// One tmux server: the user's default one, or the socket named by
/// <c>WORKTREETOOLS_TMUX_SOCKET</c> (as <c>tmux -L</c> names it).
/// </summary>
/// <remarks>
/// Every target starts with '=' because tmux otherwise matches session names by prefix:
/// without it, <c>kill-session -t ABC</c> kills <c>ABC-123</c>.
/// </remarks>
public sealed class TmuxServer
{
    /// <summary>The environment variable that names a private tmux socket.</summary>
    public const string SocketVariable = "WORKTREETOOLS_TMUX_SOCKET";

    // A fixed script: the window's command arrives as "$1", never pasted into shell text.
    private const string KeepShellScript = "eval \"$1\"; exec \"${SHELL:-/bin/sh}\"";

    private readonly string[] prefix;

    /// <summary>
    /// Uses the given socket name, or the default server when it is null or empty.
    /// </summary>
    public TmuxServer(string? socketName)
    {
        // A socket name is a file name in tmux's own folder; a path would put it elsewhere.
        if (!string.IsNullOrEmpty(socketName)
            && !socketName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            || socketName is "." or "..")
        {
            throw new WorktreeToolsException(
                "InvalidTmuxSocket",
                FailureKind.InvalidArgument,
                $"The tmux socket name '{socketName}' in {SocketVariable} may hold only letters, "
                + "digits, '-', '_' and '.', as tmux -L takes it.",
                socketName);
        }
        SocketName = string.IsNullOrEmpty(socketName) ? null : socketName;
        prefix = SocketName is null ? [] : ["-L", SocketName];
    }

    /// <summary>The server named by the environment.</summary>
    public static TmuxServer FromEnvironment() =>
        new(Environment.GetEnvironmentVariable(SocketVariable));

    /// <summary>The private socket's name, or null for the user's default server.</summary>
    public string? SocketName { get; }

    /// <summary>True when a tmux program is on PATH.</summary>
    public static bool IsInstalled => CommandRunner.IsOnPath("tmux");

    /// <summary>The names of all sessions; empty when no server runs.</summary>
    public HashSet<string> ListSessions()
    {
        var sessions = new HashSet<string>(StringComparer.Ordinal);
        if (!IsInstalled)
        {
            return sessions;
        }
        var outcome = Run("list-sessions", "-F", "#{session_name}");
        if (outcome.Succeeded)
        {
            sessions.UnionWith(Lines(outcome.StandardOutput));
        }
        return sessions;
    }

    /// <summary>The window names of every session; empty when no server runs.</summary>
    public Dictionary<string, List<string>> ListWindows()
    {
        var windows = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (!IsInstalled)
        {
            return windows;
        }
        var outcome = Run("list-windows", "-a", "-F", "#{session_name}\t#{window_name}");
        if (!outcome.Succeeded)
        {
            return windows;
        }
        foreach (var line in Lines(outcome.StandardOutput))
        {
            var tab = line.IndexOf('\t');
            if (tab < 0)
            {
                continue;
            }
            var session = line[..tab];
            if (!windows.TryGetValue(session, out var names))
            {
                windows[session] = names = [];
            }
            names.Add(line[(tab + 1)..]);
        }
        return windows;
    }

    /// <summary>True when a session of exactly this name exists.</summary>
    public bool HasSession(string session) =>
        IsInstalled && Run("has-session", "-t", Exact(session)).Succeeded;

    /// <summary>
    /// Creates a detached session with one window per entry, in one tmux call. A window's
    /// command is the window's own program (no keys are typed into a shell); a shell follows
    /// it so the window stays open when it ends.
    /// </summary>
    public void CreateSession(
        string session,
        string directory,
        IReadOnlyList<WindowSpec> windows,
        IReadOnlyDictionary<string, string> environment)
    {
        RequireInstalled();
        var arguments = new List<string>();
        for (var i = 0; i < windows.Count; i++)
        {
            if (i == 0)
            {
                arguments.AddRange(["new-session", "-d", "-s", session]);
            }
            else
            {
                arguments.AddRange([";", "new-window", "-t", Exact(session) + ":"]);
            }
            AddWindowArguments(arguments, session, windows[i], directory, environment);
        }

        var outcome = Run([.. arguments]);
        if (!outcome.Succeeded)
        {
            throw new WorktreeToolsException(
                "TmuxSessionFailed",
                FailureKind.InvalidOperation,
                $"tmux could not create the session '{session}': {outcome.Reason}",
                session);
        }
    }

    /// <summary>Adds a window to a running session.</summary>
    public void NewWindow(
        string session,
        WindowSpec window,
        string directory,
        IReadOnlyDictionary<string, string> environment)
    {
        RequireInstalled();
        var arguments = new List<string> { "new-window", "-d", "-t", Exact(session) + ":" };
        AddWindowArguments(arguments, session, window, directory, environment);
        RunOrThrow(
            "TmuxWindowFailed",
            $"create the window '{window.Name}' in '{session}'",
            arguments);
    }

    /// <summary>Starts a window's program again in its (dead or living) pane.</summary>
    public void RespawnWindow(
        string session,
        WindowSpec window,
        string directory,
        IReadOnlyDictionary<string, string> environment)
    {
        RequireInstalled();
        var arguments = new List<string>
        {
            "respawn-pane", "-k", "-t", Target(session, window.Name), "-c", directory,
        };
        foreach (var (name, value) in environment)
        {
            arguments.AddRange(["-e", $"{name}={value}"]);
        }
        arguments.AddRange(ProgramOf(window));
        RunOrThrow(
            "TmuxWindowFailed",
            $"restart the window '{window.Name}' in '{session}'",
            arguments);
    }

    /// <summary>Every pane of a session, with its process and whether its program ended.</summary>
    public List<PaneInfo> ListPanes(string session) =>
        IsInstalled ? ReadPanes(["-s", "-t", Exact(session)]).Select(p => p.Pane).ToList() : [];

    /// <summary>Every pane of every session, by session name, in one tmux call.</summary>
    public ILookup<string, PaneInfo> ListAllPanes() =>
        (IsInstalled ? ReadPanes(["-a"]) : [])
            .ToLookup(p => p.Session, p => p.Pane, StringComparer.Ordinal);

    private List<(string Session, PaneInfo Pane)> ReadPanes(string[] scope)
    {
        var outcome = Run(
            ["list-panes", .. scope, "-F",
             "#{session_name}\t#{window_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_id}\t"
             + "#{pane_current_command}"]);
        if (!outcome.Succeeded)
        {
            return [];
        }
        var panes = new List<(string, PaneInfo)>();
        foreach (var line in Lines(outcome.StandardOutput))
        {
            var f = line.Split('\t');
            if (f.Length < 6 || !int.TryParse(f[2], out var pid))
            {
                continue;
            }
            var dead = f[3] == "1";

            // tmux 3.3 leaves pane_dead_status empty in list-panes; display-message has it.
            int? status = null;
            int? signal = null;
            if (dead && Run(
                    "display-message",
                    "-p",
                    "-t",
                    f[4],
                    "#{pane_dead_status}|#{pane_dead_signal}")
                is { Succeeded: true } shown)
            {
                var parts = shown.StandardOutput.Trim().Split('|');
                status = int.TryParse(parts[0], out var code) ? code : null;
                signal = parts.Length > 1 && int.TryParse(parts[1], out var number) ? number : null;
            }
            if (dead && status is null && signal is null)
            {
                // Limitation: tmux 3.3 sometimes has not collected the status yet; while the
                // process is a zombie, /proc still holds it. Otherwise it stays unknown.
                (status, signal) = ProcessTree.ExitStatus(pid);
            }
            panes.Add((f[0], new PaneInfo(f[1], pid, dead, status, f[5]) { ExitSignal = signal }));
        }
        return panes;
    }

    /// <summary>The last lines of a window's screen, or null when it does not exist.</summary>
    public string? CaptureWindow(string session, string window, int lines)
    {
        var outcome = Run(
            "capture-pane", "-p", "-J", "-S",
            (-lines).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-t", Target(session, window));
        return outcome.Succeeded ? outcome.StandardOutput : null;
    }

    /// <summary>
    /// Types text into a window exactly as given, as one paste (no key names are read from
    /// it, line breaks arrive as line breaks), then presses Enter.
    /// </summary>
    public void PasteIntoWindow(string session, string window, string text)
    {
        RequireInstalled();
        if (text.Length == 0)
        {
            RunOrThrow("TmuxSendFailed", $"send Enter to '{session}:{window}'",
                ["send-keys", "-t", Target(session, window), "Enter"]);
            return;
        }
        var buffer = $"worktreetools-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var loaded = CommandRunner.Run(
            "tmux",
            [.. prefix, "load-buffer", "-b", buffer, "-"],
            environment: TmuxEnvironment,
            standardInput: text);
        if (!loaded.Succeeded)
        {
            throw new WorktreeToolsException(
                "TmuxSendFailed",
                FailureKind.InvalidOperation,
                $"tmux could not take the text for '{session}:{window}': {loaded.Reason}",
                session);
        }
        RunOrThrow(
            "TmuxSendFailed",
            $"send the text to '{session}:{window}'",
            ["paste-buffer", "-d", "-p", "-r", "-b", buffer, "-t", Target(session, window),
             ";", "send-keys", "-t", Target(session, window), "Enter"]);
    }

    /// <summary>The process ids of every pane of a session; empty when it does not exist.</summary>
    public List<int> PaneProcessIds(string session)
    {
        if (!IsInstalled)
        {
            return [];
        }
        var outcome = Run("list-panes", "-s", "-t", Exact(session), "-F", "#{pane_pid}");
        return outcome.Succeeded
            ? Lines(outcome.StandardOutput).Select(int.Parse).ToList()
            : [];
    }

    /// <summary>Kills a session; returns false when it did not exist.</summary>
    public bool KillSession(string session) =>
        IsInstalled && Run("kill-session", "-t", Exact(session)).Succeeded;

    /// <summary>
    /// Attaches the terminal to a session, or switches the current client when already
    /// inside tmux. Returns when the user detaches.
    /// </summary>
    public void Attach(string session)
    {
        RequireInstalled();
        var inside = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TMUX"));
        var start = new ProcessStartInfo("tmux") { UseShellExecute = false };
        foreach (var argument in prefix)
        {
            start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add(inside ? "switch-client" : "attach-session");
        start.ArgumentList.Add("-t");
        start.ArgumentList.Add(Exact(session));

        // The terminal is inherited, so tmux draws straight to the user's screen.
        using var process = Process.Start(start)!;
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new WorktreeToolsException(
                "TmuxAttachFailed",
                FailureKind.InvalidOperation,
                $"tmux could not attach to '{session}' (exit code {process.ExitCode}). "
                + $"Attach by hand with: tmux{Socket()} attach -t ={session}",
                session);
        }
    }

    /// <summary>Kills the whole server; tests use it to clean up their private socket.</summary>
    public void KillServer()
    {
        if (IsInstalled)
        {
            Run("kill-server");
        }
    }

    /// <summary>Runs tmux with this server's socket and the given arguments.</summary>
    public CommandOutcome Run(params string[] arguments) =>
        CommandRunner.Run("tmux", [.. prefix, .. arguments], environment: TmuxEnvironment);

    private string Socket() => SocketName is null ? string.Empty : $" -L {SocketName}";

    private static void AddWindowArguments(
        List<string> arguments,
        string session,
        WindowSpec window,
        string directory,
        IReadOnlyDictionary<string, string> environment)
    {
        arguments.AddRange(["-c", directory, "-n", window.Name]);
        foreach (var (name, value) in environment)
        {
            arguments.AddRange(["-e", $"{name}={value}"]);
        }
        arguments.AddRange(ProgramOf(window));
        if (window.KeepDeadPane)
        {
            arguments.AddRange(
                [";", "set-option", "-w", "-t", Target(session, window.Name),
                    "remain-on-exit", "on"]);
        }
    }

    private static IEnumerable<string> ProgramOf(WindowSpec window)
    {
        if (window.Program is { Count: > 0 } program)
        {
            // exec through a fixed script: tmux hands a lone argument to a shell, this never.
            return ["sh", "-c", "exec \"$@\"", "sh", .. program];
        }
        return window.Command is { } command
            ? ["sh", "-c", KeepShellScript, "sh", command]
            : [];
    }

    private void RunOrThrow(string errorId, string what, IEnumerable<string> arguments)
    {
        var outcome = Run([.. arguments]);
        if (!outcome.Succeeded)
        {
            throw new WorktreeToolsException(
                errorId,
                FailureKind.InvalidOperation,
                $"tmux could not {what}: {outcome.Reason}",
                what);
        }
    }

    private static string Target(string session, string window) => $"={session}:={window}";

    private static string Exact(string session) => "=" + session;

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static void RequireInstalled()
    {
        if (!IsInstalled)
        {
            throw new WorktreeToolsException(
                "TmuxNotFound",
                FailureKind.NotInstalled,
                "tmux is not installed or not on PATH. Install it (apt-get install tmux), or "
                + "pass -NoSession to create the feature without a session.",
                "tmux");
        }
    }

    // Commands run from inside a tmux pane must not be taken for a nested client.
    private static readonly Dictionary<string, string?> TmuxEnvironment = new()
    {
        ["TMUX"] = null,
    };
}
