using System.Text.RegularExpressions;
using WorktreeTools.Engine.Features;
using WorktreeTools.Engine.Reports;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class FeatureReportTests
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static FeatureStatus Status(string ticket, string? failedReason = null)
    {
        var record = new FeatureRecord(
            ticket, "x", $"feature/{ticket}", $"/tmp/{ticket}", "origin/main", ticket, Noon, true);
        return new FeatureStatus(new Feature(record, record.Path))
        {
            FailedReason = failedReason,
        };
    }

    private static JobLogEntry Run(
        long seq, string ticket, JobStatus status, int startSec, int seconds, int attempt = 1) =>
        new(seq, "host", Noon.AddSeconds(startSec), TimeSpan.FromSeconds(seconds), 0, 0,
            status == JobStatus.Succeeded ? 0 : 1, 0, "make test", ticket, "test", status,
            attempt, null, null, null, null, null);

    [Fact]
    public void I_can_render_a_page_with_failures_highlighted_and_a_bar_per_run()
    {
        var statuses = new[] { Status("ABC-1"), Status("ABC-2", "the last run of 'test' failed") };
        var runs = new[]
        {
            Run(1, "ABC-1", JobStatus.Succeeded, 0, 4),
            Run(2, "ABC-2", JobStatus.Failed, 1, 6),
            Run(3, "ABC-2", JobStatus.NotStarted, 8, 0, attempt: 0),
        };

        var html = FeatureReport.Render(statuses, runs, "/src/app", Noon);

        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Single(Regex.Matches(html, "<tr class=\"failed\">"));
        Assert.Contains("the last run of &#39;test&#39; failed", html);
        var bars = Regex.Matches(html, "<rect [^>]*fill=\"(#[0-9a-f]{6})\"");
        Assert.Equal(
            [FeatureReport.StatusColours[JobStatus.Succeeded],
             FeatureReport.StatusColours[JobStatus.Failed]],
            bars.Select(m => m.Groups[1].Value));
    }

    [Fact]
    public void I_get_a_page_that_loads_and_runs_nothing_whatever_the_names_hold()
    {
        var hostile = Status("<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>");
        var runs = new[] { Run(1, hostile.Ticket!, JobStatus.Failed, 0, 2) };

        var html = FeatureReport.Render([hostile], runs, "/src/<b>app</b>", Noon);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b>", html);
        Assert.Contains("&lt;script&gt;", html);
        var addresses = Regex.Matches(html, "<[^>]*\\s(?:src|href)\\s*=|https?://")
            .Select(m => m.Value).ToList();
        Assert.Equal(["http://"], addresses);
    }

    [Fact]
    public void I_get_a_note_instead_of_a_chart_when_no_job_has_run()
    {
        var html = FeatureReport.Render([Status("ABC-1")], [], "/src/app", Noon);

        Assert.DoesNotContain("<svg", html);
        Assert.Contains("No job has run in these features yet.", html);
    }
}
