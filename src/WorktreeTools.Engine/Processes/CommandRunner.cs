using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace WorktreeTools.Engine.Processes;

/// <summary>The exit code and captured text of a finished program.</summary>
public sealed record CommandOutcome(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>True when the program exited with code 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last non-empty line of standard error, or of standard output.</summary>
    public string Reason
    {
        get
        {
            var text = string.IsNullOrWhiteSpace(StandardError) ? StandardOutput : StandardError;
            var lines = text.Split(
                '\n',
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return lines.Length == 0 ? $"exit code {ExitCode}" : lines[^1];
        }
    }
}

/// <summary>
/// Runs programs with an argument list (never a shell string) and captures output.
/// </summary>
public static class CommandRunner
{
    // ENOENT: the program is not there. Anything else (such as E2BIG) is another failure.
    private const int NoSuchFile = 2;

    /// <summary>
    /// Runs a program to its end and returns what it printed; never throws for exit codes.
    /// </summary>
    public static CommandOutcome Run(
        string program,
        IEnumerable<string> arguments,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        CancellationToken cancellationToken = default,
        string? standardInput = null)
    {
        var command = Cli.Wrap(program)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None);
        if (workingDirectory is not null)
        {
            command = command.WithWorkingDirectory(workingDirectory);
        }
        if (environment is not null)
        {
            command = command.WithEnvironmentVariables(environment);
        }
        if (standardInput is not null)
        {
            command = command.WithStandardInputPipe(
                PipeSource.FromString(standardInput, Encoding.UTF8));
        }

        try
        {
            // Called only from the pipeline thread, one program at a time, so blocking is safe.
            var result = command
                .ExecuteBufferedAsync(Encoding.UTF8, cancellationToken)
                .Task.GetAwaiter().GetResult();
            return new CommandOutcome(result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (System.ComponentModel.Win32Exception ex) when (ex.NativeErrorCode == NoSuchFile)
        {
            throw new WorktreeToolsException(
                "ProgramNotFound",
                FailureKind.NotInstalled,
                $"Cannot start '{program}': {Sentences.Inner(ex.Message)}. "
                + "Install it or put it on PATH.",
                program,
                ex);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new WorktreeToolsException(
                "ProgramStartFailed",
                FailureKind.InvalidOperation,
                $"Cannot start '{program}': {ex.Message} (error {ex.NativeErrorCode}).",
                program,
                ex);
        }
    }

    /// <summary>True when a program of that name can be found on PATH.</summary>
    public static bool IsOnPath(string program)
    {
        if (program.Contains('/'))
        {
            return File.Exists(program);
        }
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(folder => File.Exists(Path.Combine(folder, program)));
    }
}
