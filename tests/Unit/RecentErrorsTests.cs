using WorktreeTools.Engine.Jobs;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class RecentErrorsTests : IDisposable
{
    private readonly string log = Path.Combine(
        Path.GetTempPath(),
        $"wt-log-{Guid.NewGuid():N}.log");

    public void Dispose() => File.Delete(log);

    [Fact]
    public void I_can_get_the_last_error_lines_of_a_log()
    {
        var lines = Enumerable.Range(1, 10).Select(i => $"ok {i}")
            .Concat(["src/a.c:3: error: x undeclared", "  FAIL tests/login.test.js", "done"])
            .Concat(Enumerable.Range(1, 7).Select(i => $"Error {i}"));
        File.WriteAllLines(log, lines);

        var errors = RecentErrors.FromLog(log);

        Assert.Equal(["Error 3", "Error 4", "Error 5", "Error 6", "Error 7"], errors);
    }

    [Fact]
    public void I_get_nothing_from_a_clean_or_missing_log()
    {
        File.WriteAllText(log, "all good\n--- WorktreeTools: output cut at 10 bytes ---\n");

        Assert.Empty(RecentErrors.FromLog(log));
        Assert.Empty(RecentErrors.FromLog(log + ".missing"));
        Assert.Empty(RecentErrors.FromLog(null));
    }

    [Fact]
    public void I_get_long_lines_shortened()
    {
        File.WriteAllText(log, "error: " + new string('x', 500) + "\n");

        var line = Assert.Single(RecentErrors.FromLog(log));

        Assert.True(line.Length <= 201);
    }

    [Fact]
    public void I_can_pick_error_lines_with_my_own_patterns()
    {
        File.WriteAllText(log, "E1001 bad thing\nerror: ignored here\nE2002 worse\nfine\n");

        var errors = RecentErrors.FromLog(log, RecentErrors.Combine(["^E\\d{4}\\b"]));

        Assert.Equal(["E1001 bad thing", "E2002 worse"], errors);
    }

    [Fact]
    public void I_get_error_lines_of_coloured_output_without_the_colour_codes()
    {
        File.WriteAllText(log, "\u001b[32mok\u001b[0m 1\n\u001b[31merror\u001b[0m: bad thing\n"
            + "\u001b[1;31mFAIL\u001b[0m src/a.test.js\n\u001b]0;title\u0007done\n");

        var errors = RecentErrors.FromLog(log);

        Assert.Equal(["error: bad thing", "FAIL src/a.test.js"], errors);
    }

    [Fact]
    public void I_can_turn_error_lines_off_with_an_empty_list_of_patterns()
    {
        File.WriteAllText(log, "error: one\nall fine\n");

        Assert.Empty(RecentErrors.FromLog(log, RecentErrors.Combine([])));
    }
}
