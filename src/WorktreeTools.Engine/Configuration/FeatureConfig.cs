using System.Collections;

namespace WorktreeTools.Engine.Configuration;

/// <summary>The effective configuration of a repository, with where each value came from.</summary>
public sealed class FeatureConfig
{
    /// <summary>The name of the configuration file at the root of the main worktree.</summary>
    public const string FileName = ".worktreetools.psd1";

    /// <summary>The source recorded for a value nobody set.</summary>
    public const string DefaultSource = "default";

    private static readonly WindowSpec[] DefaultWindows =
    [
        new("editor", null),
        new("server", null),
        new("tests", null),
        new("ai", null),
    ];

    private readonly Dictionary<string, string> sources = new(StringComparer.Ordinal);

    private FeatureConfig()
    {
    }

    /// <summary>Where worktrees go, relative to the main worktree.</summary>
    public string WorktreeRoot { get; private set; } = "../worktrees";

    /// <summary>The branch name template with <c>{Ticket}</c> and <c>{Description}</c>.</summary>
    public string BranchTemplate { get; private set; } = "feature/{Ticket}-{Description}";

    /// <summary>The base ref, or null to use the remote's default branch.</summary>
    public string? Base { get; private set; }

    /// <summary>The windows of every feature's session, in order.</summary>
    public IReadOnlyList<WindowSpec> Windows { get; private set; } = DefaultWindows;

    /// <summary>Files or globs copied from the main worktree into a new one.</summary>
    public IReadOnlyList<string> CopyFiles { get; private set; } = [];

    /// <summary>A command run once in a new worktree, or null.</summary>
    public string? Setup { get; private set; }

    /// <summary>Named job commands.</summary>
    public IReadOnlyDictionary<string, string> Jobs { get; private set; } =
        new Dictionary<string, string>();

    /// <summary>How many jobs run at once by default: one core stays free for the editor.</summary>
    public int ThrottleLimit { get; private set; } = Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>The size at which a job's log is cut, in megabytes.</summary>
    public int LogLimitMB { get; private set; } = 100;

    /// <summary>How often the job queue runs an entry that failed or was interrupted.</summary>
    public Queue.QueuePolicy Queue { get; private set; } = Engine.Queue.QueuePolicy.Default;

    /// <summary>The AI coding agent each feature runs.</summary>
    public Agents.AgentConfig Agent { get; private set; } = Agents.AgentConfig.Default;

    /// <summary>The ports features lease blocks from, or null for none.</summary>
    public Ports.PortRange? Ports { get; private set; } = Engine.Ports.PortRange.Default;

    /// <summary>When the machine is too busy to start another job.</summary>
    public Engine.Jobs.AdmissionLimits Admission { get; private set; } =
        Engine.Jobs.AdmissionLimits.Default;

    /// <summary>
    /// The regular expressions that mark a line of a failed job's log as an error line.
    /// </summary>
    public IReadOnlyList<string> ErrorPatterns { get; private set; } =
        Engine.Jobs.RecentErrors.DefaultPatterns;

    /// <summary>The keys a configuration file may hold, in the order they are shown.</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        "WorktreeRoot", "BranchTemplate", "Base", "Windows", "CopyFiles", "Setup", "Jobs",
        "ThrottleLimit", "LogLimitMB", "Queue", "Agent", "Ports", "Admission", "ErrorPatterns",
    ];

    /// <summary>The configuration of a repository with no configuration file.</summary>
    public static FeatureConfig Default { get; } = new();

    /// <summary>The configuration file this was read from, or null when there is none.</summary>
    public string? FilePath { get; private init; }

    /// <summary>
    /// Says, in full sentences, that a job name is unknown and where jobs are defined.
    /// </summary>
    public string MissingJob(string job)
    {
        if (FilePath is null)
        {
            return $"There is no job named '{job}': the repository has no {FileName}, so no "
                + $"jobs are defined. Create it at the main worktree's root with a Jobs table "
                + $"(@{{ Jobs = @{{ {job} = '...' }} }}).";
        }
        if (Jobs.Count == 0)
        {
            return $"There is no job named '{job}': '{FilePath}' has no Jobs table, so no jobs are "
                + $"defined. Add one (Jobs = @{{ {job} = '...' }}).";
        }
        return $"There is no job named '{job}' in the Jobs table of '{FilePath}' "
            + $"(jobs: {string.Join(", ", Jobs.Keys.Order(StringComparer.OrdinalIgnoreCase))}).";
    }

    /// <summary>Where a key's value came from: <c>default</c> or the file's path.</summary>
    public string SourceOf(string key) =>
        sources.TryGetValue(key, out var source) ? source : DefaultSource;

    /// <summary>The value of a key, as the cmdlets show it.</summary>
    public object? ValueOf(string key) => key switch
    {
        "WorktreeRoot" => WorktreeRoot,
        "BranchTemplate" => BranchTemplate,
        "Base" => Base,
        "Windows" => Windows,
        "CopyFiles" => CopyFiles,
        "Setup" => Setup,
        "Jobs" => Jobs,
        "ThrottleLimit" => ThrottleLimit,
        "LogLimitMB" => LogLimitMB,
        "Queue" => Queue,
        "Agent" => Agent,
        "Ports" => Ports,
        "Admission" => Admission,
        "ErrorPatterns" => ErrorPatterns,
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, "Not a configuration key."),
    };

    /// <summary>
    /// Builds a configuration from the data of a configuration file (a hashtable already read
    /// without running code), checking every key and type.
    /// </summary>
    /// <param name="data">The file's top-level hashtable.</param>
    /// <param name="file">The file's path, named in errors and recorded as the source.</param>
    public static FeatureConfig FromData(IDictionary data, string file)
    {
        var config = new FeatureConfig { FilePath = file };
        foreach (DictionaryEntry entry in data)
        {
            var key = entry.Key as string
                ?? throw Invalid(file, entry.Key?.ToString() ?? "(null)", "a key must be a name");
            var known = Keys.FirstOrDefault(k => k.Equals(key, StringComparison.OrdinalIgnoreCase))
                ?? throw Invalid(
                    file, key, $"it is not a known key; known keys: {string.Join(", ", Keys)}");

            config.Apply(known, entry.Value, file);
            config.sources[known] = file;
        }
        return config;
    }

    private void Apply(string key, object? value, string file)
    {
        switch (key)
        {
            case "WorktreeRoot":
                WorktreeRoot = RequireText(value, file, key);
                break;
            case "BranchTemplate":
                BranchTemplate = RequireText(value, file, key);
                // A name in braces is a placeholder; after '$' it is shell text git allows.
                var unknown = System.Text.RegularExpressions.Regex
                    .Matches(BranchTemplate, @"(?<!\$)\{[A-Za-z_][A-Za-z0-9_]*\}")
                    .Select(m => m.Value)
                    .Where(p => p is not ("{Ticket}" or "{Description}"))
                    .Distinct()
                    .ToList();
                if (unknown.Count > 0)
                {
                    throw Invalid(file, key, $"it holds the unknown placeholder "
                        + $"{string.Join(", ", unknown)}; the placeholders are {{Ticket}} and "
                        + "{Description}, spelt exactly so");
                }
                if (!BranchTemplate.Contains("{Ticket}", StringComparison.Ordinal))
                {
                    throw Invalid(file, key, "it must contain {Ticket}");
                }
                break;
            case "Base":
                Base = RequireText(value, file, key);
                break;
            case "Windows":
                Windows = ReadWindows(value, file);
                break;
            case "CopyFiles":
                CopyFiles = ReadTextList(value, file, key);
                if (CopyFiles.FirstOrDefault(LeavesWorktree) is { } outside)
                {
                    throw Invalid(file, key, $"'{outside}' points outside the main worktree; "
                        + "entries are files or globs relative to it, such as '.env' or "
                        + "'config/*.local.json'");
                }
                break;
            case "Setup":
                Setup = RequireText(value, file, key);
                break;
            case "Jobs":
                Jobs = ReadJobs(value, file);
                break;
            case "ThrottleLimit":
                ThrottleLimit = RequirePositive(value, file, key);
                break;
            case "LogLimitMB":
                LogLimitMB = RequirePositive(value, file, key);
                break;
            case "Queue":
                Queue = ReadQueue(value, file);
                break;
            case "Agent":
                Agent = Agents.AgentConfig.FromData(value, file);
                break;
            case "Ports":
                Ports = Engine.Ports.PortRange.FromData(value, file);
                break;
            case "Admission":
                Admission = Engine.Jobs.AdmissionLimits.FromData(value, file);
                break;
            case "ErrorPatterns":
                ErrorPatterns = ReadPatterns(value, file);
                break;
        }
    }

    private static List<WindowSpec> ReadWindows(object? value, string file)
    {
        var windows = new List<WindowSpec>();
        foreach (var item in AsList(value, file, "Windows"))
        {
            if (item is not IDictionary table)
            {
                throw Invalid(
                    file, "Windows", "each entry must be a hashtable such as @{ Name = 'server' }");
            }

            string? name = null;
            string? command = null;
            foreach (DictionaryEntry field in table)
            {
                switch ((field.Key as string)?.ToLowerInvariant())
                {
                    case "name":
                        name = RequireText(field.Value, file, "Windows.Name");
                        break;
                    case "command":
                        command = RequireText(field.Value, file, "Windows.Command");
                        break;
                    default:
                        throw Invalid(
                            file, $"Windows.{field.Key}", "a window has only Name and Command");
                }
            }

            if (name is null)
            {
                throw Invalid(file, "Windows.Name", "every window needs a Name");
            }
            if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw Invalid(
                    file, "Windows.Name", $"'{name}' may hold only letters, digits, '-' and '_'");
            }
            if (windows.Any(w => w.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
            {
                throw Invalid(file, "Windows.Name", $"'{name}' appears twice");
            }
            windows.Add(new WindowSpec(name, command));
        }
        if (windows.Count == 0)
        {
            throw Invalid(file, "Windows", "at least one window is needed");
        }
        return windows;
    }

    private static Queue.QueuePolicy ReadQueue(object? value, string file)
    {
        if (value is not IDictionary table)
        {
            throw Invalid(
                file,
                "Queue",
                "it must be a hashtable such as @{ MaxAttempts = 3; RetryDelaySec = 10 }");
        }
        var policy = Engine.Queue.QueuePolicy.Default;
        foreach (DictionaryEntry field in table)
        {
            switch ((field.Key as string)?.ToLowerInvariant())
            {
                case "maxattempts":
                    policy = policy with
                    {
                        MaxAttempts = RequirePositive(field.Value, file, "Queue.MaxAttempts"),
                    };
                    break;
                case "retrydelaysec":
                    if (field.Value is not int seconds || seconds < 0)
                    {
                        throw Invalid(file, "Queue.RetryDelaySec",
                            $"it must be a whole number of seconds, 0 or more, "
                            + $"not {field.Value ?? "nothing"}");
                    }
                    policy = policy with { RetryDelay = TimeSpan.FromSeconds(seconds) };
                    break;
                default:
                    throw Invalid(
                        file,
                        $"Queue.{field.Key}",
                        "the queue has only MaxAttempts and RetryDelaySec");
            }
        }
        return policy;
    }

    private static Dictionary<string, string> ReadJobs(object? value, string file)
    {
        if (value is not IDictionary table)
        {
            throw Invalid(file, "Jobs", "it must be a hashtable such as @{ test = 'dotnet test' }");
        }
        var jobs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry job in table)
        {
            var name = job.Key as string;
            if (string.IsNullOrWhiteSpace(name)
                || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                throw Invalid(
                    file,
                    $"Jobs.{job.Key}",
                    "a job name may hold only letters, digits, '-', '_', '.'");
            }
            jobs[name] = RequireText(job.Value, file, $"Jobs.{name}");
        }
        return jobs;
    }

    private static List<string> ReadPatterns(object? value, string file)
    {
        var patterns = ReadTextList(value, file, "ErrorPatterns");
        foreach (var pattern in patterns)
        {
            try
            {
                _ = new System.Text.RegularExpressions.Regex(pattern);
            }
            catch (ArgumentException ex)
            {
                throw Invalid(file, "ErrorPatterns", $"'{pattern}' is not a regular expression: "
                    + Sentences.Inner(ex.Message));
            }
        }
        return patterns;
    }

    private static List<string> ReadTextList(object? value, string file, string key) =>
        AsList(value, file, key).Select(item => RequireText(item, file, key)).ToList();

    private static IEnumerable<object?> AsList(
        object? value,
        string file,
        string key) => value switch
    {
        string or IDictionary => [value],
        IEnumerable list => list.Cast<object?>(),
        null => throw Invalid(file, key, "it has no value"),
        _ => [value],
    };

    private static string RequireText(object? value, string file, string key)
    {
        if (value is string text && !string.IsNullOrWhiteSpace(text))
        {
            return text;
        }
        throw Invalid(file, key, value is string
            ? "it must not be empty"
            : $"it must be a non-empty string, not {value?.GetType().Name ?? "nothing"}");
    }

    /// <summary>
    /// True for a CopyFiles entry that is rooted or climbs above the folder it is relative to.
    /// </summary>
    internal static bool LeavesWorktree(string entry)
    {
        var normal = entry.Replace('\\', '/');
        if (Path.IsPathRooted(normal) || normal.StartsWith('~'))
        {
            return true;
        }
        var depth = 0;
        foreach (var part in normal.Split('/'))
        {
            depth += part switch
            {
                ".." => -1,
                "" or "." => 0,
                _ => 1,
            };
            if (depth < 0)
            {
                return true;
            }
        }
        return false;
    }

    private static int RequirePositive(object? value, string file, string key)
    {
        if (value is int number && number > 0)
        {
            return number;
        }
        var shown = value?.ToString() ?? "nothing";
        throw Invalid(
            file, key, $"it must be a whole number from 1 to {int.MaxValue}, not {shown}");
    }

    /// <summary>The error for a key of a configuration file whose value is not valid.</summary>
    internal static WorktreeToolsException Invalid(string file, string key, string problem) =>
        new(
            "InvalidConfiguration",
            FailureKind.InvalidData,
            $"The key '{key}' in '{file}' is not valid: {Sentences.Inner(problem)}.",
            file);
}
