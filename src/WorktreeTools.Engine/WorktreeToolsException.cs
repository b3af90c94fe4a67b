namespace WorktreeTools.Engine;

/// <summary>What kind of failure an engine error is, so the module can pick a category.</summary>
public enum FailureKind
{
    InvalidArgument,
    InvalidData,
    ResourceExists,
    ObjectNotFound,
    InvalidOperation,
    NotInstalled,
    ResourceUnavailable,
    WriteError,
}

/// <summary>
/// A failure with a stable id, a kind, the thing it concerns and a remedy in its message.
/// </summary>
public sealed class WorktreeToolsException : Exception
{
    public WorktreeToolsException(
        string errorId,
        FailureKind kind,
        string message,
        object? target = null,
        Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    /// <summary>A stable PascalCase id such as <c>FeatureAlreadyExists</c>.</summary>
    public string ErrorId { get; }

    /// <summary>The kind of failure.</summary>
    public FailureKind Kind { get; }

    /// <summary>The ticket, path or key the failure concerns.</summary>
    public object? Target { get; }
}
