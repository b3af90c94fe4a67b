using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Configuration;

namespace WorktreeTools.Infrastructure;

/// <summary>Reads <c>.worktreetools.psd1</c> as data: it is parsed, never run.</summary>
internal static class ConfigFile
{
    /// <summary>The configuration of the repository whose main worktree is given.</summary>
    public static FeatureConfig Load(string? mainWorktree)
    {
        if (mainWorktree is null)
        {
            return FeatureConfig.Default;
        }
        var path = Path.Combine(mainWorktree, FeatureConfig.FileName);
        return File.Exists(path) ? FeatureConfig.FromData(Read(path), path) : FeatureConfig.Default;
    }

    private static IDictionary Read(string path)
    {
        var ast = Parser.ParseFile(path, out _, out var errors);
        if (errors.Length > 0)
        {
            var first = errors[0];
            throw Invalid(
                path,
                $"line {first.Extent.StartLineNumber}: {first.Message}");
        }

        var statements = ast.EndBlock?.Statements;
        if (ast.ParamBlock is not null || ast.BeginBlock is not null || ast.ProcessBlock is not null
            || statements is null || statements.Count != 1
            || statements[0] is not PipelineAst { PipelineElements.Count: 1 } pipeline
            || pipeline.PipelineElements[0] is not CommandExpressionAst
            {
                Expression: HashtableAst table,
            })
        {
            throw Invalid(path, "it must hold exactly one hashtable, @{ ... }");
        }

        try
        {
            // SafeGetValue accepts constants, arrays and hashtables only: no code can run.
            return (IDictionary)table.SafeGetValue();
        }
        catch (InvalidOperationException ex)
        {
            throw Invalid(path, $"it may hold only constant values, not code ({ex.Message})");
        }
    }

    private static WorktreeToolsException Invalid(string path, string problem) =>
        new(
            "InvalidConfiguration",
            FailureKind.InvalidData,
            $"The configuration file '{path}' cannot be read: {Sentences.Inner(problem)}.",
            path);
}
