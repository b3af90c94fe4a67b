BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.SendFeatureAgentCommand'
    $FakeAgent = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../FakeAgent/fake-agent'))

    # The text of a configuration file whose Agent key runs the fake agent (or Command).
    function New-AgentConfig {
        param([string] $Command = $FakeAgent)
        "@{ Agent = @{ Command = '$Command'; Arguments = @('--prompt', '{Prompt}'); " +
            "WaitingPatterns = @('fake-agent>`$') } }"
    }

    # What the fake agent recorded in a worktree, or '' before it wrote anything.
    function Get-AgentLog {
        param([Parameter(Mandatory)] [string] $Path)
        $file = Join-Path $Path 'fake-agent.log'
        if (Test-Path -LiteralPath $file) { [IO.File]::ReadAllText($file) } else { '' }
    }

    # Waits until the fake agent's log holds a text, and returns the log.
    function Wait-AgentLog {
        param([string] $Path, [string] $Text, [double] $TimeoutSec = 10)
        Wait-Until -TimeoutSec $TimeoutSec -Because "the fake agent's log to hold '$Text'" {
            (Get-AgentLog -Path $Path).Contains($Text)
        }
        Get-AgentLog -Path $Path
    }

    # Polls Get-FeatureAgent until the agent is in a state; returns it.
    function Wait-AgentState {
        param([string] $Ticket, [string] $State, [string] $Role = 'feature')
        $seen = @{}
        Wait-Until -IntervalMs 100 -Because "the $Role agent of $Ticket to be $State" {
            $seen.Agent = Get-FeatureAgent $Ticket -Role $Role
            $seen.Agent.State -eq $State
        }
        $seen.Agent
    }

    # Files that only a shell running the text could have made.
    function Get-PwnedFile {
        $folders = $TestDrive, $env:HOME
        Get-ChildItem -LiteralPath $folders -Recurse -Force -Filter 'pwned*' -ErrorAction Ignore |
            ForEach-Object FullName
    }

    <#
    Proves that the plain shell of a window ran nothing it was not given: it types a command
    that makes a sentinel file into the shell itself and waits for the file. A shell runs its
    input in order, so text pasted earlier would have run before the sentinel appears.
    #>
    function Assert-ShellRanNothing {
        param([string] $Session, [string] $Window, [string] $Path)
        $sentinel = "sentinel-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $null = Invoke-Tmux $Socket send-keys -t "=${Session}:=$Window" -l "touch $sentinel"
        $null = Invoke-Tmux $Socket send-keys -t "=${Session}:=$Window" Enter
        Wait-Until -Because "the shell in $Window to make $sentinel" {
            Test-Path -LiteralPath (Join-Path $Path $sentinel)
        }
        Get-PwnedFile | Should -BeNullOrEmpty
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Send-FeatureAgent' {
    Context 'text for a waiting agent' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'send-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $feature = New-Feature SEND-1 'Takes text'
            $agent = Wait-AgentState SEND-1 WaitingForInput
        }

        AfterAll {
            Pop-Location
        }

        It 'types <Name> literally, then Enter' -TestCases @(
            @{ Name = 'plain words'; Text = 'hello agent' }
            @{
                Name = 'quotes, $(), backticks and ;'
                Text = 'say "hi" it''s $(touch pwned-subst) `touch pwned-tick`; touch pwned-semi'
            }
            @{ Name = "the key name 'C-c'"; Text = 'C-c' }
            @{ Name = "the key name 'C-d'"; Text = 'C-d' }
            @{ Name = "the key name 'Enter'"; Text = 'Enter' }
            @{ Name = "the key names 'Escape Up BSpace'"; Text = 'Escape Up BSpace' }
            @{ Name = 'a tmux command separator'; Text = '\; kill-server ;' }
            @{ Name = 'a tmux format'; Text = '#{pane_id} #S #(touch pwned-format)' }
            @{ Name = 'a leading dash'; Text = '-t =other -l' }
            @{ Name = 'text with tabs and spaces'; Text = "  a`tb  " }
        ) {
            param($Name, $Text)
            Send-FeatureAgent SEND-1 $Text
            $null = Wait-AgentLog -Path $feature.Path -Text "line: [$Text]`n"
            Test-ProcessAlive -Id $agent.Pid | Should -BeTrue
            Get-PwnedFile | Should -BeNullOrEmpty
        }

        It 'keeps the lines of multi-line text' {
            Send-FeatureAgent SEND-1 "a `$(x)`nb; c"
            $null = Wait-AgentLog -Path $feature.Path -Text "line: [a `$(x)]`nline: [b; c]`n"
        }

        It 'sends empty text as Enter alone' {
            Send-FeatureAgent SEND-1 ''
            $null = Wait-AgentLog -Path $feature.Path -Text "line: []`n"
        }

        It 'sends each piped string as its own line, in order' {
            'first piped', 'second piped' | Send-FeatureAgent SEND-1
            $lines = "line: [first piped]`nline: [second piped]`n"
            $null = Wait-AgentLog -Path $feature.Path -Text $lines
        }

        It 'takes the ticket from a piped agent' {
            Get-FeatureAgent SEND-1 | Send-FeatureAgent -Text 'from the agent object'
            $null = Wait-AgentLog -Path $feature.Path -Text "line: [from the agent object]`n"
        }

        It 'sends nothing with -WhatIf' {
            Send-FeatureAgent SEND-1 'what if' -WhatIf
            Send-FeatureAgent SEND-1 'after what if'
            $log = Wait-AgentLog -Path $feature.Path -Text "line: [after what if]`n"
            $log | Should -Not -Match 'line: \[what if\]'
        }
    }

    Context 'agents of other roles' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'role-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $feature = New-Feature SEND-2 'Reviewers'
            $null = Start-FeatureAgent review SEND-2
            $null = Start-FeatureAgent review SEND-2 -New
            foreach ($window in 'ai', 'ai-review', 'ai-review-2') {
                Wait-Until -Because "the agent in $window to show its prompt" {
                    Invoke-Tmux $Socket capture-pane -p -t "=SEND-2:=$window" |
                        Where-Object { $_ -eq 'fake-agent>' }
                }
            }

            # The screens of the three agent windows, one string each.
            function Get-Screen {
                param([string] $Window)
                (Invoke-Tmux $Socket capture-pane -p -t "=SEND-2:=$Window") -join "`n"
            }
        }

        AfterAll {
            Pop-Location
        }

        It 'types into the first window of the role given' {
            Send-FeatureAgent SEND-2 'for the reviewer' -Role review
            $null = Wait-AgentLog -Path $feature.Path -Text "line: [for the reviewer]`n"
            Get-Screen 'ai-review' | Should -Match 'fake-agent> for the reviewer'
            Get-Screen 'ai' | Should -Not -Match 'for the reviewer'
            Get-Screen 'ai-review-2' | Should -Not -Match 'for the reviewer'
        }

        It 'types into the window given' {
            Send-FeatureAgent SEND-2 'for the second reviewer' -Window 'ai-review-2'
            $null = Wait-AgentLog -Path $feature.Path -Text "line: [for the second reviewer]`n"
            Get-Screen 'ai-review-2' | Should -Match 'fake-agent> for the second reviewer'
            Get-Screen 'ai-review' | Should -Not -Match 'for the second reviewer'
        }

        It 'takes the ticket and the window from a piped agent' {
            Get-FeatureAgent SEND-2 -Role review | Where-Object Window -EQ 'ai-review-2' |
                Send-FeatureAgent -Text 'piped to the second reviewer'
            $null = Wait-AgentLog -Path $feature.Path -Text "line: [piped to the second reviewer]`n"
            Get-Screen 'ai-review-2' | Should -Match 'piped to the second reviewer'
            Get-Screen 'ai-review' | Should -Not -Match 'piped to the second reviewer'
        }
    }

    Context 'a feature made with -NoAgent' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'plain-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $feature = New-Feature SEND-3 'Plain ai window' -NoAgent
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses the plain ai window with AgentNotRunning; its shell runs nothing' {
            $thrown = { Send-FeatureAgent SEND-3 'touch pwned-plain' -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "AgentNotRunning,$Command"
            Assert-ShellRanNothing -Session 'SEND-3' -Window 'ai' -Path $feature.Path
        }
    }

    Context 'windows without a running agent' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'ref-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature REF-1 'Crashed agent'
            $null = New-Feature REF-2 'Stopped session'
            $null = New-Feature REF-3 'No review agent'
            $null = Wait-AgentState REF-1 WaitingForInput
            Send-FeatureAgent REF-1 'crash'
            $null = Wait-AgentState REF-1 Exited
            Stop-Feature REF-2
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Name> with <Id>' -TestCases @(
            @{ Name = 'an agent that exited'; Ticket = 'REF-1' }
            @{ Name = 'a stopped session'; Ticket = 'REF-2' }
            @{ Name = 'a role without a window'; Ticket = 'REF-3'; Role = 'review' }
            @{ Name = 'an unknown ticket'; Ticket = 'NOPE-1;touch pwned'; Id = 'FeatureNotFound' }
        ) {
            param($Name, $Ticket, $Role = 'feature', $Id = 'AgentNotRunning')
            $text = 'touch pwned-sent'
            $thrown = { Send-FeatureAgent $Ticket $text -Role $Role -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "$Id,$Command"
            Get-PwnedFile | Should -BeNullOrEmpty
        }
    }

    Context 'an agent program that is not installed' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'missing-repo' -Config (
                New-AgentConfig -Command 'no-such-agent-xyz')
            Push-Location $repo
            $feature = New-Feature MISS-1 'Missing agent' -WarningAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses with AgentNotRunning and says why; the plain shell runs nothing' {
            $thrown = { Send-FeatureAgent MISS-1 'touch pwned-missing' -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "AgentNotRunning,$Command"
            $thrown.Exception.Message | Should -Match 'no-such-agent-xyz'
            Assert-ShellRanNothing -Session 'MISS-1' -Window 'ai' -Path $feature.Path
        }
    }
}
