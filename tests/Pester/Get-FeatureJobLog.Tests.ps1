BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.GetFeatureJobLogCommand'

    $JobConfig = @'
@{
    Jobs = @{
        pass = 'echo passed'
        code = 'exit 3'
    }
}
'@

    function Get-JoblogPath {
        # <git common dir>/worktreetools/jobs/joblog of a repository.
        param([Parameter(Mandatory)] [string] $Repository)

        $common = Invoke-Git $Repository rev-parse --path-format=absolute --git-common-dir
        Join-Path $common 'worktreetools/jobs/joblog'
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Get-FeatureJobLog' {
    Context 'a joblog with runs of two jobs in three features' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'log-repo' -Config $JobConfig
            Push-Location $repo
            foreach ($ticket in 'A-1', 'A-2', 'B-1') {
                $null = New-Feature $ticket -NoSession
            }

            # Rows 1-3: pass everywhere; 4: code in B-1; 5: pass in A-1 again.
            $passed = Invoke-FeatureJob pass -ThrottleLimit 1
            $failed = Invoke-FeatureJob code -Ticket 'B-1' -ErrorAction SilentlyContinue
            $again = Invoke-FeatureJob pass -Ticket 'A-1'
            $joblog = Get-JoblogPath $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'reads every row, oldest first, as WorktreeTools.JobLogEntry' {
            $rows = @(Get-FeatureJobLog)
            $rows | Should -HaveCount 5
            $rows.Seq | Should -Be @(1, 2, 3, 4, 5)
            $rows.Ticket | Should -Be @('A-1', 'A-2', 'B-1', 'B-1', 'A-1')
            $rows.Job | Should -Be @('pass', 'pass', 'pass', 'code', 'pass')
            $rows | ForEach-Object {
                $_.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.JobLogEntry'
            }
        }

        It 'matches what Invoke-FeatureJob returned' {
            $row = Get-FeatureJobLog -Job code
            $row.Seq | Should -Be $failed.Seq
            $row.Status | Should -Be 'Failed'
            $row.Failed | Should -BeTrue
            $row.ExitCode | Should -Be 3
            $row.Signal | Should -Be 0
            $row.Attempt | Should -Be 1
            $row.Command | Should -BeExactly 'exit 3'
            $row.Host | Should -BeExactly ':'
            $row.LogPath | Should -BeExactly $failed.LogPath
            $row.Commit | Should -BeExactly $failed.Commit
            $row.Clean | Should -Be $failed.Clean
            $row.StartTime.ToUnixTimeMilliseconds() |
                Should -Be $failed.Start.ToUnixTimeMilliseconds()
            [Math]::Abs(($row.Runtime - $failed.Duration).TotalMilliseconds) |
                Should -BeLessOrEqual 2
        }

        It 'counts the bytes each job wrote' {
            (Get-FeatureJobLog -Ticket 'A-2').Receive | Should -Be "passed`n".Length
        }

        It 'returns the newest rows with -Last' {
            (Get-FeatureJobLog -Last 3).Seq | Should -Be @(3, 4, 5)
            (Get-FeatureJobLog -Last 100).Seq | Should -Be @(1, 2, 3, 4, 5)
        }

        It 'filters by ticket with wildcards' {
            $rows = Get-FeatureJobLog -Ticket 'a-*'
            $rows.Ticket | Should -Be @('A-1', 'A-2', 'A-1')
            $rows.Seq | Should -Be @(1, 2, 5)
            (Get-FeatureJobLog -Ticket 'A-2', 'B-*').Seq | Should -Be @(2, 3, 4)
        }

        It 'filters by job' {
            (Get-FeatureJobLog -Job 'code').Seq | Should -Be 4
            (Get-FeatureJobLog -Job 'p*').Seq | Should -Be @(1, 2, 3, 5)
        }

        It 'combines the filters with -Last' {
            $row = Get-FeatureJobLog -Ticket 'A-*' -Job 'pass' -Last 1
            $row.Seq | Should -Be 5
            $row.Seq | Should -Be $again.Seq
        }

        It 'takes the ticket and job by position' {
            (Get-FeatureJobLog 'B-1' 'pass').Seq | Should -Be 3
        }

        It 'takes tickets from Get-Feature through the pipeline' {
            (Get-Feature 'A-*' | Get-FeatureJobLog -Job pass).Seq | Should -Be @(1, 2, 5)
        }

        It 'returns nothing, without an error, when no row matches' {
            $rows = Get-FeatureJobLog -Ticket 'NOPE-*' -ErrorVariable failure
            $rows | Should -BeNullOrEmpty
            $failure | Should -HaveCount 0
        }

        It 'starts the joblog file with the GNU parallel header' {
            $lines = [IO.File]::ReadAllLines($joblog)
            $lines[0] | Should -BeLikeExactly (
                "Seq`tHost`tStarttime`tJobRuntime`tSend`tReceive`tExitval`tSignal`tCommand`t*")
            $lines[0].Split("`t") | Should -HaveCount 20
            $lines | Should -HaveCount 6
            $lines[1..5] | ForEach-Object { $_.Split("`t") | Should -HaveCount 20 }
        }

        It 'writes the first nine columns as GNU parallel does' {
            # Seq, Host ':', Starttime '%.3f', JobRuntime '%10.3f', Send, Receive, Exitval,
            # Signal, then the command.
            foreach ($line in [IO.File]::ReadAllLines($joblog) | Select-Object -Skip 1) {
                $fields = $line.Split("`t")
                $fields[0] | Should -Match '^\d+$'
                $fields[1] | Should -BeExactly ':'
                $fields[2] | Should -Match '^\d{10}\.\d{3}$'
                $fields[3] | Should -Match '^ *\d+\.\d{3}$'
                $fields[3].Length | Should -Be 10
                $fields[4..7] | ForEach-Object { $_ | Should -Match '^-?\d+$' }
            }
            $lines = [IO.File]::ReadAllLines($joblog)
            $lines[1].Split("`t")[8] | Should -BeExactly 'echo passed'
            $lines[4].Split("`t")[8] | Should -BeExactly 'exit 3'
        }

        It 'ends each row with the time held back and the reason' {
            $rows = @(Get-FeatureJobLog)
            $rows.Reason | Should -Be @(
                'exit code 0', 'exit code 0', 'exit code 0', 'exit code 3', 'exit code 0')
            $rows.AdmissionWait | ForEach-Object { $_ | Should -Be ([TimeSpan]::Zero) }
        }

        It 'keeps the exit code in the 7th column for awk' {
            $codes = & awk -F '\t' 'NR > 1 { print $7 }' $joblog
            $LASTEXITCODE | Should -Be 0
            $codes | Should -Be @('0', '0', '0', '3', '0')
            (& awk -F '\t' '$7 == 3 { print $10 }' $joblog) | Should -BeExactly 'B-1'
        }
    }

    Context 'a repository where no job has run' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'empty-repo' -Config $JobConfig
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'returns nothing, without an error' {
            $rows = Get-FeatureJobLog -ErrorVariable failure
            $rows | Should -BeNullOrEmpty
            $failure | Should -HaveCount 0
            Test-Path -LiteralPath (Get-JoblogPath $repo) | Should -BeFalse
        }

        It 'refuses -Last 0' {
            $thrown = { Get-FeatureJobLog -Last 0 -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId |
                Should -BeExactly "ParameterArgumentValidationError,$Command"
        }
    }
}
