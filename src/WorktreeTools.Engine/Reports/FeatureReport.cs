using System.Globalization;
using System.Net;
using System.Text;

namespace WorktreeTools.Engine.Reports;

/// <summary>
/// Writes one self-contained HTML page: the features table with failures highlighted, and
/// a timeline of each feature's last job runs drawn as inline SVG. It loads nothing from
/// anywhere and runs no script.
/// </summary>
public static class FeatureReport
{
    /// <summary>The background of a failed feature's row.</summary>
    public const string FailedRowColour = "#f8d7da";

    /// <summary>The fill of each run status's bar in the timeline.</summary>
    public static IReadOnlyDictionary<JobStatus, string> StatusColours { get; } =
        new Dictionary<JobStatus, string>
        {
            [JobStatus.Succeeded] = "#2e7d32",
            [JobStatus.Failed] = "#c62828",
            [JobStatus.TimedOut] = "#ef6c00",
            [JobStatus.Cancelled] = "#757575",
        };

    private const int LabelWidth = 130;
    private const int ChartWidth = 860;
    private const int RowHeight = 26;
    private const int AxisHeight = 30;

    /// <summary>
    /// The page for <paramref name="statuses"/>, with the runs in <paramref name="runs"/>
    /// (rows of the joblog) drawn per ticket.
    /// </summary>
    public static string Render(
        IReadOnlyList<FeatureStatus> statuses,
        IReadOnlyList<JobLogEntry> runs,
        string repository,
        DateTimeOffset generated)
    {
        var failed = statuses.Count(s => s.Failed);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<title>Features of ").Append(Encode(repository)).Append("</title>\n")
            .Append("<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n")
            .Append("<h1>Features</h1>\n<p class=\"meta\">")
            .Append(Encode(repository)).Append(" &middot; ")
            .Append(statuses.Count).Append(statuses.Count == 1 ? " feature" : " features")
            .Append(", ").Append(failed).Append(" failed &middot; ")
            .Append(Encode(generated.ToString(
                "yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)))
            .Append("</p>\n");
        AppendTable(html, statuses);
        html.Append("<h2>Last jobs</h2>\n");
        AppendTimeline(html, statuses, runs);
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private const string Style =
        "body{font-family:system-ui,sans-serif;margin:24px;color:#1a1a1a;background:#ffffff}\n"
        + "table{border-collapse:collapse;font-size:14px}\n"
        + "th,td{border-bottom:1px solid #dddddd;padding:4px 8px;text-align:left;"
        + "vertical-align:top}\n"
        + "th{background:#f0f0f0}\n"
        + $"tr.failed td{{background:{FailedRowColour}}}\n"
        + "td.reason{font-weight:600}\n"
        + "pre{margin:4px 0 0;font-size:12px;white-space:pre-wrap}\n"
        + ".meta{color:#555555}\n"
        + "svg text{font-size:12px;font-family:system-ui,sans-serif}\n";

    private static void AppendTable(StringBuilder html, IReadOnlyList<FeatureStatus> statuses)
    {
        html.Append("<table>\n<thead><tr><th>Ticket</th><th>Branch</th><th>Changes</th>")
            .Append("<th>Base +/-</th><th>Upstream +/-</th><th>Session</th><th>Agent</th>")
            .Append("<th>Last jobs</th><th>Pull request</th><th>CPU %</th><th>MB</th>")
            .Append("<th>Failed</th></tr></thead>\n<tbody>\n");
        foreach (var s in statuses)
        {
            html.Append(s.Failed ? "<tr class=\"failed\">" : "<tr>");
            Cell(html, s.Ticket ?? Path.GetFileName(s.Path));
            Cell(html, s.Branch ?? "(detached)");
            Cell(html, s.Dirty
                ? $"{s.Modified} modified, {s.Untracked} untracked, {s.Conflicted} conflicted"
                : "clean");
            Cell(html, s.AheadOfBase is null ? "" : $"+{s.AheadOfBase} / -{s.BehindBase}");
            Cell(html, s.Upstream is null ? "none"
                : $"{s.Upstream} +{s.AheadOfUpstream} / -{s.BehindUpstream}");
            Cell(html, s.SessionAlive ? "up" : "down");
            Cell(html, s.Agent?.ToString() ?? "");
            Cell(html, string.Join(", ", s.LastJobs.Select(j => $"{j.Job}: {j.Status}")));
            Cell(html, s.PullRequest?.ToString() ?? "not asked");
            Cell(html, s.CpuPercent.ToString("0.#", CultureInfo.InvariantCulture));
            Cell(html, s.MemoryMB.ToString("0.#", CultureInfo.InvariantCulture));
            html.Append(s.Failed ? "<td class=\"reason\">" : "<td>")
                .Append(Encode(s.FailedReason ?? "no"));
            if (s.RecentErrors.Count > 0)
            {
                html.Append("<pre>").Append(Encode(string.Join("\n", s.RecentErrors)))
                    .Append("</pre>");
            }
            html.Append("</td></tr>\n");
        }
        html.Append("</tbody>\n</table>\n");
    }

    private static void AppendTimeline(
        StringBuilder html,
        IReadOnlyList<FeatureStatus> statuses,
        IReadOnlyList<JobLogEntry> runs)
    {
        // Only runs that started have a place in time; skipped and unstarted ones do not.
        var started = runs.Where(r => r.Attempt > 0 && StatusColours.ContainsKey(r.Status))
            .ToList();
        if (started.Count == 0)
        {
            html.Append("<p class=\"meta\">No job has run in these features yet.</p>\n");
            return;
        }
        var tickets = statuses.Select(s => s.Ticket).OfType<string>()
            .Where(t => started.Any(r => r.Ticket == t))
            .ToList();
        var first = started.Min(r => r.StartTime);
        var last = started.Max(r => r.StartTime + r.Runtime);
        var span = Math.Max((last - first).TotalSeconds, 1);
        double X(DateTimeOffset when) =>
            LabelWidth + (when - first).TotalSeconds / span * ChartWidth;

        var height = AxisHeight + tickets.Count * RowHeight;
        var width = LabelWidth + ChartWidth + 60;
        var clock = span < 10 ? "HH:mm:ss.f" : "HH:mm:ss";
        html.Append(CultureInfo.InvariantCulture,
            $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" ")
            .Append("role=\"img\" aria-label=\"Timeline of the last job runs\">\n");

        // The time axis: five ticks over the span, labelled with the local time (to a tenth
        // of a second when the span is short).
        for (var i = 0; i <= 4; i++)
        {
            var when = first + TimeSpan.FromSeconds(span * i / 4);
            var x = Number(X(when));
            html.Append(CultureInfo.InvariantCulture,
                    $"<line x1=\"{x}\" y1=\"{AxisHeight - 6}\" x2=\"{x}\" y2=\"{height}\" ")
                .Append("stroke=\"#e0e0e0\"/>")
                .Append(CultureInfo.InvariantCulture,
                    $"<text x=\"{x}\" y=\"{AxisHeight - 10}\" text-anchor=\"middle\">")
                .Append(when.ToLocalTime().ToString(clock, CultureInfo.InvariantCulture))
                .Append("</text>\n");
        }

        for (var row = 0; row < tickets.Count; row++)
        {
            var y = AxisHeight + row * RowHeight;
            html.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{y + 17}\">")
                .Append(Encode(tickets[row])).Append("</text>\n");
            foreach (var run in started.Where(r => r.Ticket == tickets[row]))
            {
                var x = X(run.StartTime);
                var w = Math.Max(X(run.StartTime + run.Runtime) - x, 4);
                html.Append(CultureInfo.InvariantCulture,
                        $"<rect x=\"{Number(x)}\" y=\"{y + 4}\" width=\"{Number(w)}\" ")
                    .Append(CultureInfo.InvariantCulture,
                        $"height=\"{RowHeight - 8}\" fill=\"{StatusColours[run.Status]}\">")
                    .Append("<title>").Append(Encode(
                        $"{run.Ticket} {run.Job}: {run.Status}, exit code {run.ExitCode}, "
                        + $"started {run.StartTime.ToLocalTime():HH:mm:ss}, "
                        + $"{run.Runtime.TotalSeconds:0.###} s"))
                    .Append("</title></rect>\n");
            }
        }
        html.Append("</svg>\n<p class=\"meta\">");
        html.AppendJoin(" &middot; ", StatusColours.Select(c =>
            $"<span style=\"color:{c.Value}\">&#9632;</span> {c.Key}"));
        html.Append("</p>\n");
    }

    private static void Cell(StringBuilder html, string text) =>
        html.Append("<td>").Append(Encode(text)).Append("</td>");

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static string Number(double value) =>
        value.ToString("0.##", CultureInfo.InvariantCulture);
}
