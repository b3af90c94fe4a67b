namespace WorktreeTools.Infrastructure;

/// <summary>The names of the parameter sets the cmdlets share.</summary>
internal static class ParameterSets
{
    /// <summary>Features chosen by ticket.</summary>
    public const string ByTicket = "ByTicket";

    /// <summary>Features given as objects.</summary>
    public const string ByObject = "ByObject";
}
