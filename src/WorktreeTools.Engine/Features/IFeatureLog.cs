namespace WorktreeTools.Engine.Features;

/// <summary>
/// Where the engine reports decisions. The module's implementation writes them to the
/// verbose and warning streams; it is called only on the thread that called the engine.
/// </summary>
public interface IFeatureLog
{
    /// <summary>A decision or state change.</summary>
    void Verbose(string message);

    /// <summary>Something the user should know that does not stop the command.</summary>
    void Warning(string message);
}

/// <summary>A log that drops everything.</summary>
public sealed class NullFeatureLog : IFeatureLog
{
    /// <summary>The one instance.</summary>
    public static NullFeatureLog Instance { get; } = new();

    /// <inheritdoc />
    public void Verbose(string message)
    {
    }

    /// <inheritdoc />
    public void Warning(string message)
    {
    }
}
