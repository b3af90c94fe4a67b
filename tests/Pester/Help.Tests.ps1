# The help of every cmdlet, as Get-Help shows it from the module's built help file.
BeforeDiscovery {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    $Cmdlets = Get-Command -Module WorktreeTools -CommandType Cmdlet |
        ForEach-Object { @{ Name = $_.Name } }
}

BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    $Common = [System.Management.Automation.Cmdlet]::CommonParameters +
        [System.Management.Automation.Cmdlet]::OptionalCommonParameters
}

Describe 'Help' {
    Context '<Name>' -ForEach $Cmdlets {
        BeforeAll {
            $help = Get-Help $Name -Full
            $command = Get-Command $Name
        }

        It 'has a synopsis and a description' {
            "$($help.Synopsis)".Trim() | Should -Not -BeNullOrEmpty
            "$($help.Synopsis)".Trim() | Should -Not -BeLike "$Name *"
            ($help.description.Text -join '').Trim() | Should -Not -BeNullOrEmpty
        }

        It 'has at least two examples, each with code' {
            $examples = @($help.examples.example)
            $examples.Count | Should -BeGreaterOrEqual 2
            $examples | ForEach-Object { "$($_.code)".Trim() | Should -Not -BeNullOrEmpty }
        }

        It 'documents every parameter' {
            $documented = @($help.parameters.parameter |
                Where-Object { ($_.description.Text -join '').Trim() } |
                ForEach-Object name)
            $missing = $command.Parameters.Keys |
                Where-Object { $_ -notin $Common -and $_ -notin $documented }
            $missing | Should -BeNullOrEmpty
        }
    }
}
