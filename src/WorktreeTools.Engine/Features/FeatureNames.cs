using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace WorktreeTools.Engine.Features;

/// <summary>The rules that turn a ticket and description into names git and tmux accept.</summary>
public static partial class FeatureNames
{
    /// <summary>The longest ticket accepted.</summary>
    public const int MaxTicketLength = 64;

    /// <summary>The longest description accepted, before it becomes a slug.</summary>
    public const int MaxDescriptionLength = 200;

    /// <summary>The longest slug kept; longer ones are cut at a word boundary.</summary>
    public const int MaxSlugLength = 50;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex TicketPattern();

    /// <summary>
    /// Throws a <see cref="WorktreeToolsException"/> that says what is wrong with a ticket.
    /// </summary>
    public static void ValidateTicket(string? ticket)
    {
        if (string.IsNullOrEmpty(ticket))
        {
            throw InvalidTicket(ticket ?? string.Empty, "it is empty");
        }
        if (ticket.Length > MaxTicketLength)
        {
            throw InvalidTicket(ticket, $"it is longer than {MaxTicketLength} characters");
        }
        if (ticket.Any(char.IsControl))
        {
            throw InvalidTicket(ticket, "it contains a control character");
        }
        if (ticket.StartsWith('-'))
        {
            throw InvalidTicket(ticket, "it starts with '-', which git and tmux read as an option");
        }
        if (!TicketPattern().IsMatch(ticket))
        {
            var bad = ticket.FirstOrDefault(
                c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'));
            throw InvalidTicket(ticket, bad == default
                ? "it does not start with a letter or digit"
                : $"it contains '{Printable(bad)}'");
        }
        if (ticket.Contains("..", StringComparison.Ordinal))
        {
            throw InvalidTicket(ticket, "it contains '..', which git refuses in branch names");
        }
        if (ticket.EndsWith('.') || ticket.EndsWith(".lock", StringComparison.OrdinalIgnoreCase))
        {
            throw InvalidTicket(ticket, "it ends with '.' or '.lock', which git refuses");
        }
    }

    /// <summary>
    /// Turns a free-text description into a lower-case slug of ASCII letters, digits and dashes.
    /// </summary>
    public static string Slugify(string? description)
    {
        if (string.IsNullOrWhiteSpace(description))
        {
            return string.Empty;
        }
        if (description.Length > MaxDescriptionLength)
        {
            throw InvalidDescription(
                description, $"it is longer than {MaxDescriptionLength} characters");
        }
        if (description.Any(char.IsControl))
        {
            throw InvalidDescription(description, "it contains a control character");
        }

        // Letters with accents keep their base letter ("Café" gives "cafe").
        var builder = new StringBuilder(description.Length);
        var pendingDash = false;
        foreach (var c in description.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }
            if (char.IsAsciiLetterOrDigit(c))
            {
                if (pendingDash && builder.Length > 0)
                {
                    builder.Append('-');
                }
                builder.Append(char.ToLowerInvariant(c));
                pendingDash = false;
            }
            else
            {
                pendingDash = true;
            }
        }

        var slug = builder.ToString();
        if (slug.Length == 0)
        {
            throw InvalidDescription(
                description, "it has no letters or digits to make a branch name from");
        }
        if (slug.Length > MaxSlugLength)
        {
            var cut = slug.LastIndexOf('-', MaxSlugLength);
            slug = slug[..(cut > 0 ? cut : MaxSlugLength)];
        }
        return slug;
    }

    /// <summary>
    /// The tmux session name of a ticket: the ticket with every '.' replaced by '_'.
    /// </summary>
    /// <remarks>
    /// tmux itself rewrites '.' and ':' in session names; this makes the rewrite ours.
    /// </remarks>
    public static string SessionName(string ticket) => ticket.Replace('.', '_');

    /// <summary>Expands a branch template such as <c>feature/{Ticket}-{Description}</c>.</summary>
    public static string ExpandBranch(string template, string ticket, string slug)
    {
        var branch = template
            .Replace("{Ticket}", ticket, StringComparison.Ordinal)
            .Replace("{Description}", slug, StringComparison.Ordinal);

        // Without a description, drop the separator the template put before it.
        if (slug.Length == 0)
        {
            branch = branch.Replace("-/", "/", StringComparison.Ordinal)
                .Replace("_/", "/", StringComparison.Ordinal)
                .TrimEnd('-', '_', '/');
        }
        ValidateBranch(branch, template);
        return branch;
    }

    /// <summary>
    /// Matches the branch names a template gives for a ticket, with any description or none.
    /// </summary>
    public static System.Text.RegularExpressions.Regex TicketBranchPattern(
        string template,
        string ticket)
    {
        var bare = System.Text.RegularExpressions.Regex.Escape(ExpandBranch(template, ticket, ""));
        var parts = template.Replace("{Ticket}", ticket, StringComparison.Ordinal)
            .Split("{Description}");
        var described = string.Join(
            "(?<slug>[^/]+)", parts.Select(System.Text.RegularExpressions.Regex.Escape));
        return new System.Text.RegularExpressions.Regex($"^(?:{bare}|{described})$");
    }

    /// <summary>
    /// The description that gives this branch from the template, when one does; else null.
    /// </summary>
    public static string? SlugOf(string template, string ticket, string branch)
    {
        var match = TicketBranchPattern(template, ticket).Match(branch);
        if (!match.Success)
        {
            return null;
        }
        var slug = match.Groups["slug"].Success ? match.Groups["slug"].Value : string.Empty;
        return slug.Length > 0 && Slugify(slug) == slug ? slug : null;
    }

    /// <summary>Checks a branch name against git's ref-format rules.</summary>
    public static void ValidateBranch(string branch, string template)
    {
        string? problem = null;
        if (branch.Length == 0 || branch.StartsWith('-') || branch.StartsWith('/'))
        {
            problem = "it is empty or starts with '-' or '/'";
        }
        else if (branch.Contains("..") || branch.Contains("//") || branch.Contains("@{")
            || branch.EndsWith('/') || branch.EndsWith('.') || branch.EndsWith(".lock"))
        {
            problem = "it contains '..', '//' or '@{', or ends with '/', '.' or '.lock'";
        }
        else if (branch.Any(c => char.IsControl(c) || c is ' ' or '~' or '^' or ':' or '?'
            or '*' or '[' or '\\'))
        {
            problem = "it contains a space or one of ~ ^ : ? * [ \\";
        }
        else if (branch.Split('/').Any(part => part.StartsWith('.')))
        {
            problem = "a part of it starts with '.'";
        }
        if (problem is not null)
        {
            throw new WorktreeToolsException(
                "InvalidBranchName",
                FailureKind.InvalidArgument,
                $"The branch name '{branch}' made from the template '{template}' is not valid: "
                + $"{problem}. Change BranchTemplate in .worktreetools.psd1.",
                branch);
        }
    }

    private static string Printable(string text) =>
        string.Concat(text.Select(Printable));

    private static string Printable(char c) =>
        char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString();

    private static WorktreeToolsException InvalidTicket(string ticket, string problem) =>
        new(
            "InvalidTicket",
            FailureKind.InvalidArgument,
            $"The ticket '{Printable(ticket)}' cannot be used: {problem}. "
            + $"A ticket is 1 to {MaxTicketLength} letters, digits, '.', '_' or '-', "
            + "starting with a letter or digit, such as 'ABC-123'.",
            ticket);

    private static WorktreeToolsException InvalidDescription(string description, string problem) =>
        new(
            "InvalidDescription",
            FailureKind.InvalidArgument,
            $"The description cannot be used: {problem}. Use a few words, such as 'Add login'.",
            description);
}
