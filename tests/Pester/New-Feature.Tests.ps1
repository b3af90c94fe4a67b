BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.NewFeatureCommand'
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'New-Feature' {
    Context 'a new feature in a repository whose default branch is main' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'main-repo'
            Push-Location $repo
            $feature = New-Feature ABC-1 'Add login!'
            $branch = 'feature/ABC-1-add-login'
        }

        AfterAll {
            Pop-Location
        }

        It 'emits a WorktreeTools.Feature' {
            $feature | Should -HaveCount 1
            $feature.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.Feature'
            $feature.Ticket | Should -BeExactly 'ABC-1'
            $feature.Description | Should -BeExactly 'Add login!'
            $feature.State | Should -Be 'Ok'
        }

        It 'creates feature/<Ticket>-<slug> at the tip of origin/main' {
            $feature.Branch | Should -BeExactly $branch
            $feature.Base | Should -BeExactly 'origin/main'
            $tip = Invoke-Git $repo rev-parse "refs/heads/$branch"
            $tip | Should -BeExactly (Invoke-Git $repo rev-parse origin/main)
        }

        It 'configures no upstream for the new branch' {
            & git -C $repo config "branch.$branch.remote" | Should -BeNullOrEmpty
            & git -C $repo config "branch.$branch.merge" | Should -BeNullOrEmpty
        }

        It 'checks the branch out in ../worktrees/<Ticket>' {
            $expected = Get-TestWorktreePath -Repository $repo -Ticket 'ABC-1'
            $feature.Path | Should -BeExactly $expected
            Get-GitWorktreePath -Path $repo | Should -Contain $expected
            Invoke-Git $expected branch --show-current | Should -BeExactly $branch
        }

        It 'starts a session named after the ticket with the default windows' {
            $feature.Session | Should -BeExactly 'ABC-1'
            $feature.SessionAlive | Should -BeTrue
            Test-TmuxSession -Socket $Socket -Name 'ABC-1' | Should -BeTrue
            Get-TmuxWindow -Socket $Socket -Session 'ABC-1' |
                Should -Be @('editor', 'server', 'tests', 'ai')
        }
    }

    Context 'a new feature in a repository whose default branch is trunk' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'trunk-repo' -DefaultBranch 'trunk'
            Push-Location $repo
            $feature = New-Feature TRK-1 'Fix the build' -NoSession
            $branch = 'feature/TRK-1-fix-the-build'
        }

        AfterAll {
            Pop-Location
        }

        It 'branches from origin/trunk' {
            $feature.Base | Should -BeExactly 'origin/trunk'
            $tip = Invoke-Git $repo rev-parse "refs/heads/$branch"
            $tip | Should -BeExactly (Invoke-Git $repo rev-parse origin/trunk)
        }

        It 'configures no upstream for the new branch' {
            & git -C $repo config "branch.$branch.remote" | Should -BeNullOrEmpty
        }
    }

    Context 'turning descriptions into slugs' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'slug-repo'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It "turns '<Description>' into '<Slug>'" -TestCases @(
            @{ Ticket = 'SLUG-1'; Description = 'Add login!'; Slug = 'add-login' }
            @{ Ticket = 'SLUG-2'; Description = '  Fix   the BUG  '; Slug = 'fix-the-bug' }
            @{ Ticket = 'SLUG-3'; Description = 'Café crème'; Slug = 'cafe-creme' }
            @{
                Ticket = 'SLUG-4'; Description = 'v2.0: release/notes'; Slug = 'v2-0-release-notes'
            }
        ) {
            param($Ticket, $Description, $Slug)
            $feature = New-Feature $Ticket $Description -NoSession
            $feature.Branch | Should -BeExactly "feature/$Ticket-$Slug"
            Test-GitBranch -Path $repo -Name "feature/$Ticket-$Slug" | Should -BeTrue
        }
    }

    Context 'outside a git repository' {
        BeforeAll {
            $outside = Join-Path $TestDrive 'not-a-repo'
            $null = New-Item -ItemType Directory -Path $outside
            Push-Location $outside
        }

        AfterAll {
            Pop-Location
        }

        It 'stops with a terminating NotAGitRepository error, as the other cmdlets do' {
            $reached = $false
            {
                New-Feature OUT-1 -NoSession -ErrorAction SilentlyContinue
                $script:reached = $true
            } | Should -Throw -ErrorId "NotAGitRepository,$Command"
            $reached | Should -BeFalse
        }
    }

    Context 'a repository without any remote' {
        BeforeAll {
            $lonely = Join-Path $TestDrive 'lonely'
            Invoke-Git $TestDrive init -q -b main $lonely
            Invoke-Git $lonely -c user.name=Test -c user.email=test@example.invalid `
                commit -q --allow-empty -m init
            Push-Location $lonely
        }

        AfterAll {
            Pop-Location
        }

        It 'asks for -Base or the Base setting, not for origin' {
            $failure = $null
            $null = New-Feature LONE-1 -NoSession -ErrorVariable failure `
                -ErrorAction SilentlyContinue
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "BaseNotFound,$Command"
            "$($failure[0])" | Should -BeLike "*no remote named 'origin'*-Base main*Base = 'main'*"
            "$($failure[0])" | Should -Not -BeLike '*set-head*'
        }
    }

    Context 'an invalid ticket' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'ticket-repo'
            $worktrees = Join-Path $TestDrive 'ticket-repo/worktrees'
            Push-Location $repo

            # Everything a failed call could have left behind.
            function Get-Footprint {
                @(
                    "branches: $(@(Get-GitBranch -Path $repo) -join ',')"
                    "worktrees: $(@(Get-GitWorktreePath -Path $repo) -join ',')"
                    "folders: $(@(Get-ChildItem $worktrees -Force -ErrorAction Ignore).Count)"
                    "sessions: $(@(Get-TmuxSession -Socket $Socket) -join ',')"
                    "features: $(@(Get-Feature).Count)"
                ) -join '; '
            }
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Name> with InvalidTicket and creates nothing' -TestCases @(
            @{ Name = 'a space'; Ticket = 'ABC 1' }
            @{ Name = "'..'"; Ticket = 'ABC..1' }
            @{ Name = "':'"; Ticket = 'ABC:1' }
            @{ Name = "'~'"; Ticket = 'ABC~1' }
            @{ Name = "'^'"; Ticket = 'ABC^1' }
            @{ Name = 'a tab'; Ticket = "ABC`t1" }
            @{ Name = "a leading '-'"; Ticket = '-ABC-1' }
            @{ Name = "'`$(x)'"; Ticket = 'ABC$(x)' }
            @{ Name = "';'"; Ticket = 'ABC;1' }
            @{ Name = "'|'"; Ticket = 'ABC|1' }
            @{ Name = "'&'"; Ticket = 'ABC&1' }
            @{ Name = 'a backtick'; Ticket = 'ABC`1' }
            @{ Name = '65 characters'; Ticket = 'A' * 65 }
        ) {
            param($Name, $Ticket)
            $before = Get-Footprint
            $thrown = { New-Feature -Ticket $Ticket -Description 'x' -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidTicket,$Command"
            Get-Footprint | Should -BeExactly $before
            Test-Path $worktrees | Should -BeFalse
        }

        It "refuses '..' alone with InvalidTicket" {
            $thrown = { New-Feature -Ticket '..' -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidTicket,$Command"
        }

        It 'refuses an empty ticket with InvalidTicket' {
            $thrown = { New-Feature -Ticket '' -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidTicket,$Command"
        }
    }

    Context 'a description without letters or digits' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'description-repo'
            Push-Location $repo
            $null = New-Feature DESC-1 '?!-- ...' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'fails with InvalidDescription' {
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "InvalidDescription,$Command"
        }

        It 'creates nothing' {
            Get-GitBranch -Path $repo -Pattern 'feature/*' | Should -BeNullOrEmpty
            Test-Path (Get-TestWorktreePath -Repository $repo -Ticket 'DESC-1') | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'DESC-1' | Should -BeFalse
        }
    }

    Context 'running it again for the same ticket' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'again-repo'
            Push-Location $repo
            $first = New-Feature IDEM-1 'First try'
            $second = New-Feature IDEM-1 'First try' -WarningVariable quiet
            $third = New-Feature IDEM-1 'Other words' -WarningVariable warnings `
                -WarningAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'returns the same feature' {
            foreach ($again in $second, $third) {
                $again.Ticket | Should -BeExactly $first.Ticket
                $again.Branch | Should -BeExactly $first.Branch
                $again.Path | Should -BeExactly $first.Path
                $again.Created | Should -Be $first.Created
            }
        }

        It 'creates no second branch or worktree' {
            Get-GitBranch -Path $repo -Pattern 'feature/*' |
                Should -BeExactly 'feature/IDEM-1-first-try'
            Get-GitWorktreePath -Path $repo | Should -HaveCount 2
            Get-Feature | Should -HaveCount 1
        }

        It 'creates no second session or window' {
            Get-TmuxSession -Socket $Socket | Where-Object { $_ -like 'IDEM-1*' } |
                Should -BeExactly 'IDEM-1'
            Invoke-Tmux $Socket list-windows -t '=IDEM-1' | Should -HaveCount 4
        }

        It 'warns only when the description differs' {
            $quiet | Should -BeNullOrEmpty
            $warnings | Should -HaveCount 1
            "$($warnings[0])" | Should -BeLike '*IDEM-1*'
        }
    }

    Context 'repairing a session that was killed' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'session-repo'
            Push-Location $repo
            $null = New-Feature REP-1 'Repair me'
            Invoke-Tmux $Socket kill-session -t '=REP-1'
            $killed = Test-TmuxSession -Socket $Socket -Name 'REP-1'
            $repaired = New-Feature REP-1
        }

        AfterAll {
            Pop-Location
        }

        It 'starts the session again' {
            $killed | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'REP-1' | Should -BeTrue
            $repaired.SessionAlive | Should -BeTrue
        }

        It 'leaves the branch and worktree as they were' {
            Get-GitBranch -Path $repo -Pattern 'feature/*' |
                Should -BeExactly 'feature/REP-1-repair-me'
            $repaired.State | Should -Be 'Ok'
        }
    }

    Context 'repairing a window that was closed' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'window-repo'
            Push-Location $repo
            $null = New-Feature CLW-1 'Close a window' -NoAgent
            Invoke-Tmux $Socket kill-window -t '=CLW-1:=server'
            $closed = Get-TmuxWindow -Socket $Socket -Session 'CLW-1'
            $repaired = New-Feature CLW-1 -NoAgent
        }

        AfterAll {
            Pop-Location
        }

        It 'adds the closed window again, and no other' {
            $closed | Should -Not -Contain 'server'
            $windows = Get-TmuxWindow -Socket $Socket -Session 'CLW-1'
            $windows | Should -HaveCount 4
            $windows | Sort-Object | Should -Be @('ai', 'editor', 'server', 'tests')
            $repaired.SessionAlive | Should -BeTrue
        }
    }

    Context 'repairing a worktree folder that was deleted' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'folder-repo'
            Push-Location $repo
            $original = New-Feature REP-2 'Keep commits' -NoSession
            $commit = New-TestCommit -Path $original.Path -File 'work.txt' -Content 'precious'
            Remove-Item $original.Path -Recurse -Force
            $repaired = New-Feature REP-2 -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'adds the worktree again at the same place' {
            $repaired.Path | Should -BeExactly $original.Path
            $repaired.State | Should -Be 'Ok'
            Get-GitWorktreePath -Path $repo | Where-Object { $_ -eq $original.Path } |
                Should -HaveCount 1
        }

        It 'checks out the same branch with its commit' {
            Invoke-Git $repaired.Path branch --show-current | Should -BeExactly $original.Branch
            Invoke-Git $repaired.Path rev-parse HEAD | Should -BeExactly $commit
            Get-Content (Join-Path $repaired.Path 'work.txt') | Should -BeExactly 'precious'
        }
    }

    Context 'a setup command that fails' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'setup-fail-repo' `
                -Config "@{ Setup = 'exit 3' }"
            Push-Location $repo
            $null = New-Feature SET-1 'Broken setup' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'fails with SetupFailed' {
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "SetupFailed,$Command"
            "$($failure[0])" | Should -BeLike '*setup*3*'
        }

        It 'undoes the branch, the worktree and its folder' {
            Get-GitBranch -Path $repo -Pattern 'feature/*' | Should -BeNullOrEmpty
            Get-GitWorktreePath -Path $repo | Should -HaveCount 1
            Test-Path (Get-TestWorktreePath -Repository $repo -Ticket 'SET-1') | Should -BeFalse
        }

        It 'removes the folder of worktrees that it made' {
            $path = Get-TestWorktreePath -Repository $repo -Ticket 'SET-1'
            Test-Path (Split-Path $path -Parent) | Should -BeFalse
        }

        It 'leaves no session and no state' {
            Test-TmuxSession -Socket $Socket -Name 'SET-1' | Should -BeFalse
            Get-Feature | Should -BeNullOrEmpty
        }
    }

    Context 'a tmux session that fails after tmux made it' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'tmux-fail-repo'
            Push-Location $repo

            # A tmux in front of the real one: it runs every call, then reports the call
            # that makes a session as failed, as when a later window of that call fails.
            $shim = Join-Path $TestDrive 'failing-tmux'
            $null = New-Item -ItemType Directory -Path $shim
            $real = (Get-Command tmux -CommandType Application | Select-Object -First 1).Source
            $lines = @(
                '#!/bin/sh'
                "'$real' `"`$@`""
                'status=$?'
                'for argument in "$@"; do'
                '    if [ "$argument" = new-session ]; then exit 1; fi'
                'done'
                'exit $status'
            )
            [IO.File]::WriteAllText((Join-Path $shim 'tmux'), ($lines -join "`n") + "`n")
            & chmod +x (Join-Path $shim 'tmux')
            $savedPath = $env:PATH
            $env:PATH = "$shim$([IO.Path]::PathSeparator)$env:PATH"
            try {
                $null = New-Feature TMX-1 'Session fails' -NoAgent -ErrorVariable failure `
                    -ErrorAction SilentlyContinue
            }
            finally {
                $env:PATH = $savedPath
            }
        }

        AfterAll {
            Pop-Location
        }

        It 'fails with TmuxSessionFailed, naming the step' {
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "TmuxSessionFailed,$Command"
            "$($failure[0])" | Should -BeLike '*while creating the tmux session*undone*'
        }

        It 'ends the session that tmux made' {
            Test-TmuxSession -Socket $Socket -Name 'TMX-1' | Should -BeFalse
        }

        It 'undoes the branch, the worktree, its folder and the state' {
            Get-GitBranch -Path $repo -Pattern 'feature/*' | Should -BeNullOrEmpty
            Get-GitWorktreePath -Path $repo | Should -HaveCount 1
            Test-Path (Get-TestWorktreePath -Repository $repo -Ticket 'TMX-1') | Should -BeFalse
            Get-Feature | Should -BeNullOrEmpty
        }
    }

    Context 'a branch already checked out in another worktree' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'busy-repo'
            $elsewhere = Join-Path $TestDrive 'busy-repo/elsewhere'
            $null = Invoke-Git $repo worktree add -q -b 'feature/BUSY-1-busy' $elsewhere `
                origin/main
            Push-Location $repo
            $null = New-Feature BUSY-1 'Busy' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'fails with BranchCheckedOutElsewhere naming that worktree' {
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId |
                Should -BeExactly "BranchCheckedOutElsewhere,$Command"
            "$($failure[0])" | Should -BeLike "*$elsewhere*"
        }

        It 'creates nothing' {
            Test-Path (Get-TestWorktreePath -Repository $repo -Ticket 'BUSY-1') | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'BUSY-1' | Should -BeFalse
            Get-Feature | Should -BeNullOrEmpty
        }
    }

    Context 'a worktree folder that is already occupied' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'occupied-repo'
            $folder = Get-TestWorktreePath -Repository $repo -Ticket 'OCC-1'
            $null = New-Item -ItemType Directory -Path $folder -Force
            Set-Content -Path (Join-Path $folder 'keep.txt') -Value 'mine'
            Push-Location $repo
            $null = New-Feature OCC-1 'Occupied' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'fails with WorktreePathOccupied' {
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "WorktreePathOccupied,$Command"
        }

        It 'leaves the folder and creates no branch' {
            Get-Content (Join-Path $folder 'keep.txt') | Should -BeExactly 'mine'
            Get-GitBranch -Path $repo -Pattern 'feature/*' | Should -BeNullOrEmpty
        }
    }

    Context 'CopyFiles and Setup' {
        BeforeAll {
            $config = @'
@{
    CopyFiles = @('.env')
    Setup     = 'echo "ticket=$FEATURE_TICKET" >> setup-ran.txt'
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'copy-repo' -Config $config
            Set-Content -Path (Join-Path $repo '.env') -Value 'API_KEY=secret'
            Push-Location $repo
            $feature = New-Feature CFG-1 'Copy things' -NoSession
            $null = New-Feature CFG-1 -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'copies .env from the main worktree' {
            Get-Content (Join-Path $feature.Path '.env') | Should -BeExactly 'API_KEY=secret'
        }

        It 'runs Setup once, in the worktree, with FEATURE_TICKET set' {
            Get-Content (Join-Path $feature.Path 'setup-ran.txt') |
                Should -BeExactly 'ticket=CFG-1'
            Test-Path (Join-Path $repo 'setup-ran.txt') | Should -BeFalse
        }
    }

    Context 'repairing a deleted worktree folder with CopyFiles and Setup' {
        BeforeAll {
            # The setup fails while a flag file lies beside the worktrees.
            $config = @'
@{
    CopyFiles = @('.env')
    Setup     = 'test ! -e ../fail-setup && echo ran >> setup-ran.txt'
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'repair-copy-repo' -Config $config
            Set-Content -Path (Join-Path $repo '.env') -Value 'API_KEY=secret'
            Push-Location $repo
            $feature = New-Feature RCP-1 'Copy again' -NoSession
            $flag = Join-Path (Split-Path $feature.Path -Parent) 'fail-setup'
        }

        AfterAll {
            Pop-Location
        }

        It 'copies the files and runs Setup in the folder added again' {
            Remove-Item $feature.Path -Recurse -Force
            $repaired = New-Feature RCP-1 -NoSession
            $repaired.State | Should -Be 'Ok'
            Get-Content (Join-Path $feature.Path '.env') | Should -BeExactly 'API_KEY=secret'
            Get-Content (Join-Path $feature.Path 'setup-ran.txt') | Should -BeExactly 'ran'
        }

        It 'removes the folder added again when Setup fails, so the next run repairs it' {
            Remove-Item $feature.Path -Recurse -Force
            $null = New-Item -ItemType File -Path $flag
            $null = New-Feature RCP-1 -NoSession -ErrorVariable failure `
                -ErrorAction SilentlyContinue
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "SetupFailed,$Command"
            "$($failure[0])" | Should -BeLike '*Repairing*while running the setup command*'
            Test-Path $feature.Path | Should -BeFalse
            (Get-Feature RCP-1).State | Should -Be 'Missing'
            Test-GitBranch -Path $repo -Name $feature.Branch | Should -BeTrue

            Remove-Item $flag
            (New-Feature RCP-1 -NoSession).State | Should -Be 'Ok'
        }
    }

    Context 'configured windows' {
        BeforeAll {
            $config = @'
@{
    Windows = @(
        @{ Name = 'code' }
        @{ Name = 'greeter'; Command = 'echo hello-from-window; sleep 600' }
    )
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'windows-repo' -Config $config
            Push-Location $repo
            $null = New-Feature WIN-1 'Windows'
        }

        AfterAll {
            Pop-Location
        }

        It 'names the windows as configured, in order' {
            Get-TmuxWindow -Socket $Socket -Session 'WIN-1' | Should -Be @('code', 'greeter')
        }

        It "runs a window's command in that window" {
            Wait-Until -TimeoutSec 10 -Because 'the greeting to appear in the pane' {
                $pane = Invoke-Tmux $Socket capture-pane -p -t '=WIN-1:greeter'
                ($pane -join "`n") -match 'hello-from-window'
            }
        }
    }

    Context '-NoSession' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'nosession-repo'
            Push-Location $repo
            $feature = New-Feature NS-1 'No session' -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'creates the worktree but no session' {
            Test-Path $feature.Path | Should -BeTrue
            $feature.SessionAlive | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'NS-1' | Should -BeFalse
        }
    }

    Context '-WhatIf' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'whatif-repo'
            Push-Location $repo
            $output = New-Feature WI-1 'What if' -WhatIf
        }

        AfterAll {
            Pop-Location
        }

        It 'creates nothing and emits nothing' {
            $output | Should -BeNullOrEmpty
            Get-GitBranch -Path $repo -Pattern 'feature/*' | Should -BeNullOrEmpty
            Test-Path (Get-TestWorktreePath -Repository $repo -Ticket 'WI-1') | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'WI-1' | Should -BeFalse
            Get-Feature | Should -BeNullOrEmpty
        }
    }

    Context 'a ticket with a dot' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'dot-repo'
            Push-Location $repo
            $feature = New-Feature REL-1.2 'Release'
        }

        AfterAll {
            Pop-Location
        }

        It "names the session with '_' for '.'" {
            $feature.Session | Should -BeExactly 'REL-1_2'
            Test-TmuxSession -Socket $Socket -Name 'REL-1_2' | Should -BeTrue
        }

        It 'keeps the dot in the branch and folder' {
            $feature.Branch | Should -BeExactly 'feature/REL-1.2-release'
            Split-Path $feature.Path -Leaf | Should -BeExactly 'REL-1.2'
        }
    }

    Context 'a repository without origin/HEAD' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'headless-repo' -NoRemoteHead
            Push-Location $repo
            $null = New-Feature HL-1 'No head' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It "fails with BaseNotFound that says to run 'git remote set-head'" {
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "BaseNotFound,$Command"
            "$($failure[0])" | Should -BeLike '*git remote set-head*'
        }

        It 'creates nothing' {
            Get-GitBranch -Path $repo -Pattern 'feature/*' | Should -BeNullOrEmpty
            Test-TmuxSession -Socket $Socket -Name 'HL-1' | Should -BeFalse
        }
    }

    Context '-Base with an explicit ref' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'base-repo' -NoRemoteHead
            $null = Invoke-Git $repo switch -q -c release
            $releaseTip = New-TestCommit -Path $repo -File 'release.txt'
            $null = Invoke-Git $repo push -q origin release
            $null = Invoke-Git $repo switch -q main
            Push-Location $repo
            $feature = New-Feature BASE-1 'From release' -Base origin/release -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'branches from that ref without tracking it' {
            $feature.Base | Should -BeExactly 'origin/release'
            Invoke-Git $repo rev-parse $feature.Branch | Should -BeExactly $releaseTip
            & git -C $repo config "branch.$($feature.Branch).remote" | Should -BeNullOrEmpty
        }
    }
}
