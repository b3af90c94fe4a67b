using System.Text;
using System.Text.RegularExpressions;

namespace WorktreeTools.Engine.Jobs;

/// <summary>Picks the lines of a job log that look like errors.</summary>
public static partial class RecentErrors
{
    private const int TailBytes = 64 * 1024;
    private const int MaxLines = 5;
    private const int MaxWidth = 200;

    // Words and markers that test runners, compilers and linters put on their error lines.
    [GeneratedRegex(
        @"(?i)(\berror\b|\bfailed\b|\bfailure\b|\bexception\b|\bfatal\b|\bpanic\b|"
        + @"^\s*FAIL\b|ERR!|\bassert)",
        RegexOptions.None,
        matchTimeoutMilliseconds: 1000)]
    private static partial Regex ErrorLine();

    /// <summary>
    /// The last few error-looking lines of the end of a log; empty when it has none.
    /// </summary>
    public static IReadOnlyList<string> FromLog(string? logPath)
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
            .Select(line => line.TrimEnd('\r').Trim())
            .Where(line => line.Length > 0
                && !line.StartsWith("--- WorktreeTools:", StringComparison.Ordinal))
            .Where(line => ErrorLine().IsMatch(line))
            .TakeLast(MaxLines)
            .Select(line => line.Length > MaxWidth ? line[..MaxWidth] + "…" : line)
            .ToArray();
    }
}
