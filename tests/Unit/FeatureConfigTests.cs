using System.Collections;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Jobs;
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
    public void I_get_a_default_throttle_that_leaves_one_core_free_and_can_override_it()
    {
        var configured = FeatureConfig.FromData(new Hashtable { ["ThrottleLimit"] = 7 }, File);

        var cores = Environment.ProcessorCount;
        Assert.Equal(Math.Max(1, cores - 1), FeatureConfig.Default.ThrottleLimit);
        Assert.Equal(7, configured.ThrottleLimit);
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
        { "Admission", 3, "Admission" },
        { "Admission", new Hashtable { ["MaxLoad"] = "high" }, "Admission.MaxLoad" },
        { "Admission", new Hashtable { ["MaxLoad"] = -1 }, "Admission.MaxLoad" },
        { "Admission", new Hashtable { ["MinFreeMemoryMB"] = 1.5 }, "Admission.MinFreeMemoryMB" },
        { "Admission", new Hashtable { ["Cpu"] = 1 }, "Admission.Cpu" },
        { "ErrorPatterns", new object[] { "ok", "(unclosed" }, "ErrorPatterns" },
        { "ErrorPatterns", 7, "ErrorPatterns" },
    };

    [Fact]
    public void I_can_set_admission_limits_and_error_patterns()
    {
        var config = FeatureConfig.FromData(
            new Hashtable
            {
                ["Admission"] = new Hashtable { ["MaxLoad"] = 2.5, ["MinFreeMemoryMB"] = 512 },
                ["ErrorPatterns"] = new object[] { "^E\\d+", "boom" },
            },
            File);

        Assert.Equal(new AdmissionLimits(2.5, 512), config.Admission);
        Assert.Equal(["^E\\d+", "boom"], config.ErrorPatterns);
        Assert.Equal(File, config.SourceOf("Admission"));
    }

    [Fact]
    public void I_get_one_free_processor_as_the_default_load_limit_and_no_memory_floor()
    {
        var limits = FeatureConfig.Default.Admission;

        Assert.Equal(Math.Max(1, Environment.ProcessorCount - 1), limits.MaxLoad);
        Assert.Equal(0, limits.MinFreeMemoryMB);
        Assert.Equal(RecentErrors.DefaultPatterns, FeatureConfig.Default.ErrorPatterns);
    }

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

    [Theory]
    [InlineData("CopyFiles", "../../etc/passwd", "points outside the main worktree")]
    [InlineData("CopyFiles", "/etc/hostname", "points outside the main worktree")]
    [InlineData("CopyFiles", "config/../../x", "points outside the main worktree")]
    [InlineData("LogLimitMB", 99999999999L, "from 1 to 2147483647, not 99999999999")]
    [InlineData("LogLimitMB", 0, "from 1 to 2147483647, not 0")]
    [InlineData("BranchTemplate", "feature/{Tikcet}", "unknown placeholder {Tikcet}")]
    [InlineData("ErrorPatterns", "(unclosed", "is not a regular expression")]
    public void I_can_try_a_value_out_of_range_and_get_the_real_rule(
        string key,
        object value,
        string rule)
    {
        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureConfig.FromData(new Hashtable { [key] = value }, File));

        Assert.Contains(rule, error.Message);
        Assert.Contains($"'{key}'", error.Message);
        Assert.DoesNotContain("..", error.Message.Replace("../", "", StringComparison.Ordinal));
    }

    [Fact]
    public void I_can_keep_shell_text_in_braces_in_a_branch_template()
    {
        var config = FeatureConfig.FromData(
            new Hashtable { ["BranchTemplate"] = "f/{Ticket}-${IFS}" }, File);

        Assert.Equal("f/{Ticket}-${IFS}", config.BranchTemplate);
    }

    [Fact]
    public void I_can_copy_files_from_folders_inside_the_worktree()
    {
        var config = FeatureConfig.FromData(
            new Hashtable { ["CopyFiles"] = new object[] { ".env", "a/../b/*.json", "./c" } },
            File);

        Assert.Equal(3, config.CopyFiles.Count);
    }

    [Fact]
    public void I_can_ask_for_an_unknown_job_and_read_where_jobs_are_defined()
    {
        var none = FeatureConfig.Default.MissingJob("test");
        var empty = FeatureConfig.FromData(new Hashtable { ["Setup"] = "make" }, File)
            .MissingJob("test");
        var some = FeatureConfig.FromData(
            new Hashtable { ["Jobs"] = new Hashtable { ["lint"] = "x", ["build"] = "y" } },
            File).MissingJob("test");

        Assert.Contains("has no .worktreetools.psd1", none);
        Assert.DoesNotContain("(jobs: none)", none);
        Assert.Contains($"'{File}' has no Jobs table", empty);
        Assert.Contains($"Jobs table of '{File}' (jobs: build, lint)", some);
    }
}
