using System.Collections;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Queue;
using Xunit;

namespace WorktreeTools.Tests;

public class QueueConfigTests
{
    private const string File = "/repo/.worktreetools.psd1";

    [Fact]
    public void I_get_three_attempts_ten_seconds_apart_without_a_queue_key()
    {
        var config = FeatureConfig.Default;

        Assert.Equal(new QueuePolicy(3, TimeSpan.FromSeconds(10)), config.Queue);
        Assert.Equal("default", config.SourceOf("Queue"));
        Assert.Contains("Queue", FeatureConfig.Keys);
        Assert.Same(config.Queue, config.ValueOf("Queue"));
    }

    [Fact]
    public void I_can_set_the_retry_policy_and_see_where_it_came_from()
    {
        var data = new Hashtable
        {
            ["queue"] = new Hashtable { ["maxattempts"] = 5, ["RetryDelaySec"] = 0 },
        };

        var config = FeatureConfig.FromData(data, File);

        Assert.Equal(5, config.Queue.MaxAttempts);
        Assert.Equal(TimeSpan.Zero, config.Queue.RetryDelay);
        Assert.Equal(File, config.SourceOf("Queue"));
        var shown = config.ValueOf("Queue")!.ToString();
        Assert.Equal("@{ MaxAttempts = 5; RetryDelaySec = 0 }", shown);
    }

    [Fact]
    public void I_can_set_one_field_and_keep_the_default_of_the_other()
    {
        var data = new Hashtable { ["Queue"] = new Hashtable { ["MaxAttempts"] = 1 } };

        var config = FeatureConfig.FromData(data, File);

        Assert.Equal(new QueuePolicy(1, TimeSpan.FromSeconds(10)), config.Queue);
    }

    public static TheoryData<object?, string> BadValues => new()
    {
        { "3 attempts", "Queue" },
        { 3, "Queue" },
        { new Hashtable { ["MaxAttempts"] = 0 }, "Queue.MaxAttempts" },
        { new Hashtable { ["MaxAttempts"] = "3" }, "Queue.MaxAttempts" },
        { new Hashtable { ["RetryDelaySec"] = -1 }, "Queue.RetryDelaySec" },
        { new Hashtable { ["RetryDelaySec"] = 1.5 }, "Queue.RetryDelaySec" },
        { new Hashtable { ["Backoff"] = 2 }, "Queue.Backoff" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void I_can_try_a_bad_queue_value_and_get_an_error_naming_key_and_file(
        object? value,
        string named)
    {
        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureConfig.FromData(new Hashtable { ["Queue"] = value }, File));

        Assert.Equal("InvalidConfiguration", error.ErrorId);
        Assert.Contains($"'{named}'", error.Message);
        Assert.Contains(File, error.Message);
    }
}
