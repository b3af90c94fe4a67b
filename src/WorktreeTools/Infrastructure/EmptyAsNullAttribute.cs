using System.Management.Automation;

namespace WorktreeTools.Infrastructure;

/// <summary>
/// Binds an empty or blank string as null, so that an empty cell of a CSV column (Import-Csv
/// gives every row every column) leaves an optional parameter unset.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
internal sealed class EmptyAsNullAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc />
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        return value is string text && string.IsNullOrWhiteSpace(text) ? null : inputData;
    }
}
