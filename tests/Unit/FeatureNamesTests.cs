using WorktreeTools.Engine;
using WorktreeTools.Engine.Features;
using Xunit;

namespace WorktreeTools.Tests;

public class FeatureNamesTests
{
    [Theory]
    [InlineData("Add login!", "add-login")]
    [InlineData("  Fix   the  BUG ", "fix-the-bug")]
    [InlineData("Café crème", "cafe-creme")]
    [InlineData("a;b$(rm -rf)`c`", "a-b-rm-rf-c")]
    public void I_can_turn_a_description_into_a_slug(string description, string slug)
    {
        Assert.Equal(slug, FeatureNames.Slugify(description));
    }

    [Fact]
    public void I_get_a_slug_cut_at_a_word_boundary_when_it_is_long()
    {
        var slug = FeatureNames.Slugify(string.Join(' ', Enumerable.Repeat("word", 30)));

        Assert.True(slug.Length <= FeatureNames.MaxSlugLength);
        Assert.EndsWith("word", slug);
    }

    [Theory]
    [InlineData("!!!")]
    [InlineData("line\nbreak")]
    public void I_can_try_a_description_without_letters_or_with_control_characters(string text)
    {
        var error = Assert.Throws<WorktreeToolsException>(() => FeatureNames.Slugify(text));

        Assert.Equal("InvalidDescription", error.ErrorId);
    }

    [Theory]
    [InlineData("ABC-123")]
    [InlineData("REL-1.2")]
    [InlineData("x")]
    [InlineData("a_b")]
    public void I_can_use_ordinary_tickets(string ticket)
    {
        FeatureNames.ValidateTicket(ticket);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("a..b")]
    [InlineData("a:b")]
    [InlineData("a~b")]
    [InlineData("a^b")]
    [InlineData("tab\there")]
    [InlineData("-rf")]
    [InlineData("$(reboot)")]
    [InlineData("a;b")]
    [InlineData("a|b")]
    [InlineData("a`b")]
    [InlineData("a/b")]
    [InlineData("end.")]
    [InlineData("x.lock")]
    [InlineData("é")]
    [InlineData("..")]
    [InlineData(".x")]
    [InlineData("_x")]
    public void I_can_try_a_ticket_git_or_tmux_cannot_take_and_get_an_error(string ticket)
    {
        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureNames.ValidateTicket(ticket));

        Assert.Equal("InvalidTicket", error.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public void I_can_try_an_overlong_ticket_and_get_an_error()
    {
        var ticket = new string('A', FeatureNames.MaxTicketLength + 1);

        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureNames.ValidateTicket(ticket));

        Assert.Contains("longer than", error.Message);
    }

    [Fact]
    public void I_get_control_characters_shown_escaped_in_the_error()
    {
        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureNames.ValidateTicket("a\u001b[31m"));

        Assert.DoesNotContain('\u001b', error.Message);
        Assert.Contains("\\u001B", error.Message);
    }

    [Theory]
    [InlineData("ABC-1", "ABC-1")]
    [InlineData("REL-1.2", "REL-1_2")]
    public void I_get_a_session_name_tmux_keeps_as_it_is(string ticket, string session)
    {
        Assert.Equal(session, FeatureNames.SessionName(ticket));
    }

    [Theory]
    [InlineData("feature/{Ticket}-{Description}", "ABC-1", "add-login", "feature/ABC-1-add-login")]
    [InlineData("feature/{Ticket}-{Description}", "ABC-1", "", "feature/ABC-1")]
    [InlineData("{Ticket}/{Description}", "ABC-1", "", "ABC-1")]
    public void I_can_expand_a_branch_template(
        string template,
        string ticket,
        string slug,
        string branch)
    {
        Assert.Equal(branch, FeatureNames.ExpandBranch(template, ticket, slug));
    }

    [Fact]
    public void I_can_try_a_template_that_makes_a_bad_branch_and_get_an_error()
    {
        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureNames.ExpandBranch("bad name/{Ticket}", "ABC-1", "x"));

        Assert.Equal("InvalidBranchName", error.ErrorId);
    }
}
