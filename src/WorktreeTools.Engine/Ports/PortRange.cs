using System.Collections;

namespace WorktreeTools.Engine.Ports;

/// <summary>
/// The ports features lease blocks from, from the <c>Ports</c> configuration key.
/// </summary>
public sealed record PortRange(int First, int Last, int BlockSize)
{
    /// <summary>The default: blocks of 10 between 20000 and 29999.</summary>
    public static PortRange Default { get; } = new(20000, 29999, 10);

    /// <inheritdoc />
    public override string ToString() => $"{First}-{Last} in blocks of {BlockSize}";

    /// <summary>
    /// Reads <c>@{ First = 20000; Last = 29999; BlockSize = 10 }</c>, or null (none).
    /// </summary>
    public static PortRange? FromData(object? value, string file)
    {
        if (value is null or false)
        {
            return null;
        }
        if (value is not IDictionary table)
        {
            throw Invalid(
                file,
                "Ports",
                "it must be a hashtable such as @{ First = 20000; Last = 29999; BlockSize = 10 }");
        }
        var (first, last, size) = (Default.First, Default.Last, Default.BlockSize);
        foreach (DictionaryEntry field in table)
        {
            var name = field.Key as string ?? string.Empty;
            var number = field.Value is int n && n > 0 && n <= 65535
                ? n
                : throw Invalid(file, $"Ports.{name}", "it must be a whole number from 1 to 65535");
            switch (name.ToLowerInvariant())
            {
                case "first":
                    first = number;
                    break;
                case "last":
                    last = number;
                    break;
                case "blocksize":
                    size = number;
                    break;
                default:
                    throw Invalid(file, $"Ports.{name}", "known keys: First, Last, BlockSize");
            }
        }
        if (first > last || size > last - first + 1)
        {
            throw Invalid(
                file,
                "Ports",
                $"First ({first}) must not be above Last ({last}), and one "
                + $"block of {size} must fit between them");
        }
        return new PortRange(first, last, size);
    }

    private static WorktreeToolsException Invalid(string file, string key, string problem) =>
        Configuration.FeatureConfig.Invalid(file, key, problem);
}
