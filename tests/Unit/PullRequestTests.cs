using WorktreeTools.Engine.Remote;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class PullRequestTests
{
    private const string Listing = """
        [
          {"number": 7, "title": "Old try", "url": "https://example.test/pr/7",
           "state": "CLOSED", "isDraft": false, "headRefName": "feature/ABC-1-login",
           "isCrossRepository": false, "reviewDecision": "", "statusCheckRollup": []},
          {"number": 9, "title": "Login", "url": "https://example.test/pr/9",
           "state": "OPEN", "isDraft": true, "headRefName": "feature/ABC-1-login",
           "isCrossRepository": false, "reviewDecision": "CHANGES_REQUESTED",
           "statusCheckRollup": [
             {"__typename": "CheckRun", "status": "COMPLETED", "conclusion": "SUCCESS"},
             {"__typename": "CheckRun", "status": "COMPLETED", "conclusion": "FAILURE"},
             {"__typename": "CheckRun", "status": "IN_PROGRESS", "conclusion": ""},
             {"__typename": "StatusContext", "state": "SUCCESS"},
             {"__typename": "StatusContext", "state": "PENDING"}]},
          {"number": 12, "title": "Fork", "url": "https://example.test/pr/12",
           "state": "OPEN", "isDraft": false, "headRefName": "feature/ABC-2",
           "isCrossRepository": true, "reviewDecision": "APPROVED", "statusCheckRollup": []},
          {"number": 3, "title": "Done", "url": "https://example.test/pr/3",
           "state": "MERGED", "isDraft": false, "headRefName": "feature/ABC-3",
           "isCrossRepository": false, "reviewDecision": "APPROVED"}
        ]
        """;

    [Fact]
    public void I_get_the_open_pull_request_of_a_branch_with_its_review_and_checks()
    {
        var pr = PullRequestReader.FromJson(Listing).For("feature/ABC-1-login");

        Assert.Equal(PullRequestState.Open, pr.State);
        Assert.Equal(9, pr.Number);
        Assert.True(pr.IsDraft);
        Assert.Equal("ChangesRequested", pr.Review);
        Assert.Equal((2, 1, 2), (pr.ChecksPassed, pr.ChecksFailed, pr.ChecksPending));
        Assert.Equal("2 passed, 1 failed, 2 pending", pr.Checks);
        Assert.Equal("#9 Draft (ChangesRequested; 2 passed, 1 failed, 2 pending)", pr.ToString());
    }

    [Fact]
    public void I_get_None_for_a_branch_whose_only_pull_request_comes_from_a_fork()
    {
        var reader = PullRequestReader.FromJson(Listing);

        Assert.Equal(PullRequestState.None, reader.For("feature/ABC-2").State);
        Assert.Equal(PullRequestState.None, reader.For("feature/nothing").State);
        Assert.Equal(PullRequestState.Merged, reader.For("feature/ABC-3").State);
    }

    [Fact]
    public void I_get_Unknown_with_the_reason_when_gh_cannot_answer()
    {
        var reader = PullRequestReader.Failed("gh is not logged in; run 'gh auth login'");

        var pr = reader.For("feature/ABC-1-login");

        Assert.Equal(PullRequestState.Unknown, pr.State);
        Assert.Contains("gh auth login", pr.Reason);
        Assert.Null(pr.Number);
    }

    [Theory]
    [InlineData("{\"number\": 1}")]
    [InlineData("not json")]
    public void I_get_an_error_for_output_that_is_not_a_list_of_pull_requests(string json)
    {
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => PullRequestReader.FromJson(json));
    }

    [Fact]
    public void I_get_Unknown_for_the_one_pull_request_whose_state_is_new_to_me()
    {
        const string json = """
            [{"number": 1, "state": "SIDEWAYS", "headRefName": "b"},
             {"number": 2, "state": "OPEN", "headRefName": "c"}]
            """;

        var reader = PullRequestReader.FromJson(json);

        Assert.Equal(PullRequestState.Unknown, reader.For("b").State);
        Assert.Contains("SIDEWAYS", reader.For("b").Reason);
        Assert.Equal(PullRequestState.Open, reader.For("c").State);
    }

    [Fact]
    public void I_get_a_pull_request_from_gh_output_with_fields_of_the_wrong_type()
    {
        const string json = """
            [{"number": "9", "state": "OPEN", "headRefName": "feature/ABC-1-login",
              "statusCheckRollup": [
                1, "x", null, {"status": "COMPLETED", "conclusion": "SUCCESS"}]}]
            """;

        var pr = PullRequestReader.FromJson(json).For("feature/ABC-1-login");

        Assert.Equal(PullRequestState.Open, pr.State);
        Assert.Null(pr.Number);
        Assert.Equal((1, 0, 0), (pr.ChecksPassed, pr.ChecksFailed, pr.ChecksPending));
    }
}
