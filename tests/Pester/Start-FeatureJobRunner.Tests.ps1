BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.StartFeatureJobRunnerCommand'

    function New-QueueRepository {
        # A repository with the given configuration and one feature (no session) per ticket.
        param([string] $Name, [string[]] $Ticket, [string] $Config)

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

    function Stop-PwshProcess {
        # Kills test processes that are still running after a failed test.
        param([Diagnostics.Process[]] $Process)

        foreach ($item in $Process) {
            if ($item -and -not $item.HasExited) {
                $item.Kill()
                $null = $item.WaitForExit(10000)
            }
        }
    }

    function Get-JobLogRow {
        # The joblog rows of jobs that ran (runs that never started are left out).
        Get-FeatureJobLog | Where-Object Status -ne 'NotStarted'
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Start-FeatureJobRunner' {
    Context 'draining the queue with -Once' {
        BeforeAll {
            $config = @'
@{
    Jobs  = @{
        ok    = 'echo fine'
        fail  = 'echo failing; exit 3'
        flaky = 'n=$(($(cat tries 2>/dev/null || echo 0) + 1)); echo $n > tries; [ $n -ge 2 ]'
    }
    Queue = @{ MaxAttempts = 2; RetryDelaySec = 0 }
}
'@
            $repo = New-QueueRepository -Name 'once' -Ticket 'R-1', 'R-2' -Config $config
            Push-Location $repo
            $low = Add-FeatureJob ok -Ticket R-1 -Priority 1
            $high = Add-FeatureJob ok -Ticket R-2 -Priority 5
            $failing = Add-FeatureJob fail -Ticket R-1
            $flaky = Add-FeatureJob flaky -Ticket R-2
            $later = Add-FeatureJob ok -Ticket R-2 -NotBefore ([datetime]::Now.AddHours(1))
            $results = Start-FeatureJobRunner -Once -ThrottleLimit 1 -ErrorVariable failures `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'returns one WorktreeTools.QueuedJob per entry that finished, highest priority first' {
            $results | Should -HaveCount 4
            $results[0].PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.QueuedJob'
            $results[0].Id | Should -Be $high.Id
            $results[1].Id | Should -Be $low.Id
            ($results | Where-Object Id -eq $high.Id).State | Should -Be 'Succeeded'
        }

        It 'records the run of each entry: times, exit code, log, runner and joblog row' {
            $entry = Get-FeatureJob -Id $low.Id
            $entry.State | Should -Be 'Succeeded'
            $entry.Attempts | Should -Be 1
            $entry.ExitCode | Should -Be 0
            $entry.Finished | Should -BeGreaterOrEqual $entry.Started
            $entry.Runner | Should -BeExactly "$([Environment]::MachineName):$PID"
            $entry.ProcessGroup | Should -BeGreaterThan 0
            Get-Content -LiteralPath $entry.LogPath | Should -Be 'fine'
            $row = Get-FeatureJobLog | Where-Object Seq -eq $entry.Seq
            $row.Ticket | Should -BeExactly 'R-1'
            $row.Job | Should -BeExactly 'ok'
        }

        It 'runs a failed entry again by the policy, then marks it Failed with an error' {
            $entry = $results | Where-Object Id -eq $failing.Id
            $entry.State | Should -Be 'Failed'
            $entry.Attempts | Should -Be 2
            $entry.ExitCode | Should -Be 3
            $entry.Reason | Should -BeLike 'attempt 2 of 2 failed: exit code 3*'
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -BeExactly "FeatureJobFailed,$Command"
            $failures[0].TargetObject.Id | Should -Be $failing.Id
        }

        It 'succeeds with an entry that passes on its second attempt' {
            $entry = $results | Where-Object Id -eq $flaky.Id
            $entry.State | Should -Be 'Succeeded'
            $entry.Attempts | Should -Be 2
        }

        It 'leaves an entry whose time has not come in the queue' {
            $entry = Get-FeatureJob -Id $later.Id
            $entry.State | Should -Be 'Queued'
            $entry.Attempts | Should -Be 0
        }

        It 'writes one joblog row per attempt' {
            $rows = @(Get-JobLogRow)
            $rows | Should -HaveCount 6
            ($rows | Where-Object Job -eq 'fail').Attempt | Should -Be @(1, 1)
        }

        It 'never runs a finished entry again' {
            Start-FeatureJobRunner -Once | Should -BeNullOrEmpty
            @(Get-JobLogRow) | Should -HaveCount 6
        }
    }

    Context 'a runner without -Once' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'waiting' -Ticket 'W-1' `
                -Config "@{ Jobs = @{ ok = 'exit 0' } }"
            Push-Location $repo
            $output = Join-Path $TestDrive 'waiting.txt'
            $runner = Start-PwshProcess -Repository $repo -Output $output `
                -Line 'Start-FeatureJobRunner -Verbose'

            # The runner opens the queue first; an entry queued afterwards must still run.
            Wait-Until { Test-Path (Join-Path $repo '.git/worktreetools/queue.db') } -TimeoutSec 60
            $entry = Add-FeatureJob ok
        }

        AfterAll {
            Stop-PwshProcess $runner
            Pop-Location
        }

        It 'waits for new entries and runs them' {
            Wait-Until { (Get-FeatureJob -Id $entry.Id).State -eq 'Succeeded' } -TimeoutSec 60 `
                -Because 'the waiting runner runs the new entry'
            (Get-FeatureJob -Id $entry.Id).Runner | Should -BeLike "*:$($runner.Id)"
            $runner.HasExited | Should -BeFalse
        }
    }

    Context 'two runners draining 200 entries' {
        BeforeAll {
            # 100 jobs in two features: 200 entries, each a (ticket, job) pair of its own, all
            # held until the go file appears, so that both runners are busy before any ends.
            $go = Join-Path $TestDrive 'two-go'
            $jobs = 1..100 | ForEach-Object {
                "        j{0:d3} = 'while [ ! -e ''{1}'' ]; do sleep 0.01; done'" -f $_, $go
            }
            $config = "@{`n    Jobs = @{`n$($jobs -join "`n")`n    }`n}"
            $repo = New-QueueRepository -Name 'two' -Ticket 'T-1', 'T-2' -Config $config
            Push-Location $repo
            $queued = 1..100 | ForEach-Object { Add-FeatureJob ('j{0:d3}' -f $_) }
            $outputs = 1..2 | ForEach-Object { Join-Path $TestDrive "two-$_.txt" }
            $runners = $outputs | ForEach-Object {
                Start-PwshProcess -Repository $repo -Output $_ `
                    -Line 'Start-FeatureJobRunner -Once -ThrottleLimit 2 | Measure-Object | % Count'
            }
            Wait-Until -TimeoutSec 90 -Because 'both runners run jobs' {
                @(Get-FeatureJob -State Running | Where-Object ProcessGroup |
                    Select-Object -ExpandProperty Runner -Unique).Count -eq 2
            }
            $null = New-Item -ItemType File -Path $go
            foreach ($runner in $runners) {
                $null = $runner.WaitForExit(120000)
            }
            $entries = @(Get-FeatureJob)
            $rows = @(Get-JobLogRow)
        }

        AfterAll {
            Stop-PwshProcess $runners
            Pop-Location
        }

        It 'ends both runners with success, together returning every entry' {
            $runners.ExitCode | Should -Be @(0, 0)
            $counts = $outputs | ForEach-Object { [int](Get-Content -LiteralPath $_ -Raw).Trim() }
            ($counts | Measure-Object -Sum).Sum | Should -Be 200
            $counts | ForEach-Object { $_ | Should -BeGreaterThan 0 }
        }

        It 'runs every entry exactly once' {
            $queued | Should -HaveCount 200
            $entries | Where-Object State -ne 'Succeeded' | Should -BeNullOrEmpty
            $entries | Where-Object Attempts -ne 1 | Should -BeNullOrEmpty
            @($entries.Runner | Select-Object -Unique) | Should -HaveCount 2
        }

        It 'has one joblog row per entry, and the entry points at it' {
            $rows | Should -HaveCount 200
            @($rows | ForEach-Object { "$($_.Ticket)/$($_.Job)" } | Select-Object -Unique) |
                Should -HaveCount 200
            ($entries.Seq | Sort-Object) | Should -Be ($rows.Seq | Sort-Object)
            $rows | Where-Object Status -ne 'Succeeded' | Should -BeNullOrEmpty
        }
    }

    Context 'a runner killed with SIGKILL in the middle of a job' {
        BeforeAll {
            # The first attempt hangs with its pid written down; the second one succeeds.
            $config = @'
@{
    Jobs  = @{
        hang = 'if [ -e done.marker ]; then echo second; exit 0; fi
                touch done.marker; echo $$ > pid.txt; exec sleep 60'
    }
    Queue = @{ MaxAttempts = 3; RetryDelaySec = 0 }
}
'@
            $repo = New-QueueRepository -Name 'killed' -Ticket 'K-1' -Config $config
            Push-Location $repo
            $worktree = Get-TestWorktreePath -Repository $repo -Ticket 'K-1'
            $entry = Add-FeatureJob hang
            $output = Join-Path $TestDrive 'killed.txt'
            $runner = Start-PwshProcess -Repository $repo -Output $output `
                -Line 'Start-FeatureJobRunner -Once'
            $pidFile = Join-Path $worktree 'pid.txt'
            Wait-Until -TimeoutSec 60 -Because 'the job runs and wrote its pid' {
                (Get-FeatureJob -Id $entry.Id).ProcessGroup -and
                    (Get-Content -LiteralPath $pidFile -ErrorAction Ignore) -match '^\d+$'
            }
            $running = Get-FeatureJob -Id $entry.Id
            $jobPid = [int](Get-Content -LiteralPath $pidFile)

            & kill -KILL $runner.Id
            $null = $runner.WaitForExit(30000)
            $aliveAfterKill = Test-ProcessAlive -Id $jobPid

            $results = Start-FeatureJobRunner -Once -WarningVariable warnings `
                -WarningAction SilentlyContinue
            $final = Get-FeatureJob -Id $entry.Id
        }

        AfterAll {
            if ($jobPid -and (Test-ProcessAlive -Id $jobPid)) {
                & kill -KILL $jobPid
            }
            Stop-PwshProcess $runner
            Pop-Location
        }

        It 'left the job running without its runner' {
            $running.State | Should -Be 'Running'
            $running.Runner | Should -BeLike "*:$($runner.Id)"
            $runner.HasExited | Should -BeTrue
            $aliveAfterKill | Should -BeTrue
        }

        It 'stops what was left of the job when the next runner starts' {
            Test-ProcessAlive -Id $jobPid | Should -BeFalse
            $warnings | Should -HaveCount 1
            "$($warnings[0])" | Should -BeLike "*runner *:$($runner.Id)*which is dead*queued again*"
        }

        It 'runs the entry again, and it succeeds on its second attempt' {
            $results | Should -HaveCount 1
            $results[0].Id | Should -Be $entry.Id
            $final.State | Should -Be 'Succeeded'
            $final.Attempts | Should -Be 2
            $final.Runner | Should -BeExactly "$([Environment]::MachineName):$PID"
            Get-Content -LiteralPath $final.LogPath | Should -Be 'second'
        }

        It 'loses nothing and runs nothing twice' {
            @(Get-FeatureJob) | Should -HaveCount 1
            $rows = @(Get-JobLogRow)
            $rows | Should -HaveCount 1
            $rows[0].Status | Should -Be 'Succeeded'
            Start-FeatureJobRunner -Once | Should -BeNullOrEmpty
        }
    }

    Context 'Stop-Feature while a queue entry of the feature runs' {
        BeforeAll {
            $config = @'
@{
    Jobs  = @{ hang = 'echo $$ > pid.txt; sleep 60' }
    Queue = @{ MaxAttempts = 3; RetryDelaySec = 0 }
}
'@
            $repo = New-QueueRepository -Name 'stopped' -Ticket 'SF-1' -Config $config
            Push-Location $repo
            $worktree = Get-TestWorktreePath -Repository $repo -Ticket 'SF-1'
            $entry = Add-FeatureJob hang
            $output = Join-Path $TestDrive 'stopped.txt'
            $runner = Start-PwshProcess -Repository $repo -Output $output `
                -Line 'Start-FeatureJobRunner -Once'
            $pidFile = Join-Path $worktree 'pid.txt'
            Wait-Until -TimeoutSec 60 -Because 'the job runs and wrote its pid' {
                (Get-FeatureJob -Id $entry.Id).State -eq 'Running' -and
                    (Get-Content -LiteralPath $pidFile -ErrorAction Ignore) -match '^\d+$'
            }
            $jobPid = [int](Get-Content -LiteralPath $pidFile)
            Stop-Feature SF-1
            $exited = $runner.WaitForExit(60000)
            $final = Get-FeatureJob -Id $entry.Id
        }

        AfterAll {
            if ($jobPid -and (Test-ProcessAlive -Id $jobPid)) {
                & kill -KILL $jobPid
            }
            Stop-PwshProcess $runner
            Pop-Location
        }

        It 'stops the job and lets the runner finish' {
            Test-ProcessAlive -Id $jobPid | Should -BeFalse
            $exited | Should -BeTrue
        }

        It 'ends the entry Cancelled, with the reason, and does not run it again' {
            $final.State | Should -Be 'Cancelled'
            $final.Attempts | Should -Be 1
            $final.Reason | Should -BeLike '*stopped by Stop-Feature while it ran*'
        }
    }

    Context 'admission: a runner holds entries while memory is short' {
        BeforeAll {
            # A floor just under all the memory: MemAvailable never reaches it.
            $totalMB = [int](((Get-Content /proc/meminfo -TotalCount 1) -replace '\D') / 1024)
            $config = "@{ Jobs = @{ pass = 'true' }; " +
                "Admission = @{ MinFreeMemoryMB = $($totalMB - 1); MaxLoad = 0 } }"
            $repo = New-QueueRepository -Name 'admission-repo' -Ticket 'QAD-1' -Config $config
            Push-Location -LiteralPath $repo
            $entry = Add-FeatureJob pass -Ticket QAD-1

            $held = Stop-WhenHeld -Repository $repo -Command 'Start-FeatureJobRunner -Once' `
                -Waiting '*waiting for memory*'
            $waiting, $stopped = $held.Progress, $held.Stopped
        }

        AfterAll {
            Pop-Location
        }

        It 'says in the progress record why the entry waits' {
            $waiting.StatusDescription |
                Should -BeLike "*MB free, $($totalMB - 1) MB wanted*"
        }

        It 'gives the entry back unrun when the runner is stopped' {
            $stopped | Should -BeTrue
            $after = Get-FeatureJob -Id $entry.Id
            $after.State | Should -Be 'Queued'
            @(Get-JobLogRow) | Should -HaveCount 0
        }

        It 'runs it when -MinFreeMemoryMB 0 lifts the floor' {
            $results = Start-FeatureJobRunner -Once -MinFreeMemoryMB 0
            $results | Should -HaveCount 1
            $results[0].State | Should -Be 'Succeeded'
        }
    }
}
