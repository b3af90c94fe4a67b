namespace WorktreeTools.Engine;

/// <summary>Small helpers that keep messages built from other messages readable.</summary>
public static class Sentences
{
    /// <summary>
    /// A message to quote inside a sentence of ours: trimmed, without its closing full stops,
    /// so that adding our own never doubles them.
    /// </summary>
    public static string Inner(string message) => message.Trim().TrimEnd('.').TrimEnd();

    /// <summary>"1 thing", "2 things": a count with the noun in the right number.</summary>
    public static string Count(int count, string one, string? many = null) =>
        $"{count} {(count == 1 ? one : many ?? one + "s")}";
}
