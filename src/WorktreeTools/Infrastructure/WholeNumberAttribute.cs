using System.Globalization;
using System.Management.Automation;

namespace WorktreeTools.Infrastructure;

/// <summary>
/// Refuses a value for an integer parameter that is not a whole number, such as the text
/// "high" or "2.7" in a CSV cell, instead of letting it be rounded or, when it comes from a
/// pipeline property, dropped without a word. An empty text leaves the parameter's default.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class WholeNumberAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc />
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        switch (value)
        {
            case string text when string.IsNullOrWhiteSpace(text):
                return 0;
            case string text when int.TryParse(
                text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture,
                out var whole):
                return whole;
            case string text:
                throw Refuse(text);
            case double or float or decimal:
                var number = Convert.ToDecimal(value, CultureInfo.InvariantCulture);
                return decimal.Truncate(number) == number
                    && number is >= int.MinValue and <= int.MaxValue
                    ? (int)number
                    : throw Refuse(Convert.ToString(value, CultureInfo.InvariantCulture));
            default:
                return inputData;
        }
    }

    private static ArgumentTransformationMetadataException Refuse(string? shown) =>
        new($"'{shown}' is not a whole number. Give one, such as 1, 0 or -1.");
}
