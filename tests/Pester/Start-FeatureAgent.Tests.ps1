BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.StartFeatureAgentCommand'
    $FakeAgent = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../FakeAgent/fake-agent'))
    $ShippedTemplates = Join-Path (Split-Path $env:WORKTREETOOLS_MODULE) 'templates'

    # Text a shell would act on: had any of it run, a pwned-* file would exist.
    $Hostile = 'Fix "login" it''s $(touch pwned-subst) `touch pwned-tick`; touch pwned-semi'

    # The text of a configuration file whose Agent key runs the fake agent (or Command).
    function New-AgentConfig {
        param(
            [string] $Command = $FakeAgent,
            [AllowEmptyCollection()] [string[]] $Arguments = @('--prompt', '{Prompt}'),
            [string] $Prompt,
            [string[]] $WaitingPatterns = @('fake-agent>$'),
            [string] $Templates
        )
        $quote = { param($Text) "'$($Text.Replace("'", "''"))'" }
        $list = { param($Items) "@($(@($Items | ForEach-Object { & $quote $_ }) -join ', '))" }
        $fields = @(
            "Command = $(& $quote $Command)"
            "Arguments = $(& $list $Arguments)"
            "WaitingPatterns = $(& $list $WaitingPatterns)"
        )
        if ($Prompt) {
            $fields += "Prompt = $(& $quote $Prompt)"
        }
        if ($Templates) {
            $fields += "Templates = $(& $quote $Templates)"
        }
        "@{`n    Agent = @{`n        $($fields -join "`n        ")`n    }`n}`n"
    }

    # Writes a prompt template of the user's own into a folder of the main worktree.
    function Set-UserTemplate {
        param(
            [string] $Repository,
            [string] $Role,
            [string] $Text,
            [string] $Folder = '.worktreetools/prompts'
        )
        $target = Join-Path $Repository $Folder
        $null = New-Item -ItemType Directory -Path $target -Force
        [IO.File]::WriteAllText((Join-Path $target "$Role.md"), $Text)
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

    # A shipped template filled in for a feature, as the parts before and after {Diff}.
    function Get-ShippedPrompt {
        param([string] $Role, $Feature)
        $text = [IO.File]::ReadAllText((Join-Path $ShippedTemplates "$Role.md"))
        $text = $text.Replace('{Ticket}', $Feature.Ticket)
        $text = $text.Replace('{Description}', $Feature.Description)
        $text = $text.Replace('{Branch}', $Feature.Branch).Replace('{Base}', $Feature.Base)
        $text.Replace('{Path}', $Feature.Path) -split '\{Diff\}'
    }

    # Files that only a shell running the hostile text could have made.
    function Get-PwnedFile {
        $folders = $TestDrive, $env:HOME
        Get-ChildItem -LiteralPath $folders -Recurse -Force -Filter 'pwned*' -ErrorAction Ignore |
            ForEach-Object FullName
    }

    function Get-PaneProcess {
        param([string] $Session, [string] $Window)
        [int](Invoke-Tmux $Socket list-panes -t "=${Session}:=$Window" -F '#{pane_pid}')
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'New-Feature with an agent' {
    Context 'the prompt as an argument' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'arg-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $feature = New-Feature ARG-1 $Hostile
            $before, $after = Get-ShippedPrompt -Role 'feature' -Feature $feature
            $log = Wait-AgentLog -Path $feature.Path -Text "$after]"
        }

        AfterAll {
            Pop-Location
        }

        It 'runs the agent in the ai window of the session' {
            Get-TmuxWindow -Socket $Socket -Session 'ARG-1' |
                Should -Be @('editor', 'server', 'tests', 'ai')
            Get-ProcessName -Id (Get-PaneProcess -Session 'ARG-1' -Window 'ai') |
                Should -BeExactly 'fake-agent'
        }

        It 'passes the filled-in feature template as one argument, verbatim' {
            $log.Contains("args: [--prompt] [$before") | Should -BeTrue -Because $log
            $log.Contains("$after]`n") | Should -BeTrue -Because $log
            $log | Should -Match ([regex]::Escape("(no changes yet)"))
        }

        It 'replaces every placeholder' {
            $log | Should -Not -Match '\{(Ticket|Description|Branch|Base|Path|Diff|Prompt)\}'
            $log.Contains($feature.Path) | Should -BeTrue
            $log.Contains($feature.Branch) | Should -BeTrue
        }

        It 'runs nothing of the description' {
            Get-PwnedFile | Should -BeNullOrEmpty
        }

        It 'records the agent for Get-FeatureAgent' {
            $agent = Get-FeatureAgent ARG-1
            $agent.Role | Should -BeExactly 'feature'
            $agent.Window | Should -BeExactly 'ai'
            $agent.Command | Should -BeExactly $FakeAgent
            $agent.State | Should -Not -BeIn 'NotStarted', 'Exited'
        }
    }

    Context 'the prompt in a file, from a feature template of the user' {
        BeforeAll {
            $config = New-AgentConfig -Prompt 'File' -Arguments @('--prompt-file', '{PromptFile}')
            $repo = New-TestRepository -Root $TestDrive -Name 'file-repo' -Config $config
            $template = "TICKET {Ticket}`nDESCRIPTION {Description}`n" +
                "BRANCH {Branch} FROM {Base}`nPATH {Path}`n"
            Set-UserTemplate -Repository $repo -Role 'feature' -Text $template
            Push-Location $repo
            $feature = New-Feature FILE-1 $Hostile
            $expected = "TICKET FILE-1`nDESCRIPTION $Hostile`nBRANCH $($feature.Branch) FROM " +
                "origin/main`nPATH $($feature.Path)`n"
            $log = Wait-AgentLog -Path $feature.Path -Text "prompt-file: $expected"
            $argument = '(?m)^args: \[--prompt-file\] \[([^\]]+)\]$'
        }

        AfterAll {
            Pop-Location
        }

        It 'passes the path of a file that holds the prompt verbatim' {
            $log | Should -Match $argument
            $file = [regex]::Match($log, $argument).Groups[1].Value
            [IO.Path]::IsPathRooted($file) | Should -BeTrue
            [IO.File]::ReadAllText($file) | Should -BeExactly $expected
        }

        It 'keeps the prompt file out of the worktree' {
            $file = [regex]::Match($log, $argument).Groups[1].Value
            $file.StartsWith($feature.Path + '/') | Should -BeFalse
            Invoke-Git $feature.Path status --porcelain | Should -Not -Match 'prompt'
        }

        It 'runs nothing of the description' {
            Get-PwnedFile | Should -BeNullOrEmpty
        }
    }

    Context 'the prompt on standard input' {
        BeforeAll {
            $config = New-AgentConfig -Prompt 'StandardInput' -Arguments @()
            $repo = New-TestRepository -Root $TestDrive -Name 'stdin-repo' -Config $config
            Set-UserTemplate -Repository $repo -Role 'feature' -Text (
                "TICKET {Ticket}`nDESCRIPTION {Description}`nBRANCH {Branch}`n")
            Push-Location $repo
            $feature = New-Feature STDIN-1 $Hostile
            $null = Wait-AgentLog -Path $feature.Path -Text "line: [BRANCH $($feature.Branch)]"
        }

        AfterAll {
            Pop-Location
        }

        It 'gives the agent the prompt lines first, verbatim, and no prompt argument' {
            $lines = (Get-AgentLog -Path $feature.Path) -split "`n"
            $lines[0] | Should -BeExactly 'args:'
            $lines[1..3] | Should -Be @(
                'line: [TICKET STDIN-1]'
                "line: [DESCRIPTION $Hostile]"
                "line: [BRANCH $($feature.Branch)]"
            )
        }

        It 'then passes what is typed into the window' {
            Send-FeatureAgent STDIN-1 'typed after the prompt'
            $log = Wait-AgentLog -Path $feature.Path -Text 'line: [typed after the prompt]'
            $log.IndexOf('line: [typed after the prompt]') |
                Should -BeGreaterThan $log.IndexOf('line: [BRANCH')
        }

        It 'runs nothing of the description' {
            Get-PwnedFile | Should -BeNullOrEmpty
        }

        It 'ends the window with the exit code once the agent exits' {
            # The feeder of standard input waits on the terminal; the agent's end must stop it.
            Send-FeatureAgent STDIN-1 'crash'
            $seen = @{}
            Wait-Until -IntervalMs 100 -Because 'the stdin agent to exit with its code' {
                $null = Invoke-Tmux $Socket run-shell true
                $seen.Agent = Get-FeatureAgent STDIN-1
                $seen.Agent.State -eq 'Exited' -and $null -ne $seen.Agent.ExitCode
            }
            $seen.Agent.ExitCode | Should -Be 3
            Get-TmuxWindow -Socket $Socket -Session 'STDIN-1' | Should -Contain 'ai'
            $seen.Agent.LastLines | Should -Not -Contain 'Terminated'
        }
    }

    Context 'a description that holds placeholder names' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'names-repo' -Config (New-AgentConfig)
            Set-UserTemplate -Repository $repo -Role 'feature' -Text (
                "DESC <{Description}> PATH <{Path}>")
            Push-Location $repo
            $description = 'Keep {Path}, {Ticket} and {Diff} as written'
            $feature = New-Feature NAMES-1 $description
            $log = Wait-AgentLog -Path $feature.Path -Text '>]'
        }

        AfterAll {
            Pop-Location
        }

        It 'fills in the template once, leaving the description as it is' {
            $expected = "args: [--prompt] [DESC <$description> PATH <$($feature.Path)>]"
            $log.Contains($expected) | Should -BeTrue -Because $log
        }
    }

    Context 'a user template without a final line break, on standard input' {
        BeforeAll {
            $config = New-AgentConfig -Prompt 'StandardInput' -Arguments @()
            $repo = New-TestRepository -Root $TestDrive -Name 'no-newline-repo' -Config $config
            Set-UserTemplate -Repository $repo -Role 'feature' -Text "TICKET {Ticket}`nLAST LINE"
            Push-Location $repo
            $feature = New-Feature NONL-1 'No final line break'
            $null = Wait-AgentLog -Path $feature.Path -Text 'line: [TICKET NONL-1]'
        }

        AfterAll {
            Pop-Location
        }

        It 'keeps the last prompt line apart from the first line typed' {
            Send-FeatureAgent NONL-1 'hello'
            $log = Wait-AgentLog -Path $feature.Path -Text 'hello]'
            $log | Should -Match '(?m)^line: \[LAST LINE\]$'
            $log | Should -Match '(?m)^line: \[hello\]$'
        }
    }

    Context 'the agent program is not installed' {
        BeforeAll {
            $config = New-AgentConfig -Command 'no-such-agent-xyz'
            $repo = New-TestRepository -Root $TestDrive -Name 'missing-repo' -Config $config
            Push-Location $repo
            $feature = New-Feature MISS-1 'No agent program' -WarningVariable warnings `
                -WarningAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'still creates the feature and its session with a plain ai window' {
            $feature.State | Should -Be 'Ok'
            $feature.SessionAlive | Should -BeTrue
            Get-TmuxWindow -Socket $Socket -Session 'MISS-1' | Should -Contain 'ai'
            Get-ProcessName -Id (Get-PaneProcess -Session 'MISS-1' -Window 'ai') |
                Should -BeExactly 'sh'
        }

        It 'warns that the program is missing' {
            $warnings | Should -HaveCount 1
            "$warnings" | Should -Match 'no-such-agent-xyz'
        }

        It 'records the agent as NotStarted with the reason' {
            $agent = Get-FeatureAgent MISS-1
            $agent.State | Should -Be 'NotStarted'
            $agent.Reason | Should -Match 'no-such-agent-xyz'
            $agent.Pid | Should -BeNullOrEmpty
        }
    }

    Context 'no agent: <Name>' -ForEach @(
        @{ Name = '-NoAgent'; Ticket = 'NOAG-1'; NoAgent = $true; Config = $null }
        @{ Name = 'Agent = $null'; Ticket = 'NOAG-2'; Config = '@{ Agent = $null }' }
    ) {
        BeforeAll {
            $config = if ($Config) { $Config } else { New-AgentConfig }
            $repo = New-TestRepository -Root $TestDrive -Name "no-agent-$Ticket" -Config $config
            Push-Location $repo
            $feature = New-Feature $Ticket 'No agent' -NoAgent:$NoAgent -WarningVariable warnings
        }

        AfterAll {
            Pop-Location
        }

        It 'keeps a plain ai window' {
            Get-TmuxWindow -Socket $Socket -Session $Ticket |
                Should -Be @('editor', 'server', 'tests', 'ai')
            Get-ProcessName -Id (Get-PaneProcess -Session $Ticket -Window 'ai') |
                Should -BeExactly 'sh'
            $warnings | Should -BeNullOrEmpty
        }

        It 'records no agent and starts no agent program' {
            Get-FeatureAgent $Ticket | Should -BeNullOrEmpty
            Test-Path (Join-Path $feature.Path 'fake-agent.log') | Should -BeFalse
        }
    }
}

Describe 'Start-FeatureAgent' {
    Context 'roles in a running feature' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'roles-repo' -Config (New-AgentConfig)
            Set-UserTemplate -Repository $repo -Role 'review' -Text (
                "REVIEW {Ticket} ({Description}) on {Branch} against {Base} at {Path}`n" +
                "not run: `$(touch pwned-template) ``touch pwned-template-tick```n" +
                "CHANGES:`n{Diff}`nEND`n")
            Set-UserTemplate -Repository $repo -Role 'lint' -Text "LINT {Ticket}`n"
            Push-Location $repo
            $feature = New-Feature ROLE-1 $Hostile
            $null = New-TestCommit -Path $feature.Path -File 'login.txt' -Message 'Add login form'
            $review = Start-FeatureAgent review ROLE-1
            $log = Wait-AgentLog -Path $feature.Path -Text "END`n]"
        }

        AfterAll {
            Pop-Location
        }

        It 'emits the new agent' {
            $review | Should -HaveCount 1
            $review.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureAgent'
            $review.Ticket | Should -BeExactly 'ROLE-1'
            $review.Role | Should -BeExactly 'review'
            $review.Window | Should -BeExactly 'ai-review'
            $review.Command | Should -BeExactly $FakeAgent
            $review.State | Should -BeIn 'Working', 'WaitingForInput', 'Idle', 'Unknown'
            $review.Pid | Should -Be (Get-PaneProcess -Session 'ROLE-1' -Window 'ai-review')
        }

        It 'opens the window ai-review beside the others' {
            Get-TmuxWindow -Socket $Socket -Session 'ROLE-1' |
                Should -Be @('editor', 'server', 'tests', 'ai', 'ai-review')
            Get-ProcessName -Id $review.Pid | Should -BeExactly 'fake-agent'
        }

        It "uses the user's review template over the shipped one, filled in" {
            $expected = "args: [--prompt] [REVIEW ROLE-1 ($Hostile) on $($feature.Branch) " +
                "against origin/main at $($feature.Path)`n" +
                "not run: `$(touch pwned-template) ``touch pwned-template-tick```nCHANGES:`n"
            $log.Contains($expected) | Should -BeTrue -Because $log
            $log | Should -Not -Match 'Review the changes of ticket'
        }

        It 'puts the commits of the branch in {Diff}' {
            $changes = [regex]::Match($log, '(?s)CHANGES:\n(.*)\nEND').Groups[1].Value
            $changes | Should -Match 'Add login form'
            $changes | Should -Match 'login\.txt'
        }

        It 'uses the shipped template of a role the user did not override' {
            $agent = Start-FeatureAgent tests ROLE-1
            $agent.Window | Should -BeExactly 'ai-tests'
            $before, $after = Get-ShippedPrompt -Role 'tests' -Feature $feature
            $log = Wait-AgentLog -Path $feature.Path -Text "$after]"
            $log.Contains("args: [--prompt] [$before") | Should -BeTrue -Because $log
        }

        It "adds a role from a template of the user's own" {
            $agent = Start-FeatureAgent lint ROLE-1
            $agent.Window | Should -BeExactly 'ai-lint'
            $null = Wait-AgentLog -Path $feature.Path -Text "args: [--prompt] [LINT ROLE-1`n]"
            Get-TmuxWindow -Socket $Socket -Session 'ROLE-1' | Should -Contain 'ai-lint'
        }

        It 'takes the ticket from the pipeline' {
            $agent = Get-Feature ROLE-1 | Start-FeatureAgent docs
            $agent.Ticket | Should -BeExactly 'ROLE-1'
            $agent.Window | Should -BeExactly 'ai-docs'
        }

        It 'runs nothing of the description or the template' {
            Get-PwnedFile | Should -BeNullOrEmpty
        }
    }

    Context 'a folder of templates named in the configuration' {
        BeforeAll {
            $config = New-AgentConfig -Templates 'prompts'
            $repo = New-TestRepository -Root $TestDrive -Name 'folder-repo' -Config $config
            Set-UserTemplate $repo -Folder 'prompts' -Role 'review' -Text "FOLDER REVIEW {Ticket}`n"
            Set-UserTemplate $repo -Role 'review' -Text "DEFAULT FOLDER REVIEW {Ticket}`n"
            Push-Location $repo
            $feature = New-Feature DIR-1 'Templates elsewhere'
        }

        AfterAll {
            Pop-Location
        }

        It 'reads the templates from Agent.Templates' {
            $null = Start-FeatureAgent review DIR-1
            $log = Wait-AgentLog -Path $feature.Path -Text 'args: [--prompt] [FOLDER REVIEW DIR-1'
            $log | Should -Not -Match 'DEFAULT FOLDER'
        }
    }

    Context 'a role started twice' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'twice-repo' -Config (New-AgentConfig)
            Set-UserTemplate -Repository $repo -Role 'review' -Text "REVIEW {Ticket}`n"
            Push-Location $repo
            $feature = New-Feature TWICE-1 'Twice'
            $first = Start-FeatureAgent review TWICE-1
            $second = Start-FeatureAgent review TWICE-1
        }

        AfterAll {
            Pop-Location
        }

        It 'returns the running agent instead of opening a second window' {
            $second.Window | Should -BeExactly 'ai-review'
            $second.Pid | Should -Be $first.Pid
            Get-TmuxWindow -Socket $Socket -Session 'TWICE-1' | Where-Object { $_ -like 'ai-r*' } |
                Should -Be @('ai-review')
            $log = Wait-AgentLog -Path $feature.Path -Text 'REVIEW TWICE-1'
            [regex]::Matches($log, 'REVIEW TWICE-1').Count | Should -Be 1
        }

        It 'opens ai-review-2 with -New' {
            $third = Start-FeatureAgent review TWICE-1 -New
            $third.Window | Should -BeExactly 'ai-review-2'
            $third.Role | Should -BeExactly 'review'
            $third.Pid | Should -Not -Be $first.Pid
            Get-TmuxWindow -Socket $Socket -Session 'TWICE-1' | Should -Contain 'ai-review-2'
            Get-FeatureAgent TWICE-1 -Role review | ForEach-Object Window |
                Should -Be @('ai-review', 'ai-review-2')
        }

        It 'starts a fresh agent in the same window once the last one exited' {
            $old = Start-FeatureAgent security TWICE-1
            Send-FeatureAgent TWICE-1 'exit' -Role security
            Wait-Until -Because 'the security agent to exit' {
                (Get-FeatureAgent TWICE-1 -Role security).State -eq 'Exited'
            }
            $new = Start-FeatureAgent security TWICE-1
            $new.Window | Should -BeExactly 'ai-security'
            $new.Pid | Should -Not -Be $old.Pid
            $new.State | Should -Not -BeIn 'Exited', 'NotStarted'
            Get-TmuxWindow -Socket $Socket -Session 'TWICE-1' | Where-Object { $_ -like 'ai-s*' } |
                Should -Be @('ai-security')
        }
    }

    Context 'refusals' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'ref-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature REF-1 'Refusals'
            $null = New-Feature REF-2 'No session' -NoSession

            # A window named like a role's, opened by the user rather than by the module.
            $null = Invoke-Tmux $Socket new-window -d -t '=REF-1:' -n 'ai-docs'
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Name> with <Id>' -TestCases @(
            @{ Name = 'a role without a template'; Role = 'nosuchrole'; Id = 'AgentRoleUnknown' }
            @{ Name = 'a role with a space'; Role = 'Bad Role'; Id = 'InvalidAgentRole' }
            @{ Name = 'a role with a path'; Role = '../review'; Id = 'InvalidAgentRole' }
            @{ Name = 'an unknown ticket'; Ticket = 'NOPE-1;touch pwned'; Id = 'FeatureNotFound' }
            @{ Name = 'a stopped session'; Ticket = 'REF-2'; Id = 'SessionNotRunning' }
            @{ Name = 'a window it did not start'; Role = 'docs'; Id = 'AgentWindowTaken' }
        ) {
            param($Name, $Role = 'review', $Ticket = 'REF-1', $Id)
            $windows = @(Get-TmuxWindow -Socket $Socket -Session 'REF-1')
            $thrown = { Start-FeatureAgent $Role $Ticket -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "$Id,$Command"
            Get-TmuxWindow -Socket $Socket -Session 'REF-1' | Should -Be $windows
            Get-PwnedFile | Should -BeNullOrEmpty
        }

        It 'names the roles there are when the role is unknown' {
            $thrown = { Start-FeatureAgent nosuchrole REF-1 -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.Exception.Message | Should -Match 'review'
            $thrown.Exception.Message | Should -Match 'security'
        }

        It 'starts nothing with -WhatIf' {
            Start-FeatureAgent review REF-1 -WhatIf | Should -BeNullOrEmpty
            Get-TmuxWindow -Socket $Socket -Session 'REF-1' | Should -Not -Contain 'ai-review'
        }
    }

    Context 'an agent configuration that cannot start: <Name>' -ForEach @(
        @{
            Name = 'a missing program'; Ticket = 'CANT-1'; Id = 'AgentNotInstalled'
            Config = "@{ Agent = @{ Command = 'no-such-agent-xyz' } }"
        }
        @{
            Name = 'Agent = $null'; Ticket = 'CANT-2'; Id = 'AgentNotConfigured'
            Config = '@{ Agent = $null }'
        }
    ) {
        BeforeAll {
            # The feature is made with a working agent; the configuration changes afterwards.
            $repo = New-TestRepository -Root $TestDrive -Name "cannot-$Id" -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature $Ticket 'Cannot start'
            [IO.File]::WriteAllText((Join-Path $repo '.worktreetools.psd1'), $Config)
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses with <Id> and opens no window' {
            $thrown = { Start-FeatureAgent review $Ticket -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "$Id,$Command"
            Get-TmuxWindow -Socket $Socket -Session $Ticket | Should -Not -Contain 'ai-review'
        }
    }

    Context 'the feature agent once its missing program is installed' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'installed-later-repo' -Config (
                New-AgentConfig -Command 'no-such-agent-xyz')
            Push-Location $repo
            $null = New-Feature LATER-1 'Installed later' -WarningAction SilentlyContinue
            [IO.File]::WriteAllText((Join-Path $repo '.worktreetools.psd1'), (New-AgentConfig))
        }

        AfterAll {
            Pop-Location
        }

        It 'starts it in the ai window the missing program left plain' {
            $agent = Start-FeatureAgent feature LATER-1
            $agent.Window | Should -BeExactly 'ai'
            $agent.State | Should -Not -BeIn 'NotStarted', 'Exited'
            $agent.Reason | Should -Not -Match 'no-such-agent-xyz'
            Get-ProcessName -Id (Get-PaneProcess -Session 'LATER-1' -Window 'ai') |
                Should -BeExactly 'fake-agent'
            $path = (Get-Feature LATER-1).Path
            $prompt = 'args: [--prompt] [You are working on ticket LATER-1'
            $null = Wait-AgentLog -Path $path -Text $prompt
        }
    }

    Context 'the plain ai window of a missing program, running a command' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'busy-plain-repo' -Config (
                New-AgentConfig -Command 'no-such-agent-xyz')
            Push-Location $repo
            $null = New-Feature BUSY-1 'Shell in use' -WarningAction SilentlyContinue
            [IO.File]::WriteAllText((Join-Path $repo '.worktreetools.psd1'), (New-AgentConfig))
            $shell = Get-PaneProcess -Session 'BUSY-1' -Window 'ai'
            $null = Invoke-Tmux $Socket send-keys -t '=BUSY-1:=ai' 'sleep 60' Enter
            Wait-Until -Because 'the plain shell runs sleep' {
                @(Get-ProcessTree -Id $shell).Count -gt 1
            }
            $busy = (Get-ProcessTree -Id $shell) | Where-Object { $_ -ne $shell }
        }

        AfterAll {
            foreach ($item in $busy) {
                if (Test-ProcessAlive -Id $item) {
                    & kill -KILL $item
                }
            }
            Pop-Location
        }

        It 'refuses with AgentWindowBusy and leaves the command running' {
            $thrown = { Start-FeatureAgent feature BUSY-1 -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "AgentWindowBusy,$Command"
            Get-PaneProcess -Session 'BUSY-1' -Window 'ai' | Should -Be $shell
            $busy | ForEach-Object { Test-ProcessAlive -Id $_ | Should -BeTrue }
        }
    }

    Context 'a feature made with -NoAgent' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'plain-repo' -Config (New-AgentConfig)
            Push-Location $repo
            $null = New-Feature PLAIN-1 'Plain ai window' -NoAgent
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses the feature role in the plain ai window with AgentWindowTaken' {
            $shell = Get-PaneProcess -Session 'PLAIN-1' -Window 'ai'
            $thrown = { Start-FeatureAgent feature PLAIN-1 -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "AgentWindowTaken,$Command"
            Get-PaneProcess -Session 'PLAIN-1' -Window 'ai' | Should -Be $shell
            Test-ProcessAlive -Id $shell | Should -BeTrue
        }

        It 'starts the feature role in ai-2 with -New' {
            $agent = Start-FeatureAgent feature PLAIN-1 -New
            $agent.Window | Should -BeExactly 'ai-2'
            $agent.Role | Should -BeExactly 'feature'
            $agent.State | Should -Not -BeIn 'NotStarted', 'Exited'
        }

        It 'starts other roles in their own windows' {
            $agent = Start-FeatureAgent review PLAIN-1
            $agent.Window | Should -BeExactly 'ai-review'
            $agent.State | Should -Not -BeIn 'NotStarted', 'Exited'
        }
    }
}
