using System.Management.Automation;
using WorktreeTools.Engine.Features;

namespace WorktreeTools.Infrastructure;

/// <summary>
/// What argument completers need: the workspace of the session's current location.
/// </summary>
internal static class CompletionContext
{
    /// <summary>Opens the workspace of the current location of the calling runspace.</summary>
    public static Workspace OpenWorkspace()
    {
        using var shell = System.Management.Automation.PowerShell.Create(
            RunspaceMode.CurrentRunspace);
        var location = shell.AddCommand("Get-Location").Invoke<PathInfo>();
        var directory = location.Count > 0
            ? location[0].ProviderPath
            : Environment.CurrentDirectory;
        return WorktreeToolsCmdlet.OpenWorkspace(directory);
    }
}
