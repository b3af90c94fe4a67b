BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $NewFeatureId = 'WorktreeTools.Commands.NewFeatureCommand'

    function Test-PortFree {
        # True when the port can be bound on all IPv4 addresses now, the module's own check.
        param([Parameter(Mandatory)] [int] $Port)

        $socket = [Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        try {
            $socket.Bind([Net.IPEndPoint]::new([Net.IPAddress]::Any, $Port))
            $true
        } catch {
            $false
        } finally {
            $socket.Dispose()
        }
    }

    function Find-FreePortRange {
        <#
            The first port of -Count free ports in a row. The search starts at a random
            hundred between 10000 and 19900: below the kernel's ephemeral ports and away
            from the default range, which the other test files lease from, so that two runs
            of this file rarely look at the same ports.
        #>
        param([int] $Count = 100)

        $start = 10000 + 100 * (Get-Random -Maximum 99)
        for ($offset = 0; $offset -lt 9900; $offset += 100) {
            $first = 10000 + ($start - 10000 + $offset) % 9900
            $busy = $first..($first + $Count - 1) | Where-Object { -not (Test-PortFree $_) } |
                Select-Object -First 1
            if ($null -eq $busy) {
                return $first
            }
        }
        throw "No $Count free ports in a row between 10000 and 19999."
    }

    function New-PortRepository {
        # A repository whose features lease blocks of 10 from $First, with no agent.
        param(
            [Parameter(Mandatory)] [string] $Name,
            [Parameter(Mandatory)] [int] $First,
            [string] $Extra = ''
        )

        $config = "@{`n    Agent = `$null`n    Ports = @{ First = $First; Last = $($First + 99); " +
            "BlockSize = 10 }`n$Extra`n}"
        New-TestRepository -Root $TestDrive -Name $Name -Config $config
    }

    function Get-LeaseFolder {
        # Where the leases live: <git common dir>/worktreetools/ports.
        param([Parameter(Mandatory)] [string] $Repository)

        $common = Invoke-Git $Repository rev-parse --path-format=absolute --git-common-dir
        Join-Path $common 'worktreetools/ports'
    }

    function Get-PaneProcess {
        # The process ids of one window's pane and of its descendants, as tmux sees them.
        param([Parameter(Mandatory)] [string] $Session, [Parameter(Mandatory)] [string] $Window)

        $pane = Invoke-Tmux $Socket list-panes -t "=${Session}:=$Window" -F '#{pane_pid}'
        Get-ProcessTree -Id ([int[]]@($pane))
    }

    $FirstPort = Find-FreePortRange
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Ports of features' {
    Context 'two features with the default range' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'default-ports-repo' `
                -Config '@{ Agent = $null }'
            Push-Location $repo
            $one = New-Feature DEF-1 -NoSession
            $two = New-Feature DEF-2 -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'leases a block of 10 between 20000 and 29999 to each' {
            foreach ($feature in $one, $two) {
                $feature.Port | Should -BeGreaterOrEqual 20000
                $feature.Port + 9 | Should -BeLessOrEqual 29999
                $feature.Ports | Should -HaveCount 10
            }
        }

        It 'never gives two features overlapping blocks' {
            $one.Port | Should -Not -Be $two.Port
            $overlap = @($one.Ports | Where-Object { $two.Ports -contains $_ })
            $overlap | Should -HaveCount 0
        }

        It 'keeps one lease file per block, naming the ticket' {
            $folder = Get-LeaseFolder -Repository $repo
            Get-Content -Raw (Join-Path $folder "$($one.Port).lease") | Should -BeExactly 'DEF-1'
            Get-Content -Raw (Join-Path $folder "$($two.Port).lease") | Should -BeExactly 'DEF-2'
        }
    }

    Context 'features with a configured range' {
        BeforeAll {
            $windows = @'
    Windows = @(
        @{ Name = 'server'; Command = 'echo "port=$FEATURE_PORT/$FEATURE_PORT_1"; sleep 600' }
    )
'@
            $repo = New-PortRepository -Name 'ports-repo' -First $FirstPort -Extra $windows
            Push-Location $repo
            $null = New-Feature PORT-1
            $null = New-Feature PORT-2
        }

        AfterAll {
            Pop-Location
        }

        It 'leases the blocks in order from First' {
            (Get-Feature PORT-1).Port | Should -Be $FirstPort
            (Get-Feature PORT-2).Port | Should -Be ($FirstPort + 10)
        }

        It 'shows the whole block as Ports on Get-Feature' {
            $feature = Get-Feature PORT-2
            $feature.Ports | Should -Be @(($FirstPort + 10)..($FirstPort + 19))
        }

        It 'passes FEATURE_PORT and FEATURE_PORT_1 to the windows' {
            $expected = "port=$($FirstPort + 10)/$($FirstPort + 11)"
            Wait-Until -Because "the server window of PORT-2 to print $expected" {
                (Invoke-Tmux $Socket capture-pane -p -t '=PORT-2:=server') -contains $expected
            }
        }

        It 'passes FEATURE_PORT to jobs' {
            $result = Invoke-FeatureJob -Command 'echo "job-port=$FEATURE_PORT"' -Ticket PORT-1
            $result.Succeeded | Should -BeTrue
            Get-Content -LiteralPath $result.LogPath | Should -Contain "job-port=$FirstPort"
        }
    }

    Context 'a port in use' {
        BeforeAll {
            $repo = New-PortRepository -Name 'busy-repo' -First $FirstPort
            Push-Location $repo
            $null = New-Feature BUSY-1 -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'skips the block that holds it' {
            # The next free block is the second; a server listens on its first port.
            $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, $FirstPort + 10)
            $listener.Start()
            try {
                $feature = New-Feature BUSY-2 -NoSession
            } finally {
                $listener.Stop()
            }

            $feature.Port | Should -Be ($FirstPort + 20)
            Test-Path (Join-Path (Get-LeaseFolder -Repository $repo) "$($FirstPort + 10).lease") |
                Should -BeFalse
        }
    }

    Context 'giving ports back' {
        BeforeAll {
            # The setup fails for BAD-1 only, after writing the ports it saw.
            $setup = @'
    Setup = 'mkdir -p node_modules
             echo "$FEATURE_PORT $FEATURE_PORT_9" > node_modules/ports.txt
             test "$FEATURE_TICKET" != BAD-1'
'@
            $repo = New-PortRepository -Name 'release-repo' -First $FirstPort -Extra $setup
            $folder = Get-LeaseFolder -Repository $repo
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'passes the ports to the setup command' {
            $feature = New-Feature SETUP-1 -NoSession
            $seen = Get-Content (Join-Path $feature.Path 'node_modules/ports.txt')
            $seen | Should -BeExactly "$($feature.Port) $($feature.Port + 9)"
            Stop-Feature SETUP-1 -Remove
        }

        It 'releases the block when Stop-Feature -Remove removes the feature' {
            $first = New-Feature REL-1 -NoSession
            Test-Path (Join-Path $folder "$($first.Port).lease") | Should -BeTrue

            Stop-Feature REL-1 -Remove

            Test-Path (Join-Path $folder "$($first.Port).lease") | Should -BeFalse
            $next = New-Feature REL-2 -NoSession
            $next.Port | Should -Be $first.Port
            Stop-Feature REL-2 -Remove
        }

        It 'keeps the block when Stop-Feature stops the session only' {
            $feature = New-Feature KEEP-1 -NoSession
            Stop-Feature KEEP-1
            Test-Path (Join-Path $folder "$($feature.Port).lease") | Should -BeTrue
            (Get-Feature KEEP-1).Port | Should -Be $feature.Port
            Stop-Feature KEEP-1 -Remove
        }

        It 'releases the block when New-Feature fails and undoes its work' {
            { New-Feature BAD-1 -NoSession -ErrorAction Stop } | Should -Throw
            @(Get-ChildItem -LiteralPath $folder -Filter '*.lease') | Should -HaveCount 0

            $feature = New-Feature GOOD-1 -NoSession
            $feature.Port | Should -Be $FirstPort
            Stop-Feature GOOD-1 -Remove
        }
    }

    Context 'Ports = $null' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'no-ports-repo' `
                -Config '@{ Agent = $null; Ports = $null }'
            Push-Location $repo
            $feature = New-Feature NOP-1 -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'gives the feature no port' {
            $feature.Port | Should -BeNullOrEmpty
            $feature.Ports | Should -HaveCount 0
            (Get-Feature NOP-1).Port | Should -BeNullOrEmpty
        }

        It 'sets no FEATURE_PORT for jobs' {
            $line = 'echo "job-port=${FEATURE_PORT-unset}"'
            $result = Invoke-FeatureJob -Command $line -Ticket NOP-1
            Get-Content -LiteralPath $result.LogPath | Should -Contain 'job-port=unset'
        }
    }

    Context 'an invalid Ports value' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'bad-ports-repo'
            $file = Join-Path $repo '.worktreetools.psd1'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Problem> with InvalidConfiguration naming <Key>' -TestCases @(
            @{ Problem = 'First above Last'; Key = 'Ports'
                Text = '@{ Ports = @{ First = 30000; Last = 20000 } }' }
            @{ Problem = 'BlockSize 0'; Key = 'Ports.BlockSize'
                Text = '@{ Ports = @{ BlockSize = 0 } }' }
            @{ Problem = 'an unknown subkey'; Key = 'Ports.Step'
                Text = '@{ Ports = @{ Step = 5 } }' }
            @{ Problem = 'a number as Ports'; Key = 'Ports'; Text = '@{ Ports = 20000 }' }
        ) {
            param($Problem, $Key, $Text)
            Set-Content -Path $file -Value $Text
            $thrown = { New-Feature BADCFG-1 -NoSession -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidConfiguration,$NewFeatureId"
            "$thrown" | Should -BeLike "*'$Key'*"
            "$thrown" | Should -BeLike "*$file*"
        }
    }
}

Describe 'Get-FeatureProcess' {
    Context 'processes in windows' {
        BeforeAll {
            $config = @'
@{
    Agent   = $null
    Windows = @(
        @{ Name = 'editor' }
        @{ Name = 'server'; Command = 'sleep 600' }
    )
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'process-repo' -Config $config
            Push-Location $repo
            $null = New-Feature PROC-1
            $null = New-Feature PROC-2
            $null = New-Feature IDLE-1 -NoSession
            foreach ($ticket in 'PROC-1', 'PROC-2') {
                Wait-Until -Because "sleep 600 to run in the server window of $ticket" {
                    Get-PaneProcess -Session $ticket -Window server |
                        Where-Object { (Get-ProcessName -Id $_) -eq 'sleep' }
                }
            }
        }

        AfterAll {
            Pop-Location
        }

        It 'returns WorktreeTools.FeatureProcess objects for the features asked for' {
            $found = @(Get-FeatureProcess PROC-1)
            $found.Count | Should -BeGreaterThan 0
            $found[0].PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureProcess'
            $found.Ticket | Sort-Object -Unique | Should -BeExactly 'PROC-1'
        }

        It "lists the processes of the <Ticket> window '<Window>' with Role <Window>" -TestCases @(
            @{ Ticket = 'PROC-1'; Window = 'editor' }
            @{ Ticket = 'PROC-1'; Window = 'server' }
            @{ Ticket = 'PROC-2'; Window = 'server' }
        ) {
            param($Ticket, $Window)
            $expected = @(Get-PaneProcess -Session $Ticket -Window $Window | Sort-Object)
            $listed = @(Get-FeatureProcess | Where-Object {
                    $_.Ticket -eq $Ticket -and $_.Role -eq $Window
                })
            @($listed.Pid | Sort-Object) | Should -Be $expected
        }

        It 'describes the sleep process of the server window' {
            $sleep = @(Get-FeatureProcess PROC-1 | Where-Object CommandLine -EQ 'sleep 600')
            $sleep | Should -HaveCount 1
            $sleep[0].Role | Should -BeExactly 'server'
            $sleep[0].Id | Should -Be $sleep[0].Pid
            Get-ProcessName -Id $sleep[0].Pid | Should -BeExactly 'sleep'
            $sleep[0].CpuPercent | Should -BeGreaterOrEqual 0
            $sleep[0].MemoryMB | Should -BeGreaterThan 0
            $sleep[0].StartTime | Should -BeLessOrEqual ([DateTimeOffset]::Now.AddSeconds(1))
            $sleep[0].StartTime | Should -BeGreaterThan ([DateTimeOffset]::Now.AddMinutes(-5))
        }

        It 'lists nothing for a feature without a session' {
            Get-FeatureProcess IDLE-1 | Should -BeNullOrEmpty
        }

        It 'selects features by wildcard' {
            $tickets = Get-FeatureProcess 'PROC-*' | Select-Object -ExpandProperty Ticket -Unique
            $tickets | Should -Be @('PROC-1', 'PROC-2')
        }

        It 'takes tickets from piped features' {
            $tickets = Get-Feature PROC-2 | Get-FeatureProcess |
                Select-Object -ExpandProperty Ticket -Unique
            $tickets | Should -BeExactly 'PROC-2'
        }
    }

    Context 'a running job' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'job-process-repo' `
                -Config '@{ Agent = $null }'
            Push-Location $repo
            $null = New-Feature JOBP-1 -NoSession

            $ps = [powershell]::Create()
            $null = $ps.AddScript({
                    param($Module, $Repository)
                    Import-Module $Module
                    Set-Location -LiteralPath $Repository
                    Invoke-FeatureJob -Command 'sleep 30' -Ticket JOBP-1 -MaxLoad 0
                }.ToString())
            $null = $ps.AddArgument($env:WORKTREETOOLS_MODULE).AddArgument($repo)
            $null = $ps.BeginInvoke()
            $script:jobProcesses = $null
            Wait-Until -TimeoutSec 15 -Because "Get-FeatureProcess to show the job 'command'" {
                $script:jobProcesses = @(Get-FeatureProcess JOBP-1 |
                        Where-Object Role -EQ 'command')
                $script:jobProcesses | Where-Object CommandLine -Like '*sleep 30*'
            }
            $jobProcesses = $script:jobProcesses
            $status = Get-FeatureStatus JOBP-1

            # Stop the invocation as Ctrl+C would: it stops the job's process group.
            $ps.Stop()
        }

        AfterAll {
            foreach ($process in $jobProcesses) {
                if (Test-ProcessAlive -Id $process.Pid) {
                    try {
                        [Diagnostics.Process]::GetProcessById($process.Pid).Kill()
                    } catch {
                        Write-Verbose "Process $($process.Pid) ended before it could be killed."
                    }
                }
            }
            $ps.Dispose()
            Pop-Location
        }

        It "lists the job's processes with the job name as Role" {
            $jobProcesses.Ticket | Sort-Object -Unique | Should -BeExactly 'JOBP-1'
            $jobProcesses.Role | Sort-Object -Unique | Should -BeExactly 'command'
        }

        It "counts the job's memory in Get-FeatureStatus" {
            $status.MemoryMB | Should -BeGreaterThan 0
        }

        It 'lists them no more once the job was stopped' {
            Wait-Until -Because "the job's processes to end" {
                -not ($jobProcesses | Where-Object { Test-ProcessAlive -Id $_.Pid })
            }
            Get-FeatureProcess JOBP-1 | Should -BeNullOrEmpty
        }
    }

    Context "a job started from another feature's window" {
        BeforeAll {
            # The window starts a process group of its own, as Invoke-FeatureJob does for a
            # job, and the test registers that group as a running job of GUEST-1.
            $config = @'
@{
    Agent   = $null
    Windows = @(@{ Name = 'shell'; Command = 'set -m; sleep 601 & echo $! > job.pid; wait' })
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'guest-repo' -Config $config
            Push-Location $repo
            $hostFeature = New-Feature HOST-1
            $null = New-Feature GUEST-1 -NoSession
            $pidFile = Join-Path $hostFeature.Path 'job.pid'
            Wait-Until -Because 'the window to start its background group' {
                (Get-Content -LiteralPath $pidFile -ErrorAction Ignore) -match '^\d+$'
            }
            $jobPid = [int](Get-Content -LiteralPath $pidFile)
            $common = Invoke-Git $repo rev-parse --path-format=absolute --git-common-dir
            $running = Join-Path $common 'worktreetools/jobs/running'
            $null = New-Item -ItemType Directory -Path $running -Force
            [IO.File]::WriteAllText((Join-Path $running "$jobPid.job"), "GUEST-1`tfake")
        }

        AfterAll {
            # Its own process group shields the sleep from the hang-up of the tmux server.
            if ($jobPid -and (Test-ProcessAlive -Id $jobPid)) {
                [Diagnostics.Process]::GetProcessById($jobPid).Kill()
            }
            Remove-Item -LiteralPath (Join-Path $running "$jobPid.job") -ErrorAction Ignore
            Pop-Location
        }

        It 'lists the job under its feature when only that feature is asked for' {
            $job = Get-FeatureProcess GUEST-1 | Where-Object Pid -EQ $jobPid
            $job.Ticket | Should -BeExactly 'GUEST-1'
            $job.Role | Should -BeExactly 'fake'
        }

        It 'lists the job under its own feature and job name' {
            $job = Get-FeatureProcess | Where-Object Pid -EQ $jobPid
            $job.Ticket | Should -BeExactly 'GUEST-1'
            $job.Role | Should -BeExactly 'fake'
        }
    }

    Context 'piping to Stop-Process' {
        BeforeAll {
            $config = @'
@{
    Agent   = $null
    Windows = @(
        @{ Name = 'editor' }
        @{ Name = 'server'; Command = 'sleep 600' }
    )
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'kill-repo' -Config $config
            Push-Location $repo
            $null = New-Feature KILL-1
            Wait-Until -Because 'sleep 600 to run in the server window' {
                Get-FeatureProcess KILL-1 | Where-Object CommandLine -EQ 'sleep 600'
            }
        }

        AfterAll {
            Pop-Location
        }

        It 'ends the processes that match' {
            $sleep = Get-FeatureProcess KILL-1 | Where-Object CommandLine -EQ 'sleep 600'

            Get-FeatureProcess KILL-1 | Where-Object CommandLine -Like '*sleep 600*' | Stop-Process

            Wait-Until -Because 'the sleep process to end' {
                -not (Test-ProcessAlive -Id $sleep.Pid)
            }
            Get-FeatureProcess KILL-1 | Where-Object Pid -EQ $sleep.Pid | Should -BeNullOrEmpty
            Get-FeatureProcess KILL-1 | Where-Object Role -EQ 'editor' | Should -Not -BeNullOrEmpty
        }
    }
}

Describe 'Get-FeatureStatus' {
    Context 'processor and memory of features' {
        BeforeAll {
            $config = @'
@{
    Agent   = $null
    Windows = @(@{ Name = 'server'; Command = 'sleep 600' })
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'usage-repo' -Config $config
            Push-Location $repo
            $null = New-Feature USE-1
            $null = New-Feature USE-2 -NoSession
            Wait-Until -Because 'sleep 600 to run in the server window' {
                Get-FeatureProcess USE-1 | Where-Object CommandLine -EQ 'sleep 600'
            }
            $statuses = @{}
            Get-FeatureStatus | ForEach-Object { $statuses[$_.Ticket] = $_ }
        }

        AfterAll {
            Pop-Location
        }

        It 'reports CpuPercent and MemoryMB as numbers of at least 0' {
            foreach ($status in $statuses.Values) {
                $status.CpuPercent | Should -BeOfType [double]
                $status.MemoryMB | Should -BeOfType [double]
                $status.CpuPercent | Should -BeGreaterOrEqual 0
                $status.MemoryMB | Should -BeGreaterOrEqual 0
            }
        }

        It 'reports memory above 0 while the session runs' {
            $statuses['USE-1'].SessionAlive | Should -BeTrue
            $statuses['USE-1'].MemoryMB | Should -BeGreaterThan 0
        }

        It 'reports nothing used by a feature without a session' {
            $statuses['USE-2'].MemoryMB | Should -Be 0
            $statuses['USE-2'].CpuPercent | Should -Be 0
        }
    }
}
