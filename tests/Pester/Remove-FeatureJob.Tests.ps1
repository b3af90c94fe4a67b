BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.RemoveFeatureJobCommand'
    $JobConfig = "@{ Jobs = @{ ok = 'exit 0'; bad = 'exit 1' }; Queue = @{ MaxAttempts = 1 } }"

    function New-QueueRepository {
        # A repository with the job configuration and one feature (no session) per ticket.
        param([string] $Name, [string[]] $Ticket)

        $repo = New-TestRepository -Root $TestDrive -Name $Name -Config $JobConfig
        Push-Location -LiteralPath $repo
        try {
            foreach ($item in $Ticket) {
                $null = New-Feature $item -NoSession
            }
        } finally {
            Pop-Location
        }
        $repo
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Remove-FeatureJob' {
    BeforeAll {
        $repo = New-QueueRepository -Name 'history' -Ticket 'H-1', 'H-2'
        Push-Location $repo
        $succeeded = Add-FeatureJob ok
        $failed = Add-FeatureJob bad -Ticket H-1
        $null = Start-FeatureJobRunner -Once -ErrorAction SilentlyContinue
        $waiting = Add-FeatureJob ok -Ticket H-2 -NotBefore ([datetime]::Now.AddHours(1))
    }

    AfterAll {
        Pop-Location
    }

    Context 'finished entries' {
        It 'keeps everything with -WhatIf' {
            Get-FeatureJob -State Succeeded | Remove-FeatureJob -WhatIf
            @(Get-FeatureJob) | Should -HaveCount 4
        }

        It 'deletes the entries piped from Get-FeatureJob, and writes nothing' {
            Get-FeatureJob -State Succeeded | Remove-FeatureJob | Should -BeNullOrEmpty
            (Get-FeatureJob).Id | Should -Be @($failed.Id, $waiting.Id)
        }

        It 'deletes an entry by id' {
            Remove-FeatureJob $failed.Id
            (Get-FeatureJob).Id | Should -Be $waiting.Id
        }

        It 'never gives a deleted entry''s id to a new one' {
            $next = Add-FeatureJob ok -Ticket H-1
            $next.Id | Should -BeGreaterThan $waiting.Id
            Stop-FeatureJob $next.Id
            Remove-FeatureJob $next.Id
        }
    }

    Context 'entries that are not finished' {
        It 'refuses a queued entry and keeps it' {
            { Remove-FeatureJob $waiting.Id -ErrorAction Stop } |
                Should -Throw -ErrorId "QueuedJobNotFinished,$Command"
            (Get-FeatureJob -Id $waiting.Id).State | Should -Be 'Queued'
        }

        It 'reports an id that is not in the queue' {
            { Remove-FeatureJob 424242 -ErrorAction Stop } |
                Should -Throw -ErrorId "QueuedJobNotFound,$Command"
        }

        It 'deletes a queued entry once it is cancelled' {
            $waiting | Stop-FeatureJob
            $waiting | Remove-FeatureJob
            Get-FeatureJob | Should -BeNullOrEmpty
        }
    }
}
