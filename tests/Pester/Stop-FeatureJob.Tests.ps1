BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.StopFeatureJobCommand'

    # 'tree' leaves a child and waits for it, so stopping it must reach the whole tree.
    $JobConfig = @'
@{
    Jobs = @{
        ok   = 'exit 0'
        tree = 'sleep 60 & echo $! > child.txt; echo $$ > pid.txt; wait'
    }
}
'@

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

    function Wait-JobTree {
        # Waits until the runner ran the 'tree' job of an entry; returns the job's two pids.
        param([string] $Worktree, [long] $Id)

        $files = 'pid.txt', 'child.txt' | ForEach-Object { Join-Path $Worktree $_ }
        Wait-Until -TimeoutSec 60 -Because 'the job runs and wrote its pids' {
            (Get-FeatureJob -Id $Id).ProcessGroup -and @($files | Where-Object {
                    (Get-Content -LiteralPath $_ -ErrorAction Ignore) -match '^\d+$'
                }).Count -eq 2
        }
        $files | ForEach-Object { [int](Get-Content -LiteralPath $_) }
    }

    function Stop-Leftover {
        # Kills what a failed test may have left: test processes and job processes.
        param([Diagnostics.Process] $Runner, [int[]] $Id)

        if ($Runner -and -not $Runner.HasExited) {
            $Runner.Kill()
            $null = $Runner.WaitForExit(10000)
        }
        foreach ($item in $Id) {
            if (Test-ProcessAlive -Id $item) {
                & kill -KILL $item
            }
        }
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Stop-FeatureJob' {
    Context 'queued entries' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'queued' -Ticket 'Q-1', 'Q-2', 'Q-3'
            Push-Location $repo
            $entries = Add-FeatureJob ok
            $stopped = Stop-FeatureJob $entries[0].Id -PassThru
            $viaPipeline = $entries[1] | Stop-FeatureJob -PassThru
            $results = Start-FeatureJobRunner -Once
        }

        AfterAll {
            Pop-Location
        }

        It 'cancels a queued entry at once' {
            $stopped.State | Should -Be 'Cancelled'
            $stopped.Attempts | Should -Be 0
            $stopped.Reason | Should -BeLike '*before it ran*'
            $viaPipeline.State | Should -Be 'Cancelled'
        }

        It 'never runs a cancelled entry' {
            $results.Id | Should -Be $entries[2].Id
            (Get-FeatureJobLog).Ticket | Should -Be 'Q-3'
        }

        It 'leaves a finished entry as it is, without an error' {
            $after = Stop-FeatureJob $entries[2].Id -PassThru -ErrorAction Stop
            $after.State | Should -Be 'Succeeded'
        }

        It 'changes nothing with -WhatIf' {
            $entry = Add-FeatureJob ok -Ticket Q-1
            Stop-FeatureJob $entry.Id -WhatIf
            (Get-FeatureJob -Id $entry.Id).State | Should -Be 'Queued'
            $null = Stop-FeatureJob $entry.Id
        }

        It 'reports an id that is not in the queue' {
            { Stop-FeatureJob 424242 -ErrorAction Stop } |
                Should -Throw -ErrorId "QueuedJobNotFound,$Command"
        }
    }

    Context 'a running entry of a runner in another shell' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'running' -Ticket 'R-1'
            Push-Location $repo
            $entry = Add-FeatureJob tree
            $output = Join-Path $TestDrive 'running.txt'
            $runner = Start-PwshProcess -Repository $repo -Output $output `
                -Line 'Start-FeatureJobRunner -Once | ForEach-Object State'
            $jobPids = Wait-JobTree -Worktree (Get-TestWorktreePath $repo 'R-1') -Id $entry.Id
            $stopped = Stop-FeatureJob $entry.Id -PassThru
            $null = $runner.WaitForExit(60000)
        }

        AfterAll {
            Stop-Leftover -Runner $runner -Id $jobPids
            Pop-Location
        }

        It 'returns once the runner has stopped the job, marked Cancelled' {
            $stopped.State | Should -Be 'Cancelled'
            $stopped.CancelRequested | Should -BeTrue
            $stopped.Reason | Should -BeLike '*Stop-FeatureJob*'
        }

        It 'stops the whole process tree of the job' {
            $jobPids | ForEach-Object { Test-ProcessAlive -Id $_ | Should -BeFalse }
        }

        It 'lets the runner go on and end normally' {
            $runner.ExitCode | Should -Be 0
            (Get-Content -LiteralPath $output) | Should -Be 'Cancelled'
        }
    }

    Context 'a running entry whose runner died' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'orphan' -Ticket 'O-1'
            Push-Location $repo
            $entry = Add-FeatureJob tree
            $output = Join-Path $TestDrive 'orphan.txt'
            $runner = Start-PwshProcess -Repository $repo -Output $output `
                -Line 'Start-FeatureJobRunner -Once'
            $jobPids = Wait-JobTree -Worktree (Get-TestWorktreePath $repo 'O-1') -Id $entry.Id
            & kill -KILL $runner.Id
            $null = $runner.WaitForExit(30000)
            $aliveBefore = @($jobPids | Where-Object { Test-ProcessAlive -Id $_ })
            $stopped = Stop-FeatureJob $entry.Id -PassThru
        }

        AfterAll {
            Stop-Leftover -Runner $runner -Id $jobPids
            Pop-Location
        }

        It 'stops the job itself, since no runner will' {
            $aliveBefore | Should -HaveCount 2
            $jobPids | ForEach-Object { Test-ProcessAlive -Id $_ | Should -BeFalse }
        }

        It 'marks the entry Cancelled, not queued again' {
            $stopped.State | Should -Be 'Cancelled'
            $stopped.Attempts | Should -Be 1
            Start-FeatureJobRunner -Once | Should -BeNullOrEmpty
        }
    }
}
