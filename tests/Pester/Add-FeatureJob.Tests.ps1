BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.AddFeatureJobCommand'
    $JobConfig = "@{ Jobs = @{ test = 'exit 0'; lint = 'echo lint' } }"

    function New-QueueRepository {
        # A repository with the job configuration and one feature (no session) per ticket.
        param([string] $Name, [string[]] $Ticket, [string] $Config = $JobConfig)

        $repo = New-TestRepository -Root $TestDrive -Name $Name -Config $Config
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

Describe 'Add-FeatureJob' {
    Context 'a job by name' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'by-name' -Ticket 'A-1', 'A-2', 'B-1'
            Push-Location $repo
            $one = Add-FeatureJob test -Ticket A-1
            $some = Add-FeatureJob lint -Ticket 'A-*'
            $all = Add-FeatureJob test
        }

        AfterAll {
            Pop-Location
        }

        It 'emits one WorktreeTools.QueuedJob per feature, queued' {
            $one.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.QueuedJob'
            $one.Ticket | Should -BeExactly 'A-1'
            $one.Job | Should -BeExactly 'test'
            $one.Command | Should -BeExactly 'exit 0'
            $one.State | Should -Be 'Queued'
            $one.Attempts | Should -Be 0
            $one.Started | Should -BeNullOrEmpty
            $one.Finished | Should -BeNullOrEmpty
            $one.Enqueued | Should -BeGreaterThan ([DateTimeOffset]::Now.AddMinutes(-5))
        }

        It 'queues in the features the tickets match, or in every feature' {
            $some.Ticket | Should -Be @('A-1', 'A-2')
            $all.Ticket | Should -Be @('A-1', 'A-2', 'B-1')
        }

        It 'numbers the entries in the order they were queued' {
            $ids = @($one) + $some + $all | ForEach-Object Id
            $ids | Should -Be ($ids | Sort-Object)
            $ids | Select-Object -Unique | Should -HaveCount 6
            (Get-FeatureJob).Id | Should -Be $ids
        }
    }

    Context 'objects from the pipeline' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'piped' -Ticket 'C-1', 'C-2'
            Push-Location $repo
            $csv = Join-Path $TestDrive 'jobs.csv'
            $tonight = [datetime]::Today.AddDays(1).AddHours(22)
            @(
                [pscustomobject]@{ Ticket = 'C-2'; Job = 'lint'; Priority = 7; NotBefore = '' }
                [pscustomobject]@{
                    Ticket = 'C-1'; Job = 'test'; Priority = ''; NotBefore = $tonight.ToString('o')
                }
            ) | Export-Csv -LiteralPath $csv
            $fromCsv = Import-Csv -LiteralPath $csv | Add-FeatureJob
            $fromFeatures = Get-Feature | Add-FeatureJob lint
            $later = [datetime]::Now.AddHours(3)
            $scheduled = Add-FeatureJob test -Ticket C-1 -NotBefore $later -Priority -2
        }

        AfterAll {
            Pop-Location
        }

        It 'takes Ticket, Job and Priority from Import-Csv rows' {
            $fromCsv | Should -HaveCount 2
            $fromCsv[0].Ticket | Should -BeExactly 'C-2'
            $fromCsv[0].Job | Should -BeExactly 'lint'
            $fromCsv[0].Priority | Should -Be 7
            $fromCsv[1].Ticket | Should -BeExactly 'C-1'
            $fromCsv[1].Job | Should -BeExactly 'test'
        }

        It 'takes an empty cell of a Priority or NotBefore column as not given' {
            $fromCsv[0].NotBefore | Should -BeLessOrEqual ([DateTimeOffset]::Now)
            $fromCsv[1].Priority | Should -Be 0
            $fromCsv[1].NotBefore.LocalDateTime | Should -Be $tonight
        }

        It 'refuses a Priority that is not a whole number, row by row' -TestCases @(
            @{ Value = 'high' }
            @{ Value = '2.7' }
            @{ Value = 2.5 }
        ) {
            param($Value)
            $before = @(Get-FeatureJob).Count
            $queued = [pscustomobject]@{ Ticket = 'C-1'; Job = 'test'; Priority = $Value },
                [pscustomobject]@{ Ticket = 'C-2'; Job = 'test'; Priority = '3' } |
                Add-FeatureJob -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures | Should -HaveCount 1
            "$($failures[0])" | Should -BeLike "*'$Value' is not a whole number*"
            $queued | Should -HaveCount 1
            $queued[0].Ticket | Should -BeExactly 'C-2'
            $queued[0].Priority | Should -Be 3
            @(Get-FeatureJob).Count | Should -Be ($before + 1)
        }

        It 'takes the tickets of features from Get-Feature' {
            $fromFeatures.Ticket | Should -Be @('C-1', 'C-2')
            $fromFeatures.Job | Should -Be @('lint', 'lint')
        }

        It 'records -NotBefore and -Priority' {
            $scheduled.Priority | Should -Be -2
            $difference = $scheduled.NotBefore.LocalDateTime - $later
            [Math]::Abs($difference.TotalSeconds) | Should -BeLessThan 1
        }
    }

    Context 'queueing from four processes at once' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'four' -Ticket 'D-1', 'D-2'
            Push-Location $repo
            $go = Join-Path $TestDrive 'four-go'

            # Each process waits for the same signal, then queues 250 entries.
            $line = "while (-not (Test-Path '$go')) { Start-Sleep -Milliseconds 10 }; " +
                "1..250 | ForEach-Object { [pscustomobject]@{ Ticket = ('D-1', 'D-2')[`$_ % 2]; " +
                "Job = 'test' } } | Add-FeatureJob | Measure-Object | ForEach-Object Count"
            $outputs = 1..4 | ForEach-Object { Join-Path $TestDrive "four-$_.txt" }
            $processes = $outputs | ForEach-Object {
                Start-PwshProcess -Repository $repo -Line $line -Output $_
            }
            $null = New-Item -ItemType File -Path $go
            foreach ($process in $processes) {
                $null = $process.WaitForExit(120000)
            }
            $entries = @(Get-FeatureJob)
        }

        AfterAll {
            foreach ($process in $processes) {
                if (-not $process.HasExited) {
                    $process.Kill()
                }
            }
            Pop-Location
        }

        It 'ends every process with success, each having queued 250 entries' {
            $processes.ExitCode | Should -Be @(0, 0, 0, 0)
            $outputs | ForEach-Object { (Get-Content -LiteralPath $_ -Raw).Trim() } |
                Should -Be @('250', '250', '250', '250')
        }

        It 'keeps all 1,000 entries, each with its own id' {
            $entries | Should -HaveCount 1000
            $entries.Id | Select-Object -Unique | Should -HaveCount 1000
            $entries | Where-Object State -ne 'Queued' | Should -BeNullOrEmpty
            $entries | Where-Object Ticket -eq 'D-1' | Should -HaveCount 500
        }
    }

    Context 'errors' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'errors' -Ticket 'E-1'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses a job that is not in the Jobs table' {
            { Add-FeatureJob deploy -Ticket E-1 -ErrorAction Stop } |
                Should -Throw -ErrorId "JobNotFound,$Command"
            Get-FeatureJob | Should -BeNullOrEmpty
        }

        It 'refuses a ticket that names no feature' {
            { Add-FeatureJob test -Ticket E-404 -ErrorAction Stop } |
                Should -Throw -ErrorId "FeatureNotFound,$Command"
        }

        It 'refuses a piped object without a ticket' {
            { [pscustomobject]@{ Job = 'test' } | Add-FeatureJob -ErrorAction Stop } |
                Should -Throw -ErrorId "TicketRequired,$Command"
        }

        It 'queues nothing with -WhatIf' {
            Add-FeatureJob test -Ticket E-1 -WhatIf | Should -BeNullOrEmpty
            Get-FeatureJob | Should -BeNullOrEmpty
        }
    }
}
