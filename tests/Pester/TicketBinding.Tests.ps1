# How every cmdlet that takes tickets binds them from the pipeline: strings by value, objects
# with a Ticket property by property name, features from Get-Feature as -InputObject.
BeforeDiscovery {
    Import-Module $env:WORKTREETOOLS_MODULE -Force

    # Send-FeatureAgent takes its Text by value: a piped string is what it sends.
    $TicketCmdlets = Get-Command -Module WorktreeTools -CommandType Cmdlet |
        Where-Object { $_.Parameters.ContainsKey('Ticket') -and $_.Name -ne 'Send-FeatureAgent' } |
        ForEach-Object { @{ Name = $_.Name } }
}

BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Ticket binding' {
    Context '<Name>' -ForEach $TicketCmdlets {
        It 'takes piped strings as -Ticket, by value and by property name' {
            $attributes = (Get-Command $Name).Parameters['Ticket'].Attributes |
                Where-Object { $_ -is [Management.Automation.ParameterAttribute] }
            $attributes | ForEach-Object { $_.ValueFromPipeline | Should -BeTrue }
            $attributes | ForEach-Object { $_.ValueFromPipelineByPropertyName | Should -BeTrue }
        }
    }

    Context 'strings, objects and features piped to the cmdlets' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'binding-repo' `
                -Config "@{ Jobs = @{ check = 'true' }; Agent = `$null }"
            Push-Location $repo
            $null = New-Feature BIND-1 'One'
            $null = New-Feature BIND-2 'Two'
        }

        AfterAll {
            Pop-Location
        }

        It "'BIND-1' | <Line> binds the ticket" -TestCases @(
            @{ Line = 'Stop-Feature -WhatIf'; Check = { param($out) $true } }
            @{ Line = 'Get-FeatureStatus'; Check = { param($out) $out.Ticket -eq 'BIND-1' } }
            @{ Line = 'Get-FeatureProcess'; Check = { param($out) $true } }
            @{
                Line  = 'Invoke-FeatureJob check -MaxLoad 0'
                Check = { param($out) "$($out.Ticket)" -eq 'BIND-1' -and $out.Succeeded }
            }
            @{ Line = 'Add-FeatureJob check'; Check = { param($out) $out.Ticket -eq 'BIND-1' } }
            @{
                Line  = 'Get-FeatureJob'
                Check = { param($out) @($out.Ticket) -notcontains 'BIND-2' }
            }
            @{ Line = 'Get-FeatureJobLog'; Check = { param($out) $true } }
            @{ Line = 'Get-FeatureAgent'; Check = { param($out) $true } }
        ) {
            param($Line, $Check)
            $ErrorActionPreference = 'Stop'
            $out = & ([scriptblock]::Create("'BIND-1' | $Line"))
            & $Check $out | Should -BeTrue
        }

        It 'binds an object with a Ticket property by property name' {
            ([pscustomobject]@{ Ticket = 'BIND-2' } | Get-FeatureStatus).Ticket |
                Should -BeExactly 'BIND-2'
        }

        It 'writes an error for a bad ticket pattern and still reports the other tickets' {
            $failure = $null
            $out = Get-FeatureStatus 'BIND-[', 'BIND-2' -NoRemote -ErrorVariable failure `
                -ErrorAction SilentlyContinue
            $out.Ticket | Should -BeExactly 'BIND-2'
            $failure[0].FullyQualifiedErrorId | Should -BeExactly (
                'InvalidTicketPattern,WorktreeTools.Commands.GetFeatureStatusCommand')
        }

        It 'takes no object without a Ticket property as a ticket' {
            $failure = $null
            [pscustomobject]@{ Job = 'check' } |
                Add-FeatureJob -ErrorVariable failure -ErrorAction SilentlyContinue
            $failure[0].FullyQualifiedErrorId |
                Should -BeExactly 'TicketRequired,WorktreeTools.Commands.AddFeatureJobCommand'
        }

        It 'binds features from Get-Feature as -InputObject' {
            (Get-Feature BIND-2 | Get-FeatureStatus).Ticket | Should -BeExactly 'BIND-2'
        }

        It "'BIND-1' | Stop-Feature stops only that feature" {
            'BIND-1' | Stop-Feature
            Test-TmuxSession -Socket $Socket -Name 'BIND-1' | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'BIND-2' | Should -BeTrue
        }
    }
}
