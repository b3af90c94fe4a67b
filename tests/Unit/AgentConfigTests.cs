using System.Collections;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Agents;
using WorktreeTools.Engine.Configuration;
using Xunit;

namespace WorktreeTools.Tests;

public class AgentConfigTests
{
    private const string File = "/repo/.worktreetools.psd1";

    [Fact]
    public void I_get_claude_with_the_prompt_as_its_argument_by_default()
    {
        var config = AgentConfig.Default;

        Assert.True(config.Enabled);
        Assert.Equal("claude", config.Command);
        Assert.Equal(["{Prompt}"], config.Arguments);
        Assert.Equal(PromptDelivery.Argument, config.Prompt);
        Assert.Equal(".worktreetools/prompts", config.Templates);
        Assert.Equal(AgentConfig.DefaultWaitingPatterns.Count, config.WaitingPatterns.Count);
        Assert.Equal("claude", FeatureConfig.Default.Agent.Command);
    }

    [Fact]
    public void I_get_the_defaults_from_an_empty_agent_table()
    {
        var config = AgentConfig.FromData(new Hashtable(), File);

        Assert.Equal("claude", config.Command);
        Assert.Equal(["{Prompt}"], config.Arguments);
        Assert.Equal(PromptDelivery.Argument, config.Prompt);
        Assert.Equal(".worktreetools/prompts", config.Templates);
        Assert.Equal(
            AgentConfig.DefaultWaitingPatterns,
            config.WaitingPatterns.Select(p => p.ToString()));
    }

    [Theory]
    [InlineData("Do you want to make this edit?")]
    [InlineData("Apply the change? [y/N]")]
    [InlineData("Continue (y/n)")]
    [InlineData(">")]
    [InlineData("  ❯ ")]
    [InlineData("  ? for shortcuts")]
    public void I_can_rely_on_the_default_patterns_to_see_a_prompt(string line)
    {
        Assert.Contains(AgentConfig.Default.WaitingPatterns, p => p.IsMatch(line));
    }

    [Theory]
    [InlineData("working... 1700000000")]
    [InlineData("Reading src/Program.cs")]
    public void I_can_rely_on_the_default_patterns_to_ignore_ordinary_output(string line)
    {
        Assert.DoesNotContain(AgentConfig.Default.WaitingPatterns, p => p.IsMatch(line));
    }

    [Fact]
    public void I_can_name_another_program_and_its_arguments()
    {
        var config = AgentConfig.FromData(
            new Hashtable
            {
                ["Command"] = "/opt/agent/bin/agent",
                ["Arguments"] = new object[] { "--model", "large", "--prompt={Prompt}" },
            },
            File);

        Assert.True(config.Enabled);
        Assert.Equal("/opt/agent/bin/agent", config.Command);
        Assert.Equal(["--model", "large", "--prompt={Prompt}"], config.Arguments);
        Assert.Equal(PromptDelivery.Argument, config.Prompt);
    }

    [Fact]
    public void I_can_give_one_argument_as_a_plain_string()
    {
        var config = AgentConfig.FromData(new Hashtable { ["Arguments"] = "{Prompt}" }, File);

        Assert.Equal(["{Prompt}"], config.Arguments);
    }

    [Fact]
    public void I_can_have_the_prompt_passed_in_a_file()
    {
        var config = AgentConfig.FromData(
            new Hashtable
            {
                ["Prompt"] = "File",
                ["Arguments"] = new object[] { "--prompt-file", "{PromptFile}" },
            },
            File);

        Assert.Equal(PromptDelivery.File, config.Prompt);
        Assert.Equal(["--prompt-file", "{PromptFile}"], config.Arguments);
    }

    [Fact]
    public void I_can_have_the_prompt_passed_on_standard_input_without_a_placeholder()
    {
        var config = AgentConfig.FromData(
            new Hashtable { ["Prompt"] = "StandardInput", ["Arguments"] = Array.Empty<object>() },
            File);

        Assert.Equal(PromptDelivery.StandardInput, config.Prompt);
        Assert.Empty(config.Arguments);
    }

    [Fact]
    public void I_can_write_keys_and_the_prompt_delivery_in_any_case()
    {
        var config = AgentConfig.FromData(
            new Hashtable
            {
                ["command"] = "agent",
                ["ARGUMENTS"] = new object[] { "{PromptFile}" },
                ["prompt"] = "file",
            },
            File);

        Assert.Equal("agent", config.Command);
        Assert.Equal(PromptDelivery.File, config.Prompt);
    }

    [Fact]
    public void I_can_choose_the_folder_of_my_templates()
    {
        var config = AgentConfig.FromData(new Hashtable { ["Templates"] = "docs/prompts" }, File);

        Assert.Equal("docs/prompts", config.Templates);
    }

    [Fact]
    public void I_can_replace_the_waiting_patterns_with_my_own()
    {
        var config = AgentConfig.FromData(
            new Hashtable { ["WaitingPatterns"] = new object[] { "fake-agent>$", "^Approve\\?" } },
            File);

        Assert.Equal(2, config.WaitingPatterns.Count);
        Assert.Matches(config.WaitingPatterns[0], "fake-agent>");
        Assert.Matches(config.WaitingPatterns[1], "Approve? yes or no");
        Assert.DoesNotContain(config.WaitingPatterns, p => p.IsMatch("Do you want to go on?"));
    }

    public static TheoryData<string, object?> NoAgent => new()
    {
        { "the Agent key set to $null", null },
        { "the Agent key set to $false", false },
        { "Command set to $null", new Hashtable { ["Command"] = null } },
        {
            "Command set to $null, with no placeholder",
            new Hashtable { ["Command"] = null, ["Arguments"] = "-x" }
        },
    };

    [Theory]
    [MemberData(nameof(NoAgent))]
    public void I_can_turn_the_agent_off(string how, object? value)
    {
        var config = AgentConfig.FromData(value, File);

        Assert.False(config.Enabled, how);
        Assert.Null(config.Command);
    }

    [Fact]
    public void I_can_turn_the_agent_off_in_the_configuration_file()
    {
        var config = FeatureConfig.FromData(new Hashtable { ["Agent"] = null }, File);

        Assert.False(config.Agent.Enabled);
        Assert.Equal(File, config.SourceOf("Agent"));
        Assert.Equal("default", FeatureConfig.Default.SourceOf("Agent"));
    }

    public static TheoryData<object?, string, string> BadValues => new()
    {
        // The key each error must name, and a word of its explanation.
        { "claude", "Agent", "hashtable" },
        { new Hashtable { ["Prompt"] = "Clipboard" }, "Agent.Prompt", "StandardInput" },
        { new Hashtable { ["Prompt"] = 1 }, "Agent.Prompt", "string" },
        { new Hashtable { ["Arguments"] = "--print" }, "Agent.Arguments", "{Prompt}" },
        {
            new Hashtable { ["Prompt"] = "Argument", ["Arguments"] = "{PromptFile}" },
            "Agent.Arguments",
            "{Prompt}"
        },
        {
            new Hashtable { ["Prompt"] = "File", ["Arguments"] = "{Prompt}" },
            "Agent.Arguments",
            "{PromptFile}"
        },
        {
            new Hashtable { ["Arguments"] = new object[] { "{Prompt}", 4 } },
            "Agent.Arguments",
            "not Int32"
        },
        { new Hashtable { ["Arguments"] = 42 }, "Agent.Arguments", "list" },
        { new Hashtable { ["Command"] = "" }, "Agent.Command", "non-empty" },
        { new Hashtable { ["Templates"] = "" }, "Agent.Templates", "non-empty" },
        { new Hashtable { ["WaitingPatterns"] = "([" }, "Agent.WaitingPatterns", "'(['" },
        { new Hashtable { ["Model"] = "opus" }, "Agent.Model", "Command, Arguments, Prompt" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void I_can_try_a_bad_agent_setting_and_get_an_error_naming_key_and_file(
        object? value,
        string key,
        string explanation)
    {
        var error = Assert.Throws<WorktreeToolsException>(() => AgentConfig.FromData(value, File));

        Assert.Equal("InvalidConfiguration", error.ErrorId);
        Assert.Equal(FailureKind.InvalidData, error.Kind);
        Assert.Contains($"'{key}'", error.Message);
        Assert.Contains(File, error.Message);
        Assert.Contains(explanation, error.Message);
    }

    [Fact]
    public void I_can_try_a_bad_agent_setting_in_the_configuration_file_and_get_the_same_error()
    {
        var data = new Hashtable { ["Agent"] = new Hashtable { ["Prompt"] = "Clipboard" } };

        var error = Assert.Throws<WorktreeToolsException>(() => FeatureConfig.FromData(data, File));

        Assert.Equal("InvalidConfiguration", error.ErrorId);
        Assert.Contains("'Agent.Prompt'", error.Message);
    }
}
