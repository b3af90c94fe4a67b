BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.InvokeFeatureJobCommand'

    # Jobs as a user would write them; single quotes are doubled inside the psd1 strings.
    $JobConfig = @'
@{
    Jobs = @{
        exitcode = 'exit $(( ${FEATURE_TICKET##*-} % 4 ))'
        nap      = 'sleep 0.3'
        where    = 'for v in "$FEATURE_TICKET" "$FEATURE_BRANCH" "$FEATURE_PATH" "$FEATURE_BASE"
                    do printf ''%s\n'' "$v"; done; pwd -P; printf ''%s\n'' "$PWD"'
        quoted   = 'printf ''%s\n'' "it''s" "$(echo sub shell)" ''$HOME'' "$FEATURE_BRANCH"'
        hang     = 'echo $$ > pid.txt; exec sleep 30'
        flaky    = 'n=$(($(cat tries 2>/dev/null || echo 0) + 1)); echo $n > tries
                    echo "try $n"; [ $n -ge 3 ]'
        broken   = 'echo broken; exit 5'
        first    = 'test "$FEATURE_TICKET" != F-1'
        unicode  = 'printf ''café 文档\nzweite Zeile\nno newline'''
        pass     = 'true'
        check    = 'test ! -e fail.marker'
        nap1     = 'sleep 1'
        tree     = 'sh -c ''i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done''
                    sh -c ''x=$(head -c 20000000 /dev/zero | tr "\0" x); sleep 2; echo ${#x}'''
        holdup   = 'case "$FEATURE_TICKET" in
                    H-1) until [ -e "$FEATURE_PATH/../H-2.started" ]; do sleep 0.05; done
                         exit 1 ;;
                    H-2) touch "$FEATURE_PATH/../H-2.started"; sleep 1 ;;
                    esac'
    }
}
'@

    function New-JobRepository {
        # A repository with the job configuration and one feature (no session) per ticket.
        param(
            [Parameter(Mandatory)] [string] $Name,
            [string[]] $Ticket = @(),
            [string] $Config = $JobConfig,
            [string] $Root = $TestDrive
        )

        $repo = New-TestRepository -Root $Root -Name $Name -Config $Config
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

    function Get-JobStateFolder {
        # The module's state folder: <git common dir>/worktreetools.
        param([Parameter(Mandatory)] [string] $Repository)

        $common = Invoke-Git $Repository rev-parse --path-format=absolute --git-common-dir
        Join-Path $common 'worktreetools'
    }

    function Get-MaxConcurrency {
        <#
            The most joblog rows running at one instant. Each interval is narrowed by a few
            milliseconds, because the joblog rounds its times to the millisecond.
        #>
        param([Parameter(Mandatory)] [object[]] $Entry, [double] $SlackSec = 0.005)

        $events = foreach ($row in $Entry) {
            $start = $row.StartTime.ToUnixTimeMilliseconds() / 1000.0
            $end = $start + $row.Runtime.TotalSeconds
            [pscustomobject]@{ At = $start + $SlackSec; Change = 1 }
            [pscustomobject]@{ At = $end - $SlackSec; Change = -1 }
        }

        # At the same instant an end counts before a start.
        $running = 0
        $most = 0
        foreach ($item in $events | Sort-Object At, Change) {
            $running += $item.Change
            $most = [Math]::Max($most, $running)
        }
        $most
    }

    function Get-ProcessGroupMember {
        # Live (not zombie) processes whose process group is the given one, from /proc.
        param([Parameter(Mandatory)] [int] $Group)

        foreach ($folder in [IO.Directory]::EnumerateDirectories('/proc')) {
            $id = 0
            if (-not [int]::TryParse([IO.Path]::GetFileName($folder), [ref] $id)) {
                continue
            }
            try {
                $stat = [IO.File]::ReadAllText("$folder/stat")
            } catch {
                continue
            }

            # After the command name in parentheses: state, ppid, pgrp, ...
            $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
            if ([int]$fields[2] -eq $Group -and $fields[0] -notin 'Z', 'X') {
                $id
            }
        }
    }

    function Read-ProcessId {
        # The number a job wrote into a file, or $null while the file is missing or partial.
        param([Parameter(Mandatory)] [string] $Path)

        $text = Get-Content -LiteralPath $Path -Raw -ErrorAction Ignore
        $id = 0
        if ($text -and $text.EndsWith("`n") -and [int]::TryParse($text.Trim(), [ref] $id)) {
            $id
        }
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Invoke-FeatureJob' {
    Context 'exit codes with one worker for every feature' {
        BeforeAll {
            $repo = New-JobRepository -Name 'exit-repo' -Ticket 'T-1', 'T-2', 'T-3', 'T-4'
            Push-Location $repo
            $results = Invoke-FeatureJob exitcode -ThrottleLimit 1 -ErrorVariable failures `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'emits one WorktreeTools.FeatureJobResult per feature' {
            $results | Should -HaveCount 4
            $results.Ticket | Should -Be @('T-1', 'T-2', 'T-3', 'T-4')
            $results | ForEach-Object {
                $_.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureJobResult'
                $_.Job | Should -BeExactly 'exitcode'
                $_.Attempts | Should -Be 1
            }
        }

        It 'keeps the exit code of <Ticket>' -TestCases @(
            @{ Ticket = 'T-1'; Code = 1; Status = 'Failed' }
            @{ Ticket = 'T-2'; Code = 2; Status = 'Failed' }
            @{ Ticket = 'T-3'; Code = 3; Status = 'Failed' }
            @{ Ticket = 'T-4'; Code = 0; Status = 'Succeeded' }
        ) {
            $result = $results | Where-Object Ticket -EQ $Ticket
            $result.ExitCode | Should -Be $Code
            $result.Status | Should -Be $Status
            $result.Succeeded | Should -Be ($Code -eq 0)
            $result.Failed | Should -Be ($Code -ne 0)
            $result.Signal | Should -BeNullOrEmpty
            $result.Reason | Should -BeExactly "exit code $Code"
        }

        It 'writes one FeatureJobFailed error per failed job' {
            $failures | Should -HaveCount 3
            $failures | ForEach-Object {
                $_.FullyQualifiedErrorId | Should -BeExactly "FeatureJobFailed,$Command"
            }
            $failures.TargetObject.Ticket | Should -Be @('T-1', 'T-2', 'T-3')
            $failures[1].Exception.Message | Should -BeLike "*'exitcode'*T-2*exit code 2*"
        }

        It 'records each exit code in the joblog' {
            $rows = Get-FeatureJobLog -Job exitcode
            $rows.Ticket | Should -Be @('T-1', 'T-2', 'T-3', 'T-4')
            $rows.ExitCode | Should -Be @(1, 2, 3, 0)
            $rows.Seq | Should -Be $results.Seq
        }

        It 'sets $? to false when a job failed' {
            $result = Invoke-FeatureJob exitcode -Ticket 'T-1' -ErrorAction SilentlyContinue
            $succeeded = $?
            $result.Status | Should -Be 'Failed'
            $succeeded | Should -BeFalse
        }

        It 'throws FeatureJobFailed with -ErrorAction Stop' {
            $thrown = {
                Invoke-FeatureJob exitcode -Ticket 'T-4', 'T-1' -ThrottleLimit 1 -ErrorAction Stop
            } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "FeatureJobFailed,$Command"
        }
    }

    Context 'the throttle limit' {
        BeforeAll {
            $tickets = 1..6 | ForEach-Object { "N-$_" }
            $repo = New-JobRepository -Name 'throttle-repo' -Ticket $tickets
            Push-Location $repo
            $results = Invoke-FeatureJob nap -ThrottleLimit 2
            $rows = @(Get-FeatureJobLog -Job nap)
        }

        AfterAll {
            Pop-Location
        }

        It 'runs every job' {
            $results | Should -HaveCount 6
            $results.Status | Sort-Object -Unique | Should -Be 'Succeeded'
            $rows | Should -HaveCount 6
        }

        It 'never runs more than two at once, and does run two at once' {
            Get-MaxConcurrency -Entry $rows | Should -Be 2
        }

        It 'takes the ThrottleLimit setting when -ThrottleLimit is not given' {
            $config = "@{`n    ThrottleLimit = 1" + $JobConfig.Substring(2)
            $one = New-JobRepository -Name 'throttle-config-repo' -Ticket 'M-1', 'M-2', 'M-3' `
                -Config $config
            Push-Location -LiteralPath $one
            try {
                $oneResults = Invoke-FeatureJob nap
                $oneRows = @(Get-FeatureJobLog -Job nap)
            } finally {
                Pop-Location
            }

            $oneResults | Should -HaveCount 3
            Get-MaxConcurrency -Entry $oneRows | Should -Be 1
        }

        It 'refuses -ThrottleLimit 0' {
            $thrown = { Invoke-FeatureJob nap -ThrottleLimit 0 -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId |
                Should -BeExactly "ParameterArgumentValidationError,$Command"
        }
    }

    Context 'feature values and the working folder' {
        BeforeAll {
            # Spaces and wildcard brackets in every path: the repository and the worktrees.
            $root = Join-Path $TestDrive '[x] y'
            $repo = New-JobRepository -Name 'where repo' -Root $root -Ticket 'W-1', 'W-2'
            $features = @{}
            Push-Location -LiteralPath $repo
            Get-Feature | ForEach-Object { $features[$_.Ticket] = $_ }
            Pop-Location

            function Get-WhereLog {
                param([string] $Ticket)
                $path = Join-Path (Get-JobStateFolder $repo) "logs/$Ticket/where.log"
                [IO.File]::ReadAllLines($path)
            }

            function Get-Expected {
                param([string] $Ticket)
                $feature = $features[$Ticket]
                @($Ticket, $feature.Branch, $feature.Path, $feature.Base, $feature.Path,
                    $feature.Path)
            }
        }

        It 'passes FEATURE_* and runs in the worktree from the repository' {
            Push-Location -LiteralPath $repo
            try {
                $results = Invoke-FeatureJob where
            } finally {
                Pop-Location
            }

            $results.Status | Should -Be @('Succeeded', 'Succeeded')
            foreach ($ticket in 'W-1', 'W-2') {
                Get-WhereLog $ticket | Should -Be (Get-Expected $ticket)
            }
            $features['W-1'].Base | Should -Not -BeNullOrEmpty
            $features['W-1'].Path | Should -BeLike '*`[x`] y*'
        }

        It 'runs in the worktree when the location is a PSDrive' {
            $null = New-PSDrive -Name 'WtJobDrive' -PSProvider FileSystem -Root $repo -Scope Global
            Push-Location 'WtJobDrive:\'
            try {
                $result = Invoke-FeatureJob where -Ticket 'W-1'
            } finally {
                Pop-Location
                Remove-PSDrive -Name 'WtJobDrive' -Scope Global
            }

            $result.Status | Should -Be 'Succeeded'
            Get-WhereLog 'W-1' | Should -Be (Get-Expected 'W-1')
        }

        It 'runs in the worktree when the location is a folder with spaces and brackets' {
            $folder = Join-Path $repo '[sub] folder'
            $null = New-Item -ItemType Directory -Path $folder -Force
            Push-Location -LiteralPath $folder
            try {
                $result = Invoke-FeatureJob where -Ticket 'W-2'
            } finally {
                Pop-Location
            }

            $result.Status | Should -Be 'Succeeded'
            Get-WhereLog 'W-2' | Should -Be (Get-Expected 'W-2')
        }

        It 'runs in the worktree when the location is another feature''s worktree' {
            Push-Location -LiteralPath $features['W-1'].Path
            try {
                $result = Invoke-FeatureJob where -Ticket 'W-2'
            } finally {
                Pop-Location
            }

            $result.Status | Should -Be 'Succeeded'
            Get-WhereLog 'W-2' | Should -Be (Get-Expected 'W-2')
        }

        It 'runs only in the features from the pipeline' {
            Push-Location -LiteralPath $repo
            try {
                $result = Get-Feature 'W-2' | Invoke-FeatureJob where
            } finally {
                Pop-Location
            }

            $result.Ticket | Should -BeExactly 'W-2'
            $result.Status | Should -Be 'Succeeded'
        }
    }

    Context 'command lines and feature values taken as they are' {
        BeforeAll {
            # git allows $, (, ), {, }, quotes and ; in branch names; the shell must not run them.
            $template = 'feat/{Ticket}-$(touch${IFS}injected);"x"''y'''
            $quotedTemplate = $template.Replace("'", "''")
            $config = "@{`n    BranchTemplate = '$quotedTemplate'" + $JobConfig.Substring(2)
            $repo = New-JobRepository -Name 'quote-repo' -Ticket 'Q-1' -Config $config
            Push-Location $repo
            $feature = Get-Feature 'Q-1'
            $result = Invoke-FeatureJob quoted
            $log = [IO.File]::ReadAllLines($result.LogPath)
        }

        AfterAll {
            Pop-Location
        }

        It 'made the feature with the hostile branch name' {
            $feature.Branch | Should -BeExactly $template.Replace('{Ticket}', 'Q-1')
        }

        It 'runs the configured command line as written' {
            $result.Status | Should -Be 'Succeeded'
            $result.Command | Should -BeExactly (
                'printf ''%s\n'' "it''s" "$(echo sub shell)" ''$HOME'' "$FEATURE_BRANCH"')
            $log[0..2] | Should -Be @("it's", 'sub shell', '$HOME')
        }

        It 'passes the branch name as a value, never as shell code' {
            $log[3] | Should -BeExactly $feature.Branch
            Test-Path -LiteralPath (Join-Path $feature.Path 'injected') | Should -BeFalse
            Test-Path -LiteralPath (Join-Path $repo 'injected') | Should -BeFalse
        }

        It 'runs a -Command line as written' {
            $line = 'printf ''%s|'' "a b" ''c"d'' "$(printf %s e)" `printf f` "$FEATURE_BRANCH"'
            $adHoc = Invoke-FeatureJob -Command $line -Ticket 'Q-1'

            $adHoc.Job | Should -BeExactly 'command'
            $adHoc.Command | Should -BeExactly $line
            [IO.File]::ReadAllText($adHoc.LogPath) |
                Should -BeExactly "a b|c`"d|e|f|$($feature.Branch)|"
        }
    }

    Context 'a time limit' {
        BeforeAll {
            $repo = New-JobRepository -Name 'timeout-repo' -Ticket 'TO-1'
            Push-Location $repo
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $result = Invoke-FeatureJob hang -TimeoutSec 1 -ErrorVariable failures `
                -ErrorAction SilentlyContinue
            $elapsed = $clock.Elapsed
            $jobPid = Read-ProcessId (Join-Path (Get-Feature 'TO-1').Path 'pid.txt')
        }

        AfterAll {
            Pop-Location
        }

        It 'stops the job soon after the limit' {
            $elapsed.TotalSeconds | Should -BeLessThan 6
            $result.Status | Should -Be 'TimedOut'
            $result.Failed | Should -BeTrue
            $result.Signal | Should -Be 15
            $result.ExitCode | Should -Be 143
            $result.Reason | Should -BeLike '*time limit of 1 s*'
            $result.Duration.TotalSeconds | Should -BeGreaterOrEqual 0.9
        }

        It 'writes a FeatureJobFailed error that says it timed out' {
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -BeExactly "FeatureJobFailed,$Command"
            $failures[0].Exception.Message | Should -BeLike '*timed out*'
        }

        It 'leaves no process behind' {
            $jobPid | Should -BeGreaterThan 0
            Test-ProcessAlive -Id $jobPid | Should -BeFalse
            @(Get-ProcessGroupMember -Group $jobPid) | Should -HaveCount 0
        }

        It 'records TimedOut in the joblog' {
            $row = Get-FeatureJobLog -Ticket 'TO-1' -Job hang
            $row.Status | Should -Be 'TimedOut'
            $row.Signal | Should -Be 15
        }

        It 'stops the whole tree at the limit, a child that ignores SIGTERM too' {
            $path = (Get-Feature 'TO-1').Path
            $line = 'echo $$ > tree.pid; sh -c "trap \"\" TERM; sleep 600" & ' +
                'echo $! > tree-child.pid; sleep 600'
            try {
                $tree = Invoke-FeatureJob -Command $line -TimeoutSec 1 -ErrorAction SilentlyContinue
                $group = Read-ProcessId (Join-Path $path 'tree.pid')
                $child = Read-ProcessId (Join-Path $path 'tree-child.pid')

                $tree.Status | Should -Be 'TimedOut'
                $group | Should -BeGreaterThan 0
                $child | Should -BeGreaterThan 0
                Wait-Until -TimeoutSec 5 -Because 'every process of the timed-out job to end' {
                    -not (Test-ProcessAlive -Id $child) -and
                        @(Get-ProcessGroupMember -Group $group).Count -eq 0
                }
            } finally {
                $child = Read-ProcessId (Join-Path $path 'tree-child.pid')
                if ($child -and (Test-ProcessAlive -Id $child)) {
                    [Diagnostics.Process]::GetProcessById($child).Kill()
                }
            }
        }

        It 'stops at the time limit when a process that left the group holds the output' {
            $line = 'setsid sh -c ''echo $$ > stray.pid; exec sleep 20'' & echo started'
            $clock = [Diagnostics.Stopwatch]::StartNew()
            try {
                $null = Invoke-FeatureJob -Command $line -TimeoutSec 1 -ErrorAction SilentlyContinue
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
                $stray = Read-ProcessId (Join-Path (Get-Feature 'TO-1').Path 'stray.pid')
                Test-ProcessAlive -Id $stray | Should -BeFalse
            } finally {
                $stray = Read-ProcessId (Join-Path (Get-Feature 'TO-1').Path 'stray.pid')
                if ($stray -and (Test-ProcessAlive -Id $stray)) {
                    [Diagnostics.Process]::GetProcessById($stray).Kill()
                }
            }
        }
    }

    Context 'retries' {
        BeforeAll {
            $repo = New-JobRepository -Name 'retry-repo' -Ticket 'R-1', 'R-2'
            Push-Location $repo
            $result = Invoke-FeatureJob flaky -Ticket 'R-1' -Retries 2 -ErrorVariable flakyFailures
            $broken = Invoke-FeatureJob broken -Ticket 'R-2' -Retries 1 `
                -ErrorVariable brokenFailures -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'succeeds on the third attempt' {
            $result.Status | Should -Be 'Succeeded'
            $result.Attempts | Should -Be 3
            $result.ExitCode | Should -Be 0
            $flakyFailures | Should -HaveCount 0
        }

        It 'writes one joblog row per attempt' {
            $rows = @(Get-FeatureJobLog -Ticket 'R-1' -Job flaky)
            $rows.Attempt | Should -Be @(1, 2, 3)
            $rows.Status | Should -Be @('Failed', 'Failed', 'Succeeded')
            $rows.ExitCode | Should -Be @(1, 1, 0)
            $rows[2].Seq | Should -Be $result.Seq
        }

        It 'keeps every attempt''s output in the log' {
            $log = Get-Content -LiteralPath $result.LogPath -Raw
            $log | Should -BeLike '*try 1*attempt 2 of 3*try 2*attempt 3 of 3*try 3*'
        }

        It 'stops retrying after -Retries and reports one failure' {
            $broken.Status | Should -Be 'Failed'
            $broken.Attempts | Should -Be 2
            $broken.ExitCode | Should -Be 5
            $brokenFailures | Should -HaveCount 1
            (Get-FeatureJobLog -Ticket 'R-2').Attempt | Should -Be @(1, 2)
        }
    }

    Context '-FailFast' {
        BeforeAll {
            $repo = New-JobRepository -Name 'failfast-repo' -Ticket 'F-1', 'F-2', 'F-3', 'F-4'
            Push-Location $repo
            $results = Invoke-FeatureJob first -ThrottleLimit 1 -FailFast -ErrorVariable failures `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'runs the first feature, which fails' {
            $first = $results | Where-Object Ticket -EQ 'F-1'
            $first.Status | Should -Be 'Failed'
            $failures | Should -HaveCount 1
            $failures[0].TargetObject.Ticket | Should -BeExactly 'F-1'
        }

        It 'starts none of the others' {
            $later = @($results | Where-Object Ticket -NE 'F-1')
            $later.Ticket | Should -Be @('F-2', 'F-3', 'F-4')
            foreach ($result in $later) {
                $result.Status | Should -Be 'NotStarted'
                $result.Reason | Should -BeLike '*FailFast*F-1*'
                $result.Attempts | Should -Be 0
                $result.ExitCode | Should -BeNullOrEmpty
            }

            # Only F-1 ran; the others have NotStarted rows that say why.
            $rows = @(Get-FeatureJobLog -Job first)
            ($rows | Where-Object Status -NE 'NotStarted').Ticket | Should -BeExactly 'F-1'
            $held = @($rows | Where-Object Status -EQ 'NotStarted')
            $held.Ticket | Should -Be @('F-2', 'F-3', 'F-4')
            foreach ($row in $held) {
                $row.ExitCode | Should -Be -1
                $row.Reason | Should -BeLike '*FailFast*F-1*'
            }
        }
    }

    Context '-FailFast while another job runs' {
        BeforeAll {
            # H-1 fails only once H-2 has started, so H-2 is running when the failure comes.
            $repo = New-JobRepository -Name 'holdup-repo' -Ticket 'H-1', 'H-2', 'H-3', 'H-4'
            Push-Location $repo
            $results = Invoke-FeatureJob holdup -ThrottleLimit 2 -FailFast -TimeoutSec 30 `
                -MaxLoad 0 -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'lets the job that was running finish' {
            ($results | Where-Object Ticket -EQ 'H-1').Status | Should -Be 'Failed'
            ($results | Where-Object Ticket -EQ 'H-2').Status | Should -Be 'Succeeded'
        }

        It 'starts none of the queued ones' {
            $later = @($results | Where-Object Ticket -In 'H-3', 'H-4')
            $later | Should -HaveCount 2
            $later.Status | Should -Be @('NotStarted', 'NotStarted')
            $later | ForEach-Object { $_.Reason | Should -BeLike '*FailFast*H-1*' }
        }
    }

    Context 'stopping the invocation as Ctrl+C does' {
        BeforeAll {
            $tickets = 'C-1', 'C-2', 'C-3', 'C-4'
            $repo = New-JobRepository -Name 'cancel-repo' -Ticket $tickets
            $paths = $tickets | ForEach-Object { Get-TestWorktreePath -Repository $repo -Ticket $_ }

            # The child ignores SIGTERM, so only the kill after the grace period ends it.
            $line = 'echo running; echo $$ > job.pid; sh -c "trap \"\" TERM; sleep 600" & ' +
                'echo $! > child.pid; sleep 600'
            $ps = [powershell]::Create()
            $null = $ps.AddScript({
                param($Module, $Repository, $Line)
                Import-Module $Module
                Set-Location -LiteralPath $Repository
                Invoke-FeatureJob -Command $Line -ThrottleLimit 2 -MaxLoad 0
            }.ToString())
            $null = $ps.AddArgument($env:WORKTREETOOLS_MODULE).AddArgument($repo).AddArgument($line)
            $invocation = $ps.BeginInvoke()

            $recorded = {
                @($paths | Where-Object {
                    (Read-ProcessId (Join-Path $_ 'job.pid')) -and
                    (Read-ProcessId (Join-Path $_ 'child.pid'))
                })
            }
            Wait-Until -TimeoutSec 15 -Because 'two jobs to record their process ids' {
                (& $recorded).Count -ge 2
            }
            $started = & $recorded
            $jobPids = @($started | ForEach-Object { Read-ProcessId (Join-Path $_ 'job.pid') })
            $childPids = @($started | ForEach-Object { Read-ProcessId (Join-Path $_ 'child.pid') })
            $childrenBefore = @($childPids | Where-Object { Test-ProcessAlive -Id $_ })

            $clock = [Diagnostics.Stopwatch]::StartNew()
            $stop = $ps.BeginStop($null, $null)
            $stopped = $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(20))
            $stopTime = $clock.Elapsed
        }

        AfterAll {
            # Whatever a failed test left behind must not outlive the run.
            foreach ($group in $jobPids) {
                foreach ($id in @(Get-ProcessGroupMember -Group $group) + $childPids) {
                    if (Test-ProcessAlive -Id $id) {
                        try {
                            [Diagnostics.Process]::GetProcessById($id).Kill()
                        } catch {
                            Write-Verbose "Process $id ended before it could be killed."
                        }
                    }
                }
            }
            if ($stopped) {
                $ps.Dispose()
            }
        }

        It 'started exactly two jobs, whose children ran' {
            $started | Should -HaveCount 2
            $childrenBefore | Should -HaveCount 2
            $jobPids | Should -Not -Contain $PID
        }

        It 'returns from Stop()' {
            $stopped | Should -BeTrue
            $stopTime.TotalSeconds | Should -BeLessThan 15
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        }

        It 'leaves no process of the jobs behind' {
            $deadline = [Math]::Max(0.1, 15 - $clock.Elapsed.TotalSeconds)
            Wait-Until -TimeoutSec $deadline -Because 'every process of the jobs to end' {
                $alive = @($jobPids + $childPids | Where-Object { Test-ProcessAlive -Id $_ })
                $members = @($jobPids | ForEach-Object { Get-ProcessGroupMember -Group $_ })
                $alive.Count -eq 0 -and $members.Count -eq 0
            }
        }

        It 'records the two running jobs as Cancelled and starts none of the others' {
            Push-Location $repo
            try {
                $rows = @(Get-FeatureJobLog -Job command)
            } finally {
                Pop-Location
            }
            $ran = @($rows | Where-Object Status -NE 'NotStarted')
            $ran.Status | Should -Be @('Cancelled', 'Cancelled')
            $ran.Ticket | Sort-Object | Should -Be ($started | Split-Path -Leaf | Sort-Object)
            $ran | ForEach-Object { $_.Signal | Should -BeIn 9, 15 }
            $rest = @($rows | Where-Object Status -EQ 'NotStarted')
            $rest.Ticket | Sort-Object | Should -Be (
                $tickets | Where-Object { $_ -notin ($started | Split-Path -Leaf) } | Sort-Object)
            $rest | ForEach-Object { $_.Reason | Should -BeLike '*stopped*' }
        }

        It 'flushes what the stopped jobs wrote to their logs' {
            Push-Location $repo
            try {
                $rows = @(Get-FeatureJobLog -Job command | Where-Object Status -EQ 'Cancelled')
            } finally {
                Pop-Location
            }
            $rows | Should -HaveCount 2
            foreach ($row in $rows) {
                Get-Content -LiteralPath $row.LogPath | Should -Be 'running'
                $row.Receive | Should -Be 8
            }
        }
    }

    Context 'progress' {
        BeforeAll {
            $tickets = 'P-1', 'P-2', 'P-3', 'P-4'
            $repo = New-JobRepository -Name 'progress-repo' -Ticket $tickets

            # Progress records are kept by a runspace of its own, with nothing shown.
            $ps = [powershell]::Create()
            $null = $ps.AddScript({
                param($Module, $Repository)
                Import-Module $Module
                Set-Location -LiteralPath $Repository
                Invoke-FeatureJob nap1 -ThrottleLimit 2 -MaxLoad 0
            }.ToString())
            $null = $ps.AddArgument($env:WORKTREETOOLS_MODULE).AddArgument($repo)
            $results = $ps.Invoke()
            $records = @($ps.Streams.Progress)
            $ps.Dispose()
            $counts = foreach ($record in $records | Where-Object RecordType -EQ 'Processing') {
                if ($record.StatusDescription -match '^(\d+) done, (\d+) running, (\d+) queued') {
                    [pscustomobject]@{
                        Done = [int]$Matches[1]
                        Running = [int]$Matches[2]
                        Queued = [int]$Matches[3]
                        Record = $record
                    }
                }
            }
        }

        It 'ran the four jobs' {
            $results | Should -HaveCount 4
            $results.Status | Sort-Object -Unique | Should -Be 'Succeeded'
        }

        It 'counts done, running and queued jobs, four in all' {
            $counts | Should -Not -BeNullOrEmpty
            $counts | ForEach-Object { $_.Done + $_.Running + $_.Queued | Should -Be 4 }
            ($counts.Running | Measure-Object -Maximum).Maximum | Should -Be 2
            $counts | Where-Object { $_.Running -eq 2 -and $_.Queued -eq 2 } |
                Should -Not -BeNullOrEmpty
        }

        It 'names the running tickets' {
            $busy = @($counts | Where-Object Running -EQ 2)
            $busy | Should -Not -BeNullOrEmpty
            foreach ($item in $busy) {
                $names = $item.Record.CurrentOperation -replace '^Running: ' -split ', '
                $names | Should -HaveCount 2
                $names | ForEach-Object { $_ | Should -BeIn $tickets }
            }
        }

        It 'estimates the time left once a job has ended' {
            $later = @($counts | Where-Object { $_.Done -gt 0 -and $_.Done -lt 4 })
            $later | Should -Not -BeNullOrEmpty
            $later | ForEach-Object { $_.Record.SecondsRemaining | Should -BeGreaterThan 0 }
            $counts | Where-Object Done -EQ 0 | ForEach-Object {
                $_.Record.SecondsRemaining | Should -Be -1
            }
        }

        It 'completes the progress record at the end' {
            $records[-1].RecordType | Should -Be 'Completed'
            @($records | Where-Object RecordType -EQ 'Completed') | Should -HaveCount 1
        }
    }

    Context 'CPU time and memory of the whole process tree' {
        BeforeAll {
            $repo = New-JobRepository -Name 'tree-repo' -Ticket 'TR-1'
            Push-Location $repo
            $result = Invoke-FeatureJob tree
        }

        AfterAll {
            Pop-Location
        }

        It 'ran the job' {
            $result.Status | Should -Be 'Succeeded'
            Get-Content -LiteralPath $result.LogPath | Should -Be '20000000'
        }

        It 'counts the CPU time that a child of the job spent' {
            $result.CpuTime.TotalSeconds | Should -BeGreaterThan 0.02
        }

        It 'samples the memory that a child of the job held' {
            $result.PeakMemory | Should -BeGreaterThan 15MB
        }

        It 'records both in the joblog' {
            $row = Get-FeatureJobLog -Ticket 'TR-1' -Last 1
            [Math]::Abs(($row.CpuTime - $result.CpuTime).TotalSeconds) |
                Should -BeLessOrEqual 0.001
            $row.PeakMemory | Should -Be $result.PeakMemory
        }
    }

    Context 'a job with 50 MB of output' {
        BeforeAll {
            $repo = New-JobRepository -Name 'big-repo' -Ticket 'BIG-1'
            Push-Location $repo
            $size = 50MB
            $line = "head -c $size /dev/zero | tr '\0' 'x'"

            function Get-StatusKb {
                # A field of /proc/self/status such as VmRSS or VmHWM, in kB.
                param([string] $Field)
                $text = [IO.File]::ReadAllText('/proc/self/status')
                if ($text -notmatch "(?m)^${Field}:\s+(\d+) kB") {
                    throw "No $Field in /proc/self/status."
                }
                [long]$Matches[1]
            }

            # Run once first so that loading code does not count as growth.
            $null = Invoke-FeatureJob -Command 'echo warm'
            $heapBefore = [GC]::GetTotalMemory($true)
            $allocatedBefore = [GC]::GetTotalAllocatedBytes($true)

            # The peak resident size (VmHWM) goes back to the current one (Linux 4.0 and up);
            # where the kernel refuses, the lifetime peak is the baseline.
            try {
                [IO.File]::WriteAllText('/proc/self/clear_refs', '5')
                $residentBefore = Get-StatusKb VmRSS
            } catch {
                $residentBefore = Get-StatusKb VmHWM
            }
            $result = Invoke-FeatureJob -Command $line
            $peakGrowth = ((Get-StatusKb VmHWM) - $residentBefore) * 1KB
            $allocated = [GC]::GetTotalAllocatedBytes($true) - $allocatedBefore
            $heapGrowth = [GC]::GetTotalMemory($true) - $heapBefore
        }

        AfterAll {
            Pop-Location
        }

        It 'keeps all of it in the log' {
            $result.Status | Should -Be 'Succeeded'
            $result.OutputBytes | Should -Be $size
            (Get-Item -LiteralPath $result.LogPath).Length | Should -Be $size
        }

        It 'keeps the bytes intact' {
            $stream = [IO.File]::OpenRead($result.LogPath)
            try {
                $buffer = [byte[]]::new(4)
                $null = $stream.Read($buffer, 0, 4)
                $head = [Text.Encoding]::ASCII.GetString($buffer)
                $null = $stream.Seek(-4, 'End')
                $null = $stream.Read($buffer, 0, 4)
                $tail = [Text.Encoding]::ASCII.GetString($buffer)
            } finally {
                $stream.Dispose()
            }
            $head | Should -BeExactly 'xxxx'
            $tail | Should -BeExactly 'xxxx'
        }

        It 'does not hold the output in memory' {
            # Measured here: about 1.5 MB allocated and 0.1 MB of peak growth for 50 MB.
            $heapGrowth | Should -BeLessThan 4MB
            $allocated | Should -BeLessThan 4MB
            $peakGrowth | Should -BeLessThan 8MB
        }
    }

    Context 'a log limit in the configuration' {
        BeforeAll {
            $config = "@{`n    LogLimitMB = 1" + $JobConfig.Substring(2)
            $repo = New-JobRepository -Name 'limit-repo' -Ticket 'LIM-1' -Config $config
            Push-Location $repo
            $result = Invoke-FeatureJob -Command "head -c $(50MB) /dev/zero | tr '\0' 'x'"
        }

        AfterAll {
            Pop-Location
        }

        It 'counts every byte but keeps about 1 MB' {
            $result.Status | Should -Be 'Succeeded'
            $result.OutputBytes | Should -Be 50MB
            $length = (Get-Item -LiteralPath $result.LogPath).Length
            $length | Should -BeGreaterThan 1MB
            $length | Should -BeLessThan (1MB + 200)
        }

        It 'ends the log with a marker saying the output was cut' {
            $stream = [IO.File]::OpenRead($result.LogPath)
            try {
                $buffer = [byte[]]::new(200)
                $null = $stream.Seek(-200, 'End')
                $null = $stream.Read($buffer, 0, 200)
            } finally {
                $stream.Dispose()
            }
            $tail = [Text.Encoding]::UTF8.GetString($buffer)
            $tail | Should -BeLike '*output cut*'
        }

        It 'marks the cut when the last write crosses the limit' {
            # The last 20 bytes are one atomic write that crosses the limit, so one read.
            $line = "head -c $(1MB - 10) /dev/zero | tr '\0' 'x'; printf '%020d' 0"
            $result = Invoke-FeatureJob -Command $line
            $result.OutputBytes | Should -Be (1MB + 10)
            $bytes = [IO.File]::ReadAllBytes($result.LogPath)
            $tail = [Text.Encoding]::UTF8.GetString($bytes, $bytes.Length - 100, 100)
            $tail | Should -BeLike '*output cut*'
        }
    }

    Context 'non-ASCII output' {
        BeforeAll {
            $repo = New-JobRepository -Name 'unicode-repo' -Ticket 'U-1', 'U-2'
            Push-Location $repo
            $expected = "café 文档`nzweite Zeile`nno newline"
        }

        AfterAll {
            Pop-Location
        }

        It 'reads back intact from the log' {
            $result = Invoke-FeatureJob unicode -Ticket 'U-1'
            [IO.File]::ReadAllText($result.LogPath, [Text.Encoding]::UTF8) |
                Should -BeExactly $expected
            $result.OutputBytes | Should -Be ([Text.Encoding]::UTF8.GetByteCount($expected))
        }

        It 'shows each job''s output as one block with -ShowOutput' {
            $null = Invoke-FeatureJob unicode -ShowOutput -ThrottleLimit 2 `
                -InformationVariable shown -InformationAction Ignore
            $shown | Should -HaveCount 2
            foreach ($ticket in 'U-1', 'U-2') {
                $block = @($shown | Where-Object { $_.Tags -contains $ticket })
                $block | Should -HaveCount 1
                $text = $block[0].MessageData.Message
                $text | Should -BeLike "``[$ticket``]*unicode*Succeeded*"
                $text.Split("`n", 2)[1].Replace("`r", '') | Should -BeExactly $expected
            }
        }

        It 'shows each line with its ticket with -LineBuffered' {
            $null = Invoke-FeatureJob unicode -LineBuffered -ThrottleLimit 2 `
                -InformationVariable shown -InformationAction Ignore
            foreach ($ticket in 'U-1', 'U-2') {
                $lines = @($shown | Where-Object { $_.Tags -contains $ticket } |
                    ForEach-Object { $_.MessageData.Message })
                $lines | Should -Be @(
                    "[$ticket] café 文档"
                    "[$ticket] zweite Zeile"
                    "[$ticket] no newline"
                )
            }
        }
    }

    Context '-SkipUnchanged' {
        BeforeAll {
            $repo = New-JobRepository -Name 'skip-repo' -Ticket 'S-1'
            Push-Location $repo
            $path = (Get-Feature 'S-1').Path

            $first = Invoke-FeatureJob pass
            $unchanged = Invoke-FeatureJob pass -SkipUnchanged
            $commit = New-TestCommit -Path $path -File 'change.txt'
            $committed = Invoke-FeatureJob pass -SkipUnchanged
            $afterCommit = Invoke-FeatureJob pass -SkipUnchanged
            Set-Content -LiteralPath (Join-Path $path 'untracked.txt') -Value 'new'
            $untracked = Invoke-FeatureJob pass -SkipUnchanged
            $stillUntracked = Invoke-FeatureJob pass -SkipUnchanged
        }

        AfterAll {
            Pop-Location
        }

        It 'runs the first time' {
            $first.Status | Should -Be 'Succeeded'
            $first.Clean | Should -BeTrue
            $first.Commit | Should -BeExactly (Invoke-Git $path rev-parse HEAD~1)
        }

        It 'skips a clean feature on the same commit' {
            $unchanged.Status | Should -Be 'Skipped'
            $unchanged.Attempts | Should -Be 0
            $unchanged.Failed | Should -BeFalse
            $unchanged.Reason | Should -BeLike '*unchanged*'
            $unchanged.LogPath | Should -BeExactly $first.LogPath
        }

        It 'runs again after a new commit, then skips it' {
            $committed.Status | Should -Be 'Succeeded'
            $committed.Commit | Should -BeExactly $commit
            $afterCommit.Status | Should -Be 'Skipped'
        }

        It 'runs while an untracked file is there' {
            $untracked.Status | Should -Be 'Succeeded'
            $untracked.Clean | Should -BeFalse
            $stillUntracked.Status | Should -Be 'Succeeded'
        }

        It 'records skipped runs in the joblog' {
            (Get-FeatureJobLog -Job pass).Status | Should -Be @(
                'Succeeded', 'Skipped', 'Succeeded', 'Skipped', 'Succeeded', 'Succeeded')
        }
    }

    Context 'Get-FeatureStatus after jobs' {
        BeforeAll {
            $repo = New-JobRepository -Name 'status-repo' -Ticket 'ST-1', 'ST-2'
            Push-Location $repo
            $marker = Join-Path (Get-Feature 'ST-1').Path 'fail.marker'
            Set-Content -LiteralPath $marker -Value 'fail'
            $null = Invoke-FeatureJob check -ErrorAction SilentlyContinue
            $failedStatus = Get-FeatureStatus 'ST-1'
            $fineStatus = Get-FeatureStatus 'ST-2'

            Remove-Item -LiteralPath $marker
            $rerun = Invoke-FeatureJob check -Ticket 'ST-1'
            $fixedStatus = Get-FeatureStatus 'ST-1'
        }

        AfterAll {
            Pop-Location
        }

        It 'marks the feature whose job failed as Failed, naming the job' {
            $failedStatus.Failed | Should -BeTrue
            $failedStatus.FailedReason | Should -BeLike "*'check'*"
        }

        It 'lists the last run in LastJobs' {
            $failedStatus.LastJobs | Should -HaveCount 1
            $failedStatus.LastJobs[0].Job | Should -BeExactly 'check'
            $failedStatus.LastJobs[0].Status | Should -Be 'Failed'
            $failedStatus.LastJobs[0].ExitCode | Should -Be 1
        }

        It 'leaves a feature whose job succeeded not Failed' {
            $fineStatus.Failed | Should -BeFalse
            $fineStatus.LastJobs[0].Status | Should -Be 'Succeeded'
        }

        It 'clears Failed after a successful rerun' {
            $rerun.Status | Should -Be 'Succeeded'
            $fixedStatus.Failed | Should -BeFalse
            $fixedStatus.FailedReason | Should -BeNullOrEmpty
            $fixedStatus.LastJobs | Should -HaveCount 1
            $fixedStatus.LastJobs[0].Status | Should -Be 'Succeeded'
        }
    }

    Context 'RecentErrors with patterns from the configuration' {
        BeforeAll {
            $config = "@{ Jobs = @{ lint = " +
                "'printf ""E101 bad indent\nerror: generic\nE202 no\n""; " +
                "exit 1' }; ErrorPatterns = @('^E\d{3}\b') }"
            $repo = New-JobRepository -Name 'patterns-repo' -Ticket 'PAT-1' -Config $config
            Push-Location $repo
            $null = Invoke-FeatureJob lint -ErrorAction SilentlyContinue
            $status = Get-FeatureStatus 'PAT-1'
        }

        AfterAll {
            Pop-Location
        }

        It 'keeps only the lines that match the configured patterns' {
            $status.Failed | Should -BeTrue
            $status.RecentErrors | Should -Be @('E101 bad indent', 'E202 no')
        }
    }

    Context 'admission: jobs wait while the machine is busy' {
        BeforeAll {
            # A floor just under all the memory: MemAvailable never reaches it.
            $totalMB = [int](((Get-Content /proc/meminfo -TotalCount 1) -replace '\D') / 1024)
            $config = "@{ Jobs = @{ pass = 'true' }; " +
                "Admission = @{ MinFreeMemoryMB = $($totalMB - 1); MaxLoad = 0 } }"
            $repo = New-JobRepository -Name 'admission-repo' -Ticket 'AD-1' -Config $config

            $held = Stop-WhenHeld -Repository $repo -Command 'Invoke-FeatureJob pass -Ticket AD-1' `
                -Waiting '*waiting for memory*'
            $waiting, $stopped = $held.Progress, $held.Stopped
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'holds the job and says why in the progress record' {
            $waiting.StatusDescription |
                Should -BeLike "*0 running*MB free, $($totalMB - 1) MB wanted*"
        }

        It 'records the held job as NotStarted when the invocation is stopped' {
            $stopped | Should -BeTrue
            $row = Get-FeatureJobLog -Ticket AD-1 -Last 1
            $row.Status | Should -Be 'NotStarted'
            $row.Reason | Should -BeLike '*stopped while it was waiting for memory*'
            $row.AdmissionWait | Should -BeGreaterThan ([TimeSpan]::Zero)
        }

        It 'takes -MinFreeMemoryMB 0 over the configuration and runs the job' {
            $result = Invoke-FeatureJob pass -Ticket AD-1 -MinFreeMemoryMB 0
            $result.Status | Should -Be 'Succeeded'
            $result.AdmissionWait | Should -Be ([TimeSpan]::Zero)
            $result.WaitReason | Should -BeNullOrEmpty
        }

        It 'refuses a memory floor no machine state could meet' {
            $thrown = { Invoke-FeatureJob pass -MinFreeMemoryMB ($totalMB + 1) -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "MemoryFloorTooHigh,$Command"
        }

        It 'refuses a negative -MaxLoad' {
            { Invoke-FeatureJob pass -MaxLoad -1 -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        }
    }

    Context 'errors' {
        BeforeAll {
            $repo = New-JobRepository -Name 'error-repo' -Ticket 'E-1'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses an unknown job with JobNotFound' {
            $thrown = { Invoke-FeatureJob nosuchjob -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "JobNotFound,$Command"
            $thrown.Exception.Message | Should -BeLike '*nosuchjob*'
        }

        It 'refuses <Case> with JobOrCommandRequired' -TestCases @(
            @{ Case = 'neither a job nor -Command'; Arguments = @{} }
            @{ Case = 'both a job and -Command'; Arguments = @{ Job = 'pass'; Command = 'true' } }
        ) {
            $thrown = { Invoke-FeatureJob @Arguments -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "JobOrCommandRequired,$Command"
        }

        It 'writes FeatureNotFound for an unknown ticket and runs the others' {
            $result = Invoke-FeatureJob pass -Ticket 'NOPE-1', 'E-1' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
            $result.Ticket | Should -BeExactly 'E-1'
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "FeatureNotFound,$Command"
        }

        It 'runs nothing when no ticket matches a wildcard' {
            $result = Invoke-FeatureJob pass -Ticket 'NOPE-*' -ErrorVariable failure
            $result | Should -BeNullOrEmpty
            $failure | Should -HaveCount 0
        }
    }
}
