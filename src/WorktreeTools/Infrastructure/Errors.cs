using System.Management.Automation;
using WorktreeTools.Engine;

namespace WorktreeTools.Infrastructure;

/// <summary>Turns engine failures into error records.</summary>
internal static class Errors
{
    /// <summary>An error record carrying the failure's id, category and target.</summary>
    public static ErrorRecord From(WorktreeToolsException failure) =>
        new(failure, failure.ErrorId, CategoryOf(failure.Kind), failure.Target);

    /// <summary>An error record for a failure found by the cmdlet itself.</summary>
    public static ErrorRecord Create(
        string errorId,
        ErrorCategory category,
        string message,
        object? target) =>
        new(new WorktreeToolsException(errorId, FailureKind.InvalidArgument, message, target),
            errorId,
            category,
            target);

    private static ErrorCategory CategoryOf(FailureKind kind) => kind switch
    {
        FailureKind.InvalidArgument => ErrorCategory.InvalidArgument,
        FailureKind.InvalidData => ErrorCategory.InvalidData,
        FailureKind.ResourceExists => ErrorCategory.ResourceExists,
        FailureKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        FailureKind.NotInstalled => ErrorCategory.NotInstalled,
        FailureKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        FailureKind.WriteError => ErrorCategory.WriteError,
        _ => ErrorCategory.InvalidOperation,
    };
}
