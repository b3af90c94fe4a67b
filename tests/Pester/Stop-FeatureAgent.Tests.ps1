BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.StopFeatureAgentCommand'
    $FakeAgent = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../FakeAgent/fake-agent'))
    $Config = "@{ Agent = @{ Command = '$FakeAgent'; Arguments = @('--prompt', '{Prompt}'); " +
        "WaitingPatterns = @('fake-agent>`$') } }"

    # Polls Get-FeatureAgent until the agent is in a state (with a line that matches Showing).
    function Wait-AgentState {
        param([string] $Ticket, [string] $State, [string] $Role = 'feature', [string] $Showing)
        $seen = @{}
        Wait-Until -IntervalMs 100 -Because "the $Role agent of $Ticket to be $State" {
            $seen.Agent = Get-FeatureAgent $Ticket -Role $Role
            $shows = -not $Showing -or @($seen.Agent.LastLines -match $Showing).Count -gt 0
            $seen.Agent.State -eq $State -and $shows
        }
        $seen.Agent
    }

    # Waits until the agent shows a line that matches a pattern, whatever its state.
    function Wait-AgentShows {
        param([string] $Ticket, [string] $Pattern, [string] $Role = 'feature')
        Wait-Until -IntervalMs 100 -Because "the $Role agent of $Ticket to show '$Pattern'" {
            @((Get-FeatureAgent $Ticket -Role $Role).LastLines -match $Pattern).Count -gt 0
        }
    }

    # Waits until none of the processes runs any more.
    function Wait-ProcessGone {
        param([int[]] $Id, [double] $TimeoutSec = 5)
        Wait-Until -TimeoutSec $TimeoutSec -Because "the processes $Id to end" {
            @($Id | Where-Object { Test-ProcessAlive -Id $_ }).Count -eq 0
        }
    }

    function Get-PaneState {
        param([string] $Session, [string] $Window)
        Invoke-Tmux $Socket list-panes -t "=${Session}:=$Window" -F '#{pane_dead}'
    }

    # The verbose messages of Stop-FeatureAgent, which say how the agent ended, as one text.
    function Get-StopMessage {
        param($Records)
        "$($Records | Where-Object { $_ -is [Management.Automation.VerboseRecord] })"
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Stop-FeatureAgent' {
    Context 'an agent that ends on the interrupt' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'interrupt-repo' -Config $Config
            Push-Location $repo
            $null = New-Feature STOP-1 'Ends on Ctrl+C'
            $agent = Wait-AgentState STOP-1 WaitingForInput
            $processes = @(Get-ProcessTree -Id $agent.Pid)
            $windows = @(Get-TmuxWindow -Socket $Socket -Session 'STOP-1')
            $elapsed = Measure-Command {
                $output = Stop-FeatureAgent STOP-1 -GracePeriodSec 5 -Verbose 4>&1
            }
        }

        AfterAll {
            Pop-Location
        }

        It 'ends it with the interrupt alone, before the grace period is over' {
            Get-StopMessage $output | Should -Match 'ended on the interrupt'
            $elapsed.TotalSeconds | Should -BeLessThan 4
            Wait-ProcessGone -Id $processes
        }

        It 'leaves its window, with the pane dead, and the rest of the session' {
            Get-TmuxWindow -Socket $Socket -Session 'STOP-1' | Should -Be $windows
            Get-PaneState -Session 'STOP-1' -Window 'ai' | Should -Be '1'
        }

        It 'leaves the agent Exited' {
            (Get-FeatureAgent STOP-1).State | Should -Be 'Exited'
        }

        It 'emits nothing without -PassThru' {
            $output | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] } |
                Should -BeNullOrEmpty
        }
    }

    Context 'an agent that ignores the interrupt' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'terminate-repo' -Config $Config
            Push-Location $repo
            $null = New-Feature STOP-2 'Ends on SIGTERM'
            $null = Wait-AgentState STOP-2 WaitingForInput
            Send-FeatureAgent STOP-2 'ignore INT'
            $agent = Wait-AgentState STOP-2 WaitingForInput -Showing '^ignoring INT$'
            $processes = @(Get-ProcessTree -Id $agent.Pid)
            $output = Stop-FeatureAgent STOP-2 -GracePeriodSec 1 -Verbose 4>&1
        }

        AfterAll {
            Pop-Location
        }

        It 'ends it with the terminate signal' {
            Get-StopMessage $output | Should -Match 'ended on the terminate signal'
            Wait-ProcessGone -Id $processes
        }

        It 'leaves its window and the agent Exited' {
            Get-PaneState -Session 'STOP-2' -Window 'ai' | Should -Be '1'
            (Get-FeatureAgent STOP-2).State | Should -Be 'Exited'
        }
    }

    Context 'an agent that ignores interrupt, hang-up and terminate' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'hang-repo' -Config $Config
            Push-Location $repo
            $null = New-Feature STOP-3 'Hangs'
            $agent = Wait-AgentState STOP-3 WaitingForInput
            Send-FeatureAgent STOP-3 'hang'
            Wait-AgentShows STOP-3 '^hanging$'
            $processes = @(Get-ProcessTree -Id $agent.Pid)
            $output = Stop-FeatureAgent STOP-3 -GracePeriodSec 1 -PassThru -Verbose 4>&1
        }

        AfterAll {
            Pop-Location
        }

        It 'kills it' {
            Get-StopMessage $output | Should -Match 'killed'
            Wait-ProcessGone -Id $processes
        }

        It 'leaves its window, with the pane dead' {
            Invoke-Tmux $Socket list-windows -t '=STOP-3' -F '#{window_name}' | Should -Contain 'ai'
            Get-PaneState -Session 'STOP-3' -Window 'ai' | Should -Be '1'
        }

        It 'emits the Exited agent with -PassThru' {
            $agents = @($output | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] })
            $agents | Should -HaveCount 1
            $agents[0].PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureAgent'
            $agents[0].Role | Should -BeExactly 'feature'
            $agents[0].State | Should -Be 'Exited'
        }
    }

    Context 'choosing the agent' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'choose-repo' -Config $Config
            Push-Location $repo
            $null = New-Feature STOP-4 'Several agents'
            $null = Start-FeatureAgent review STOP-4
            $null = Start-FeatureAgent tests STOP-4
            $null = Start-FeatureAgent docs STOP-4
            $null = Start-FeatureAgent security STOP-4
            $feature = Wait-AgentState STOP-4 WaitingForInput
        }

        AfterAll {
            Pop-Location
        }

        It 'stops only the agent of the role given' {
            Stop-FeatureAgent STOP-4 review
            (Get-FeatureAgent STOP-4 -Role review).State | Should -Be 'Exited'
            Test-ProcessAlive -Id $feature.Pid | Should -BeTrue
            Get-PaneState -Session 'STOP-4' -Window 'ai' | Should -Be '0'
            Get-PaneState -Session 'STOP-4' -Window 'ai-tests' | Should -Be '0'
        }

        It 'writes AgentNotFound for a role that has no window' {
            Stop-FeatureAgent STOP-4 nope -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -BeExactly "AgentNotFound,$Command"
            "$($failures[0])" | Should -BeLike "*no agent window 'ai-nope'*Get-FeatureAgent STOP-4*"
        }

        It 'takes Ticket and Role from piped agents' {
            Get-FeatureAgent STOP-4 -Role tests | Stop-FeatureAgent
            (Get-FeatureAgent STOP-4 -Role tests).State | Should -Be 'Exited'
            Test-ProcessAlive -Id $feature.Pid | Should -BeTrue
        }

        It 'stops the window given, such as a second one of a role' {
            $second = Start-FeatureAgent security STOP-4 -New
            $second.Window | Should -BeExactly 'ai-security-2'
            $first = Get-FeatureAgent STOP-4 -Role security | Where-Object Window -EQ 'ai-security'
            Get-FeatureAgent STOP-4 -Role security | Where-Object Window -EQ 'ai-security-2' |
                Stop-FeatureAgent
            Get-PaneState -Session 'STOP-4' -Window 'ai-security-2' | Should -Be '1'
            Get-PaneState -Session 'STOP-4' -Window 'ai-security' | Should -Be '0'
            Test-ProcessAlive -Id $first.Pid | Should -BeTrue
        }

        It 'lets Start-FeatureAgent start a fresh agent in the window' {
            $old = Get-FeatureAgent STOP-4 -Role docs
            Stop-FeatureAgent STOP-4 docs
            $new = Start-FeatureAgent docs STOP-4
            $new.Window | Should -BeExactly 'ai-docs'
            $new.Pid | Should -Not -Be $old.Pid
            Get-PaneState -Session 'STOP-4' -Window 'ai-docs' | Should -Be '0'
        }
    }

    Context 'nothing to stop' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'nothing-repo' -Config $Config
            Push-Location $repo
            $null = New-Feature STOP-5 'Crashed'
            $null = New-Feature STOP-7 'What if'
            $null = Wait-AgentState STOP-5 WaitingForInput
            Send-FeatureAgent STOP-5 'crash'
            $null = Wait-AgentState STOP-5 Exited
        }

        AfterAll {
            Pop-Location
        }

        It 'accepts an agent that already exited' {
            $output = Stop-FeatureAgent STOP-5 -ErrorAction Stop -Verbose 4>&1
            Get-StopMessage $output | Should -Match 'not running'
            (Get-FeatureAgent STOP-5).State | Should -Be 'Exited'
        }

        It 'refuses a role that never had an agent, and opens no window' {
            { Stop-FeatureAgent STOP-5 -Role review -ErrorAction Stop } |
                Should -Throw -ErrorId "AgentNotFound,$Command"
            Get-TmuxWindow -Socket $Socket -Session 'STOP-5' | Should -Not -Contain 'ai-review'
        }

        It 'writes FeatureNotFound for an unknown ticket' {
            $thrown = { Stop-FeatureAgent 'NOPE-1;touch pwned' -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "FeatureNotFound,$Command"
        }

        It 'stops nothing with -WhatIf' {
            $agent = Wait-AgentState STOP-7 WaitingForInput
            Stop-FeatureAgent STOP-7 -WhatIf
            Test-ProcessAlive -Id $agent.Pid | Should -BeTrue
            (Get-FeatureAgent STOP-7).State | Should -Be 'WaitingForInput'
        }
    }

    Context 'a feature made with -NoAgent' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'plain-repo' -Config $Config
            Push-Location $repo
            $null = New-Feature STOP-6 'Plain ai window' -NoAgent
        }

        AfterAll {
            Pop-Location
        }

        It 'leaves alone the plain shell of a feature made with -NoAgent' {
            $shell = [int](Invoke-Tmux $Socket list-panes -t '=STOP-6:=ai' -F '#{pane_pid}')
            { Stop-FeatureAgent STOP-6 -GracePeriodSec 1 -ErrorAction Stop } | Should -Not -Throw
            Test-ProcessAlive -Id $shell | Should -BeTrue
            Get-TmuxWindow -Socket $Socket -Session 'STOP-6' | Should -Contain 'ai'
        }
    }
}

Describe 'Stop-Feature -Remove with agents' {
    BeforeAll {
        $repo = New-TestRepository -Root $TestDrive -Name 'remove-repo' -Config $Config
        Push-Location $repo
        $null = New-Feature RM-1 'Removed with its agents'
        $null = Start-FeatureAgent review RM-1
        $null = Wait-AgentState RM-1 WaitingForInput
        Send-FeatureAgent RM-1 'work 30'
        Wait-AgentShows RM-1 '^working'
        $agents = @(Get-FeatureAgent RM-1)
        $processes = @(Get-ProcessTree -Id $agents.Pid)
        Stop-Feature RM-1 -Remove -Force -Confirm:$false
    }

    AfterAll {
        Pop-Location
    }

    It 'leaves no agent process' {
        $agents | Should -HaveCount 2
        $processes.Count | Should -BeGreaterOrEqual 2
        Wait-ProcessGone -Id $processes
    }

    It 'forgets the agents' {
        Test-Path (Join-Path $repo '.git/worktreetools/agents/RM-1') | Should -BeFalse
        Get-FeatureAgent | Where-Object Ticket -EQ 'RM-1' | Should -BeNullOrEmpty
    }
}
