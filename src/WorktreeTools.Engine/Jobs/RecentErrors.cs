using System.Text;
using System.Text.RegularExpressions;

namespace WorktreeTools.Engine.Jobs;

/// <summary>Picks the lines of a job log that look like errors.</summary>
public static class RecentErrors
{
    private const int TailBytes = 64 * 1024;
    private const int MaxLines = 5;
    private const int MaxWidth = 200;

    // Words and markers that test runners, compilers and linters put on their error lines.
    private static readonly string[] Defaults =
    [
        @"(?i)\b(error|failed|failure|exception|fatal|panic)\b",
        @"^\s*FAIL\b",
        @"ERR!",
        @"(?i)\bassert",
    ];

    private static readonly Regex DefaultRegex = Combine(Defaults);

    // Colour and cursor codes (CSI and OSC sequences) that tools forced into colour write: an
    // escape before "error" hides the word boundary, and the codes garble tables and pages.
    private static readonly Regex Escapes = new(
        @"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])",
        RegexOptions.CultureInvariant);

    /// <summary>The patterns used when the configuration names none.</summary>
    public static IReadOnlyList<string> DefaultPatterns => Defaults;

    /// <summary>
    /// One expression that matches a line matched by any of the patterns; none matches no line.
    /// </summary>
    public static Regex Combine(IEnumerable<string> patterns)
    {
        var parts = patterns.Select(p => $"(?:{p})").ToList();

        // An empty list (ErrorPatterns = @()) turns error lines off; joined, it would be the
        // empty expression, which matches every line.
        return new(
            parts.Count == 0 ? "(?!)" : string.Join("|", parts),
            RegexOptions.CultureInvariant,
            TimeSpan.FromSeconds(1));
    }

    /// <summary>
    /// The last few error-looking lines of the end of a log, by the default patterns.
    /// </summary>
    public static IReadOnlyList<string> FromLog(string? logPath) => FromLog(logPath, DefaultRegex);

    /// <summary>
    /// The last few lines of the end of a log that match <paramref name="errorLine"/>; empty
    /// when it has none.
    /// </summary>
    public static IReadOnlyList<string> FromLog(string? logPath, Regex errorLine)
    {
        if (logPath is null || !File.Exists(logPath))
        {
            return [];
        }
        string tail;
        try
        {
            using var stream = new FileStream(
                logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var size = (int)Math.Min(stream.Length, TailBytes);
            stream.Seek(-size, SeekOrigin.End);
            var buffer = new byte[size];
            stream.ReadExactly(buffer);
            tail = Encoding.UTF8.GetString(buffer);
        }
        catch (IOException)
        {
            return [];
        }
        return tail.Split('\n')
            .Select(line => Escapes.Replace(line, string.Empty).TrimEnd('\r').Trim())
            .Where(line => line.Length > 0
                && !line.StartsWith("--- WorktreeTools:", StringComparison.Ordinal))
            .Where(line => Matches(errorLine, line))
            .TakeLast(MaxLines)
            .Select(line => line.Length > MaxWidth ? line[..MaxWidth] + "…" : line)
            .ToArray();
    }

    private static bool Matches(Regex errorLine, string line)
    {
        try
        {
            return errorLine.IsMatch(line);
        }
        catch (RegexMatchTimeoutException)
        {
            // Limitation: a user's pattern that backtracks for too long on a line skips it.
            return false;
        }
    }
}
