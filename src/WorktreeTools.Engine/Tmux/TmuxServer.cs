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

    /// <summary>Uses the given socket name, or the default server when it is null or empty.</summary>
    public TmuxServer(string? socketName)
    {
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
            arguments.AddRange(["-c", directory, "-n", windows[i].Name]);
            foreach (var (name, value) in environment)
            {
                arguments.AddRange(["-e", $"{name}={value}"]);
            }
            if (windows[i].Command is { } command)
            {
                arguments.AddRange(["sh", "-c", KeepShellScript, "sh", command]);
            }
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
