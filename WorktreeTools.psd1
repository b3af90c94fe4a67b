@{
    RootModule           = 'WorktreeTools.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f1c2a7e-3d4b-4f0e-9a51-2c8e7b9d4a10'
    Author               = 'WorktreeTools developers'
    Copyright            = '(c) WorktreeTools developers. MIT licence.'
    Description          = 'Runs several features at once, each with its own git worktree, ' +
                           'branch and tmux session, and reports their state as objects.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('WorktreeTools.format.ps1xml')
    CmdletsToExport      = @(
        'New-Feature'
        'Get-Feature'
        'Get-FeatureStatus'
        'Stop-Feature'
        'Get-FeatureConfig'
        'Invoke-FeatureJob'
        'Get-FeatureJobLog'
        'Add-FeatureJob'
        'Get-FeatureJob'
        'Start-FeatureJobRunner'
        'Stop-FeatureJob'
        'Remove-FeatureJob'
        'Start-FeatureAgent'
        'Get-FeatureAgent'
        'Send-FeatureAgent'
        'Stop-FeatureAgent'
        'Get-FeatureProcess'
        'Export-FeatureReport'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('git', 'worktree', 'tmux', 'feature')
        }
    }
}
