using System.Collections;
using System.Text.RegularExpressions;

namespace WorktreeTools.Engine.Agents;

/// <summary>How a prompt reaches an agent program.</summary>
public enum PromptDelivery
{
    /// <summary>As one argument, where <c>{Prompt}</c> stands in the argument list.</summary>
    Argument,

    /// <summary>
    /// As a file, whose path stands for <c>{PromptFile}</c> in the argument list.
    /// </summary>
    File,

    /// <summary>On standard input, followed by what is typed into the window.</summary>
    StandardInput,
}

/// <summary>
/// The AI coding agent every feature runs, from the <c>Agent</c> configuration key.
/// </summary>
public sealed class AgentConfig
{
    /// <summary>
    /// Patterns of a screen's last lines that show an agent waiting for the user.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultWaitingPatterns =
    [
        @"(?i)\b(do you want|would you like|press enter|waiting for (your )?input)\b",
        @"(?i)(\[y/n\]|\(y/n\)|\[Y/n\]|\[y/N\])\s*$",
        @"^\s*[>❯›]\s*$",
        @"(?i)\? for shortcuts",
        @"^\s*>\s+\S*$",
    ];

    private AgentConfig(
        string? command,
        IReadOnlyList<string> arguments,
        PromptDelivery prompt,
        string templates,
        IReadOnlyList<Regex> waitingPatterns)
    {
        Command = command;
        Arguments = arguments;
        Prompt = prompt;
        Templates = templates;
        WaitingPatterns = waitingPatterns;
    }

    /// <summary>The default agent: <c>claude</c> with the prompt as its argument.</summary>
    public static AgentConfig Default { get; } = new(
        "claude",
        ["{Prompt}"],
        PromptDelivery.Argument,
        ".worktreetools/prompts",
        Compile(DefaultWaitingPatterns, "default", "Agent.WaitingPatterns"));

    /// <summary>The agent program, or null when no agent is configured.</summary>
    public string? Command { get; }

    /// <summary>The arguments; <c>{Prompt}</c> and <c>{PromptFile}</c> are replaced.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>How the prompt reaches the agent.</summary>
    public PromptDelivery Prompt { get; }

    /// <summary>The folder of the user's own templates, relative to the main worktree.</summary>
    public string Templates { get; }

    /// <summary>Patterns that show the agent waits for the user.</summary>
    public IReadOnlyList<Regex> WaitingPatterns { get; }

    /// <summary>True when an agent program is configured.</summary>
    public bool Enabled => Command is not null;

    /// <inheritdoc />
    public override string ToString() =>
        Command is null ? "(none)" : $"{Command} {string.Join(' ', Arguments)} (prompt: {Prompt})";

    /// <summary>
    /// Reads the <c>Agent</c> key: a hashtable with Command, Arguments, Prompt, Templates and
    /// WaitingPatterns, or <c>$null</c>/<c>$false</c> for no agent.
    /// </summary>
    public static AgentConfig FromData(object? value, string file)
    {
        if (value is null or false)
        {
            return new AgentConfig(
                null, [], PromptDelivery.Argument, Default.Templates, Default.WaitingPatterns);
        }
        if (value is not IDictionary table)
        {
            throw Invalid(
                file,
                "Agent",
                "it must be a hashtable such as @{ Command = 'claude' }, or $null");
        }

        var command = Default.Command;
        var arguments = Default.Arguments;
        var prompt = Default.Prompt;
        var templates = Default.Templates;
        var patterns = Default.WaitingPatterns;
        foreach (DictionaryEntry field in table)
        {
            var name = field.Key as string ?? string.Empty;
            switch (name.ToLowerInvariant())
            {
                case "command":
                    command = field.Value is null ? null : Text(field.Value, file, "Agent.Command");
                    break;
                case "arguments":
                    arguments = List(field.Value, file, "Agent.Arguments");
                    break;
                case "prompt":
                    var text = Text(field.Value, file, "Agent.Prompt");
                    if (!Enum.TryParse(text, ignoreCase: true, out prompt))
                    {
                        throw Invalid(
                            file,
                            "Agent.Prompt",
                            "it must be Argument, File or StandardInput");
                    }
                    break;
                case "templates":
                    templates = Text(field.Value, file, "Agent.Templates");
                    break;
                case "waitingpatterns":
                    patterns = Compile(
                        List(field.Value, file, "Agent.WaitingPatterns"),
                        file,
                        "Agent.WaitingPatterns");
                    break;
                default:
                    throw Invalid(
                        file,
                        $"Agent.{name}",
                        "known keys: Command, Arguments, Prompt, Templates, WaitingPatterns");
            }
        }

        var placeholder = prompt switch
        {
            PromptDelivery.Argument => "{Prompt}",
            PromptDelivery.File => "{PromptFile}",
            _ => null,
        };
        if (command is not null && placeholder is not null
            && !arguments.Any(a => a.Contains(placeholder, StringComparison.Ordinal)))
        {
            throw Invalid(
                file,
                "Agent.Arguments",
                $"with Prompt = '{prompt}' an argument must hold {placeholder}");
        }
        return new AgentConfig(command, arguments, prompt, templates, patterns);
    }

    private static List<Regex> Compile(IEnumerable<string> patterns, string file, string key)
    {
        var compiled = new List<Regex>();
        foreach (var pattern in patterns)
        {
            try
            {
                compiled.Add(new Regex(pattern, RegexOptions.Multiline, TimeSpan.FromSeconds(1)));
            }
            catch (ArgumentException ex)
            {
                throw Invalid(
                    file,
                    key,
                    $"'{pattern}' is not a valid regular expression: {ex.Message}");
            }
        }
        return compiled;
    }

    private static string Text(object? value, string file, string key) =>
        value is string { Length: > 0 } text
            ? text
            : throw Invalid(
                file,
                key,
                $"it must be a non-empty string, not {value?.GetType().Name ?? "nothing"}");

    private static List<string> List(object? value, string file, string key) => value switch
    {
        string text => [text],
        IEnumerable items => items.Cast<object?>().Select(i => Text(i, file, key)).ToList(),
        _ => throw Invalid(file, key, "it must be a list of strings"),
    };

    private static WorktreeToolsException Invalid(string file, string key, string problem) =>
        Configuration.FeatureConfig.Invalid(file, key, problem);
}
