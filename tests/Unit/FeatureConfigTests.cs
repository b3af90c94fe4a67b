using System.Collections;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Configuration;
using Xunit;

namespace WorktreeTools.Tests;

public class FeatureConfigTests
{
    private const string File = "/repo/.worktreetools.psd1";

    [Fact]
    public void I_get_the_documented_defaults_without_a_file()
    {
        var config = FeatureConfig.Default;

        Assert.Equal("../worktrees", config.WorktreeRoot);
        Assert.Equal("feature/{Ticket}-{Description}", config.BranchTemplate);
        Assert.Null(config.Base);
        Assert.Equal(["editor", "server", "tests", "ai"], config.Windows.Select(w => w.Name));
        Assert.All(config.Windows, w => Assert.Null(w.Command));
        Assert.All(FeatureConfig.Keys, k => Assert.Equal("default", config.SourceOf(k)));
    }

    [Fact]
    public void I_can_set_every_key_and_see_where_it_came_from()
    {
        var data = new Hashtable
        {
            ["WorktreeRoot"] = "../wt",
            ["BranchTemplate"] = "{Ticket}",
            ["Base"] = "origin/dev",
            ["Windows"] = new object[]
            {
                new Hashtable { ["Name"] = "editor" },
                new Hashtable { ["Name"] = "server", ["Command"] = "npm run dev" },
            },
            ["CopyFiles"] = ".env",
            ["Setup"] = "npm ci",
            ["Jobs"] = new Hashtable { ["test"] = "npm test" },
        };

        var config = FeatureConfig.FromData(data, File);

        Assert.Equal("../wt", config.WorktreeRoot);
        Assert.Equal("origin/dev", config.Base);
        Assert.Equal("npm run dev", config.Windows[1].Command);
        Assert.Equal([".env"], config.CopyFiles);
        Assert.Equal("npm test", config.Jobs["test"]);
        Assert.All(data.Keys.Cast<string>(), k => Assert.Equal(File, config.SourceOf(k)));
        Assert.Equal("default", config.SourceOf("ThrottleLimit"));
    }

    [Fact]
    public void I_can_write_keys_in_any_case()
    {
        var config = FeatureConfig.FromData(new Hashtable { ["setup"] = "make" }, File);

        Assert.Equal("make", config.Setup);
        Assert.Equal(File, config.SourceOf("Setup"));
    }

    public static TheoryData<string, object?, string> BadValues => new()
    {
        { "Colour", "red", "Colour" },
        { "Windows", 5, "Windows" },
        { "Windows", new object[] { "editor" }, "Windows" },
        { "Windows", new object[] { new Hashtable { ["Command"] = "x" } }, "Windows.Name" },
        { "Windows", new object[] { new Hashtable { ["Name"] = "a b" } }, "Windows.Name" },
        {
            "Windows",
            new object[] { new Hashtable { ["Name"] = "a", ["Size"] = 3 } },
            "Windows.Size"
        },
        { "Jobs", "dotnet test", "Jobs" },
        { "Jobs", new Hashtable { ["test"] = 3 }, "Jobs.test" },
        { "Setup", 42, "Setup" },
        { "Setup", "", "Setup" },
        { "BranchTemplate", "feature/x", "BranchTemplate" },
        { "CopyFiles", new object[] { ".env", 1 }, "CopyFiles" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void I_can_try_an_unknown_key_or_a_wrong_type_and_get_an_error_naming_key_and_file(
        string key,
        object? value,
        string named)
    {
        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureConfig.FromData(new Hashtable { [key] = value }, File));

        Assert.Equal("InvalidConfiguration", error.ErrorId);
        Assert.Contains($"'{named}'", error.Message);
        Assert.Contains(File, error.Message);
    }
}
