BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.GetFeatureAgentCommand'
    $FakeAgent = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../FakeAgent/fake-agent'))

    # The text of a configuration file whose Agent key runs the fake agent (or Command).
    function New-AgentConfig {
        param(
            [string] $Command = $FakeAgent,
            [string[]] $WaitingPatterns = @('fake-agent>$')
        )
        $quote = { param($Text) "'$($Text.Replace("'", "''"))'" }
        $patterns = @($WaitingPatterns | ForEach-Object { & $quote $_ }) -join ', '
        "@{ Agent = @{ Command = $(& $quote $Command); Arguments = @('--prompt', '{Prompt}'); " +
            "WaitingPatterns = @($patterns) } }"
    }

    # Polls Get-FeatureAgent until the agent is in a state (with a line that matches Showing).
    function Wait-AgentState {
        param(
            [string] $Ticket,
            [string] $State,
            [string] $Role = 'feature',
            [string] $Showing,
            [double] $TimeoutSec = 10
        )
        $seen = @{}
        $because = "the $Role agent of $Ticket to be $State"
        try {
            Wait-Until -TimeoutSec $TimeoutSec -IntervalMs 100 -Because $because {
                $seen.Agent = Get-FeatureAgent $Ticket -Role $Role
                $shows = -not $Showing -or @($seen.Agent.LastLines -match $Showing).Count -gt 0
                $seen.Agent.State -eq $State -and $shows
            }
        } catch {
            throw "$($_.Exception.Message) It was $($seen.Agent.State) ($($seen.Agent.Reason)), " +
                "showing: $($seen.Agent.LastLines -join ' | ')"
        }
        $seen.Agent
    }

    # Waits until the agent exited, its exit code is known and its screen shows a line; returns
    # it. tmux may mark a pane dead before it has drawn the program's last output.
    function Wait-AgentExit {
        param([string] $Ticket, [string] $Role = 'feature', [string] $Showing)
        $seen = @{}
        Wait-Until -IntervalMs 100 -Because "the $Role agent of $Ticket to exit with a code" {
            # tmux 3.3a at times collects a pane's exit status late (the module then reads it
            # from /proc while the process is a zombie); a run-shell makes tmux collect it.
            $null = Invoke-Tmux $Socket run-shell true
            $seen.Agent = Get-FeatureAgent $Ticket -Role $Role
            $shows = -not $Showing -or $seen.Agent.LastLines -contains $Showing
            $seen.Agent.State -eq 'Exited' -and $null -ne $seen.Agent.ExitCode -and $shows
        }
        $seen.Agent
    }

    function Get-PaneProcess {
        param([string] $Session, [string] $Window)
        [int](Invoke-Tmux $Socket list-panes -t "=${Session}:=$Window" -F '#{pane_pid}')
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Get-FeatureAgent' {
    Context 'an agent at its prompt' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'wait-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $started = [DateTimeOffset]::Now
            $null = New-Feature WAIT-1 'Waits for me'
            $agent = Wait-AgentState WAIT-1 WaitingForInput
        }

        AfterAll {
            Pop-Location
        }

        It 'emits one WorktreeTools.FeatureAgent for the ai window' {
            $agents = @(Get-FeatureAgent WAIT-1)
            $agents | Should -HaveCount 1
            $agents[0].PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureAgent'
            $agents[0].Ticket | Should -BeExactly 'WAIT-1'
            $agents[0].Role | Should -BeExactly 'feature'
            $agents[0].Window | Should -BeExactly 'ai'
            $agents[0].Command | Should -BeExactly $FakeAgent
        }

        It "gives the process of the window's pane" {
            $agent.Pid | Should -Be (Get-PaneProcess -Session 'WAIT-1' -Window 'ai')
            Get-ProcessName -Id $agent.Pid | Should -BeExactly 'fake-agent'
        }

        It 'reads WaitingForInput from the prompt on a still screen' {
            $agent.State | Should -Be 'WaitingForInput'
            $agent.LastLines[-1] | Should -BeExactly 'fake-agent>'
            $agent.CpuPercent | Should -BeLessThan 2
            $agent.MemoryMB | Should -BeGreaterThan 0
            $agent.ExitCode | Should -BeNullOrEmpty
        }

        It 'tells since when, and keeps it while the state lasts' {
            $agent.Since | Should -BeGreaterOrEqual $started
            $agent.Since | Should -BeLessOrEqual ([DateTimeOffset]::Now)
            $again = Get-FeatureAgent WAIT-1
            $again.State | Should -Be 'WaitingForInput'
            $again.Since | Should -Be $agent.Since
        }
    }

    Context 'an agent at work' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'work-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature WORK-1 'Works a while'
            $waiting = Wait-AgentState WORK-1 WaitingForInput
            Send-FeatureAgent WORK-1 'work 4'
        }

        AfterAll {
            Pop-Location
        }

        It 'reads Working while its processes use the processor and its screen moves' {
            $agent = Wait-AgentState WORK-1 Working -Showing '^working\.\.\. \d+$' -TimeoutSec 4
            $agent.CpuPercent | Should -BeGreaterOrEqual 2
            $agent.Since | Should -BeGreaterThan $waiting.Since
        }

        It 'reads WaitingForInput again once the work is done' {
            $agent = Wait-AgentState WORK-1 WaitingForInput -Showing '^done$' -TimeoutSec 12
            $agent.LastLines[-1] | Should -BeExactly 'fake-agent>'
            $agent.Since | Should -BeGreaterThan $waiting.Since
        }
    }

    Context 'an agent told to <Text>' -ForEach @(
        @{ Text = 'crash'; Ticket = 'END-1'; Code = 3; Line = 'crashing' }
        @{ Text = 'exit'; Ticket = 'END-2'; Code = 0; Line = 'bye' }
    ) {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name $Ticket -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature $Ticket 'Ends'
            $null = Wait-AgentState $Ticket WaitingForInput
            Send-FeatureAgent $Ticket $Text
            $agent = Wait-AgentExit $Ticket -Showing $Line
        }

        AfterAll {
            Pop-Location
        }

        It 'reads Exited with the exit code <Code>' {
            $agent.State | Should -Be 'Exited'
            $agent.ExitCode | Should -Be $Code
            $agent.Reason | Should -Match "\b$Code\b"
        }

        It 'keeps the window and its last lines' {
            Get-TmuxWindow -Socket $Socket -Session $Ticket | Should -Contain 'ai'
            $agent.LastLines | Should -Contain $Line
            $agent.LastLines.Count | Should -BeLessOrEqual 5
        }
    }

    Context 'an agent showing no known prompt' {
        BeforeAll {
            $config = New-AgentConfig -WaitingPatterns 'NEVER-MATCHES'
            $repo = New-TestRepository -Root $TestDrive -Name 'idle-repo' -Config $config
            Push-Location $repo
            $null = New-Feature IDLE-1 'Idles'
        }

        AfterAll {
            Pop-Location
        }

        It 'reads Idle when nothing moves' {
            $agent = Wait-AgentState IDLE-1 Idle
            $agent.CpuPercent | Should -BeLessThan 2
            $agent.LastLines[-1] | Should -BeExactly 'fake-agent>'
        }
    }

    Context 'a prompt pattern that matches a moving screen' {
        BeforeAll {
            $config = New-AgentConfig -WaitingPatterns 'fake-agent>$', '^working\.\.\.'
            $repo = New-TestRepository -Root $TestDrive -Name 'unknown-repo' -Config $config
            Push-Location $repo
            $null = New-Feature UNK-1 'Disagrees'
            $null = Wait-AgentState UNK-1 WaitingForInput
            Send-FeatureAgent UNK-1 'work 4'
        }

        AfterAll {
            Pop-Location
        }

        It 'reads Unknown when the signals disagree' {
            $agent = Wait-AgentState UNK-1 Unknown -TimeoutSec 4
            $agent.LastLines[-1] | Should -Match '^working\.\.\.'
        }
    }

    Context 'choosing agents' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'sel-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature SEL-1 'Two agents'
            $null = New-Feature SEL-2 'One agent'
            $null = Start-FeatureAgent review SEL-1
        }

        AfterAll {
            Pop-Location
        }

        It 'selects <Name>' -TestCases @(
            @{ Name = 'every agent'; Expected = 'SEL-1/ai SEL-1/ai-review SEL-2/ai' }
            @{ Name = 'by ticket'; Ticket = 'SEL-1'; Expected = 'SEL-1/ai SEL-1/ai-review' }
            @{ Name = 'by pattern'; Ticket = 's*'; Expected = 'SEL-1/ai SEL-1/ai-review SEL-2/ai' }
            @{ Name = 'by role'; Role = 'review'; Expected = 'SEL-1/ai-review' }
            @{ Name = 'by role wildcard'; Role = 'f*'; Expected = 'SEL-1/ai SEL-2/ai' }
            @{ Name = 'by both'; Ticket = 'SEL-2'; Role = 'feature'; Expected = 'SEL-2/ai' }
        ) {
            param($Name, $Ticket, $Role, $Expected)
            $parameters = @{}
            if ($Ticket) {
                $parameters.Ticket = $Ticket
            }
            if ($Role) {
                $parameters.Role = $Role
            }
            $found = Get-FeatureAgent @parameters | ForEach-Object { "$($_.Ticket)/$($_.Window)" }
            @($found | Sort-Object) -join ' ' | Should -BeExactly $Expected
        }

        It 'takes tickets from the pipeline' {
            $agents = @(Get-Feature SEL-1, SEL-2 | Get-FeatureAgent -Role feature)
            $agents.Ticket | Sort-Object | Should -Be @('SEL-1', 'SEL-2')
        }

        It 'writes FeatureNotFound for an unknown ticket' {
            $thrown = { Get-FeatureAgent 'NOPE-1;touch pwned' -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "FeatureNotFound,$Command"
        }
    }

    Context 'an agent whose program is not installed' {
        BeforeAll {
            $config = New-AgentConfig -Command 'no-such-agent-xyz'
            $repo = New-TestRepository -Root $TestDrive -Name 'missing-repo' -Config $config
            Push-Location $repo
            $null = New-Feature MISS-1 'Missing agent' -WarningAction SilentlyContinue
            $agent = Get-FeatureAgent MISS-1
        }

        AfterAll {
            Pop-Location
        }

        It 'reads NotStarted and says why' {
            $agent | Should -HaveCount 1
            $agent.Window | Should -BeExactly 'ai'
            $agent.State | Should -Be 'NotStarted'
            $agent.Reason | Should -Match 'no-such-agent-xyz'
            $agent.Command | Should -BeExactly 'no-such-agent-xyz'
            $agent.Pid | Should -BeNullOrEmpty
            $agent.LastLines | Should -BeNullOrEmpty
        }
    }

    Context 'an agent whose session was stopped' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'gone-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature GONE-1 'Session stopped'
            Stop-Feature GONE-1
            $agent = Get-FeatureAgent GONE-1
        }

        AfterAll {
            Pop-Location
        }

        It 'reads NotStarted and names the session' {
            $agent.State | Should -Be 'NotStarted'
            $agent.Reason | Should -Match 'session'
        }
    }
}

Describe 'Get-FeatureStatus with agents' {
    BeforeAll {
        $repo = New-TestRepository -Root $TestDrive -Name 'status-repo' -Config (New-AgentConfig)
        Push-Location $repo
        $null = New-Feature ST-WAIT 'Feature agent waits'
        $null = New-Feature ST-CRASH 'Feature agent crashed'
        $null = New-Feature ST-REVIEW 'Feature agent crashed, reviewer waits'
        $null = New-Feature ST-PLAIN 'No session' -NoSession
        $null = Start-FeatureAgent review ST-REVIEW
        foreach ($ticket in 'ST-CRASH', 'ST-REVIEW') {
            $null = Wait-AgentState $ticket WaitingForInput
            Send-FeatureAgent $ticket 'crash'
            $null = Wait-AgentState $ticket Exited
        }
        $null = Wait-AgentState ST-WAIT WaitingForInput
        $null = Wait-AgentState ST-REVIEW WaitingForInput -Role review
        $statuses = @{}
        Get-FeatureStatus | Where-Object Ticket | ForEach-Object { $statuses[$_.Ticket] = $_ }
    }

    AfterAll {
        Pop-Location
    }

    It "lists each feature's agents in Agents" {
        $statuses['ST-WAIT'].Agents.Window | Should -Be @('ai')
        $statuses['ST-REVIEW'].Agents.Window | Should -Be @('ai', 'ai-review')
        $statuses['ST-REVIEW'].Agents | ForEach-Object { $_.PSObject.TypeNames[0] } |
            Should -Be @('WorktreeTools.FeatureAgent', 'WorktreeTools.FeatureAgent')
        $statuses['ST-PLAIN'].Agents | Should -BeNullOrEmpty
    }

    It 'lets Agents be indexed' {
        $statuses['ST-REVIEW'].Agents[1].Window | Should -BeExactly 'ai-review'
    }

    It 'gives the state of the feature agent in Agent' -TestCases @(
        @{ Ticket = 'ST-WAIT'; State = 'WaitingForInput' }
        @{ Ticket = 'ST-CRASH'; State = 'Exited' }
        @{ Ticket = 'ST-REVIEW'; State = 'Exited' }
        @{ Ticket = 'ST-PLAIN'; State = $null }
    ) {
        param($Ticket, $State)
        $statuses[$Ticket].Agent | Should -Be $State
    }

    It 'sets WaitingForInput when any agent waits' {
        $statuses['ST-WAIT'].WaitingForInput | Should -BeTrue
        $statuses['ST-REVIEW'].WaitingForInput | Should -BeTrue
        $statuses['ST-CRASH'].WaitingForInput | Should -BeFalse
        $statuses['ST-PLAIN'].WaitingForInput | Should -BeFalse
    }

    It "shows each feature's agent states in the default table" {
        # The Agent column is 20 wide, so a longer list is cut with an ellipsis.
        $lines = @(Get-FeatureStatus | Out-String -Width 120) -split "`n"
        $lines | Where-Object { $_ -match '^ST-WAIT\b' } | Should -Match ' WaitingForInput '
        $lines | Where-Object { $_ -match '^ST-REVIEW\b' } |
            Should -Match ' Exited review:Waiti'
    }

    It 'lets Where-Object WaitingForInput pick the features that wait' {
        $waiting = Get-FeatureStatus | Where-Object WaitingForInput
        $waiting.Ticket | Sort-Object | Should -Be @('ST-REVIEW', 'ST-WAIT')
    }
}
