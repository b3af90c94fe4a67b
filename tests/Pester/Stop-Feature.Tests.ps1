BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.StopFeatureCommand'
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Stop-Feature' {
    Context 'a running feature' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'stop-repo'
            Push-Location $repo
            $created = New-Feature STOP-1 'Stop me'
            $output = Stop-Feature STOP-1
        }

        AfterAll {
            Pop-Location
        }

        It 'ends the session and emits nothing' {
            Test-TmuxSession -Socket $Socket -Name 'STOP-1' | Should -BeFalse
            (Get-Feature STOP-1).SessionAlive | Should -BeFalse
            $output | Should -BeNullOrEmpty
        }

        It 'keeps the worktree and the branch' {
            Test-Path $created.Path | Should -BeTrue
            Test-GitBranch -Path $repo -Name $created.Branch | Should -BeTrue
            (Get-Feature STOP-1).State | Should -Be 'Ok'
        }
    }

    Context 'tickets where one is a prefix of the other' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'prefix-repo'
            Push-Location $repo
            $null = New-Feature ABC-12 'Short'
            $null = New-Feature ABC-123 'Long'
            Stop-Feature ABC-12
        }

        AfterAll {
            Pop-Location
        }

        It 'stops only the exact ticket' {
            Test-TmuxSession -Socket $Socket -Name 'ABC-12' | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'ABC-123' | Should -BeTrue
            (Get-Feature ABC-123).SessionAlive | Should -BeTrue
        }
    }

    Context 'processes in the panes, including ones that ignore SIGHUP and SIGTERM' {
        BeforeAll {
            $config = @'
@{
    Windows = @(
        @{ Name = 'shell' }
        @{ Name = 'stubborn'; Command = 'sh -c ''trap "" HUP TERM; sleep 600''' }
        @{ Name = 'background'; Command = 'nohup sleep 601 >/dev/null 2>&1 &' }
    )
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'process-repo' -Config $config
            Push-Location $repo
            $null = New-Feature PROC-1 'Processes'

            # Both sleeps must run before their ids are recorded.
            Wait-Until -TimeoutSec 10 -Because 'both sleep processes to start' {
                $sleeps = Get-TmuxPaneProcess -Socket $Socket -Session 'PROC-1' |
                    Where-Object { (Get-ProcessName -Id $_) -eq 'sleep' }
                @($sleeps).Count -eq 2
            }
            $processes = @(Get-TmuxPaneProcess -Socket $Socket -Session 'PROC-1')
            Stop-Feature PROC-1
        }

        AfterAll {
            Pop-Location
        }

        It 'ends the session' {
            Test-TmuxSession -Socket $Socket -Name 'PROC-1' | Should -BeFalse
        }

        It 'ends every pane process and every descendant' {
            $processes.Count | Should -BeGreaterOrEqual 5
            Wait-Until -TimeoutSec 10 -Because "processes $($processes -join ', ') to end" {
                -not ($processes | Where-Object { Test-ProcessAlive -Id $_ })
            }
        }
    }

    Context 'a session that is already gone' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'gone-repo'
            Push-Location $repo
            $null = New-Feature GONE-1 'Gone'
            Invoke-Tmux $Socket kill-session -t '=GONE-1'
        }

        AfterAll {
            Pop-Location
        }

        It 'is not an error' {
            { Stop-Feature GONE-1 -ErrorAction Stop } | Should -Not -Throw
        }
    }

    Context 'no tmux server at all' {
        BeforeAll {
            $noServer = "$Socket-none"
            $env:WORKTREETOOLS_TMUX_SOCKET = $noServer
            $repo = New-TestRepository -Root $TestDrive -Name 'noserver-repo'
            Push-Location $repo
            $null = New-Feature NOSRV-1 'No server' -NoSession
        }

        AfterAll {
            Pop-Location
            Remove-TestTmuxServer -Socket $noServer
            $env:WORKTREETOOLS_TMUX_SOCKET = $Socket
        }

        It 'is not an error' {
            Get-TmuxSession -Socket $noServer | Should -BeNullOrEmpty
            { Stop-Feature NOSRV-1 -ErrorAction Stop } | Should -Not -Throw
        }
    }

    Context '-Remove with work that would be lost' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'lose-repo'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Kind> and destroys nothing' -TestCases @(
            @{ Ticket = 'LOSE-1'; Kind = 'a modified tracked file'; File = 'README.md' }
            @{ Ticket = 'LOSE-2'; Kind = 'an untracked file'; File = 'notes.txt' }
            @{ Ticket = 'LOSE-3'; Kind = 'an ignored .env'; File = '.env' }
        ) {
            param($Ticket, $Kind, $File)
            $feature = New-Feature $Ticket 'Unsaved work'
            Add-Content -Path (Join-Path $feature.Path $File) -Value 'unsaved'

            $thrown = { Stop-Feature $Ticket -Remove -DeleteBranch -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId |
                Should -BeExactly "WorktreeHasUncommittedWork,$Command"
            "$thrown" | Should -BeLike "*$File*"

            Test-Path (Join-Path $feature.Path $File) | Should -BeTrue
            Test-TmuxSession -Socket $Socket -Name $Ticket | Should -BeTrue
            Test-GitBranch -Path $repo -Name $feature.Branch | Should -BeTrue
            Get-GitWorktreePath -Path $repo | Should -Contain $feature.Path
            (Get-Feature $Ticket).State | Should -Be 'Ok'
        }
    }

    Context '-Remove with a .env copied by CopyFiles' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'copy-repo' `
                -Config "@{ CopyFiles = '.env' }"
            Set-Content -Path (Join-Path $repo '.env') -Value 'SECRET=1'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'removes the worktree when the copy is unchanged: the main worktree holds it' {
            $feature = New-Feature COPY-1 'Copied env'
            Test-Path (Join-Path $feature.Path '.env') | Should -BeTrue

            Stop-Feature COPY-1 -Remove -ErrorAction Stop

            Test-Path $feature.Path | Should -BeFalse
        }

        It 'refuses when the copy was changed' {
            $feature = New-Feature COPY-2 'Changed env'
            Add-Content -Path (Join-Path $feature.Path '.env') -Value 'CHANGED=1'

            $thrown = { Stop-Feature COPY-2 -Remove -ErrorAction Stop } | Should -Throw -PassThru

            $thrown.FullyQualifiedErrorId | Should -BeExactly "WorktreeHasUncommittedWork,$Command"
            Test-Path (Join-Path $feature.Path '.env') | Should -BeTrue
        }
    }

    Context '-Remove with only an ignored node_modules folder' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'node-repo'
            Push-Location $repo
            $feature = New-Feature NODE-1 'Rebuildable'
            $package = Join-Path $feature.Path 'node_modules/left-pad'
            $null = New-Item -ItemType Directory -Path $package -Force
            Set-Content -Path (Join-Path $package 'index.js') -Value 'module.exports = 1'
            Stop-Feature NODE-1 -Remove -ErrorVariable failure -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'removes the worktree' {
            $failure | Should -BeNullOrEmpty
            Test-Path $feature.Path | Should -BeFalse
            Get-GitWorktreePath -Path $repo | Should -Not -Contain $feature.Path
            Get-Feature | Should -BeNullOrEmpty
        }

        It 'keeps the branch without -DeleteBranch' {
            Test-GitBranch -Path $repo -Name $feature.Branch | Should -BeTrue
        }
    }

    Context '-Remove -Force' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'force-repo'
            Push-Location $repo
            $feature = New-Feature FORCE-1 'Throw it away'
            Add-Content -Path (Join-Path $feature.Path 'README.md') -Value 'lost'
            Set-Content -Path (Join-Path $feature.Path '.env') -Value 'lost'
            Stop-Feature FORCE-1 -Remove -Force -ErrorVariable failure `
                -ErrorAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'removes the worktree with its changes' {
            $failure | Should -BeNullOrEmpty
            Test-Path $feature.Path | Should -BeFalse
            Get-GitWorktreePath -Path $repo | Should -Not -Contain $feature.Path
            Test-TmuxSession -Socket $Socket -Name 'FORCE-1' | Should -BeFalse
        }
    }

    Context "-Remove next to another feature's stale worktree" {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'stale-repo'
            Push-Location $repo
            $kept = New-Feature KEEP-1 'Removed normally' -NoSession
            $stale = New-Feature STALE-1 'Folder deleted' -NoSession
            Remove-Item $stale.Path -Recurse -Force
            Stop-Feature KEEP-1 -Remove

            # One porcelain block per worktree; the stale one must still be there.
            $blocks = (Invoke-Git $repo worktree list --porcelain) -join "`n" -split "`n`n"
        }

        AfterAll {
            Pop-Location
        }

        It 'removes only its own registration' {
            $blocks | Where-Object { $_ -like "worktree $($kept.Path)`n*" } | Should -BeNullOrEmpty
            $staleBlock = $blocks | Where-Object { $_ -like "worktree $($stale.Path)`n*" }
            $staleBlock | Should -HaveCount 1
            $staleBlock | Should -BeLike '*prunable*'
        }
    }

    Context '-DeleteBranch on a branch merged into the base' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'merged-repo'
            Push-Location $repo
            $feature = New-Feature MERGED-1 'Merged' -NoSession
            $null = New-TestCommit -Path $feature.Path -File 'done.txt'
            $null = Invoke-Git $repo merge -q --ff-only $feature.Branch
            $null = Invoke-Git $repo push -q origin main
            Stop-Feature MERGED-1 -Remove -DeleteBranch -WarningVariable warnings
        }

        AfterAll {
            Pop-Location
        }

        It 'removes the worktree and deletes the branch' {
            Test-Path $feature.Path | Should -BeFalse
            Test-GitBranch -Path $repo -Name $feature.Branch | Should -BeFalse
            $warnings | Should -BeNullOrEmpty
        }
    }

    Context '-DeleteBranch on a branch with unpushed commits' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'unpushed-repo'
            Push-Location $repo
            $feature = New-Feature UNPUSHED-1 'Unpushed' -NoSession
            $null = New-TestCommit -Path $feature.Path -File 'one.txt'
            $tip = New-TestCommit -Path $feature.Path -File 'two.txt'
            Stop-Feature UNPUSHED-1 -Remove -DeleteBranch -WarningVariable warnings `
                -WarningAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It 'removes the worktree but keeps the branch and its commits' {
            Test-Path $feature.Path | Should -BeFalse
            Test-GitBranch -Path $repo -Name $feature.Branch | Should -BeTrue
            Invoke-Git $repo rev-parse $feature.Branch | Should -BeExactly $tip
        }

        It 'warns with the number of commits' {
            $warnings | Should -HaveCount 1
            "$($warnings[0])" | Should -BeLike "*$($feature.Branch)*"
            "$($warnings[0])" | Should -BeLike '*2 commit*'
        }
    }

    Context 'a worktree switched to another branch' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'switched-repo'
            Push-Location $repo
            $feature = New-Feature SWITCH-1 'Switched' -NoSession
            $null = Invoke-Git $feature.Path switch -q -c other
            $otherTip = New-TestCommit -Path $feature.Path -File 'other.txt'
            Stop-Feature SWITCH-1 -Remove -DeleteBranch -WarningAction SilentlyContinue
        }

        AfterAll {
            Pop-Location
        }

        It "never deletes the branch the user switched to" {
            Test-Path $feature.Path | Should -BeFalse
            Test-GitBranch -Path $repo -Name 'other' | Should -BeTrue
            Invoke-Git $repo rev-parse other | Should -BeExactly $otherTip
        }
    }

    Context '-DeleteBranch without -Remove' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'noremove-repo'
            Push-Location $repo
            $feature = New-Feature NOREM-1 'Still here'
        }

        AfterAll {
            Pop-Location
        }

        It 'fails with DeleteBranchWithoutRemove and stops nothing' {
            $thrown = { Stop-Feature NOREM-1 -DeleteBranch -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "DeleteBranchWithoutRemove,$Command"
            Test-TmuxSession -Socket $Socket -Name 'NOREM-1' | Should -BeTrue
            Test-GitBranch -Path $repo -Name $feature.Branch | Should -BeTrue
        }
    }

    Context '-WhatIf' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'whatif-repo'
            Push-Location $repo
            $feature = New-Feature WHATIF-1 'Keep everything'
            $output = Stop-Feature WHATIF-1 -Remove -DeleteBranch -Force -PassThru -WhatIf
        }

        AfterAll {
            Pop-Location
        }

        It 'destroys nothing' {
            $output | Should -BeNullOrEmpty
            Test-TmuxSession -Socket $Socket -Name 'WHATIF-1' | Should -BeTrue
            Test-Path $feature.Path | Should -BeTrue
            Test-GitBranch -Path $repo -Name $feature.Branch | Should -BeTrue
            (Get-Feature WHATIF-1).State | Should -Be 'Ok'
        }
    }

    Context 'features from the pipeline' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'pipe-repo'
            Push-Location $repo
            $null = New-Feature PIPE-1 'One'
            $null = New-Feature PIPE-2 'Two'
            $null = New-Feature LIVE-1 'Untouched'
            Get-Feature 'PIPE-*' | Stop-Feature
        }

        AfterAll {
            Pop-Location
        }

        It 'stops each piped feature and nothing else' {
            Test-TmuxSession -Socket $Socket -Name 'PIPE-1' | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'PIPE-2' | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'LIVE-1' | Should -BeTrue
        }
    }

    Context '-PassThru' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'passthru-repo'
            Push-Location $repo
            $null = New-Feature PASS-1 'One'
            $null = New-Feature PASS-2 'Two'
            $output = Stop-Feature 'PASS-*' -PassThru
        }

        AfterAll {
            Pop-Location
        }

        It 'emits the stopped features' {
            $output.Ticket | Should -Be @('PASS-1', 'PASS-2')
            foreach ($feature in $output) {
                $feature.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.Feature'
                $feature.SessionAlive | Should -BeFalse
            }
        }
    }

    Context 'objects with a Ticket property from the pipeline' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'property-repo'
            Push-Location $repo
            $null = New-Feature PROP-1 'One'
            $null = New-Feature PROP-2 'Two'
            [pscustomobject]@{ Ticket = 'PROP-1' } | Stop-Feature
        }

        AfterAll {
            Pop-Location
        }

        It 'binds Ticket by property name and stops only that feature' {
            Test-TmuxSession -Socket $Socket -Name 'PROP-1' | Should -BeFalse
            Test-TmuxSession -Socket $Socket -Name 'PROP-2' | Should -BeTrue
        }
    }

    Context 'a worktree that New-Feature did not make' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'foreign-repo'
            Push-Location $repo
            $foreign = Join-Path $TestDrive 'foreign-repo/hand-made'
            Invoke-Git $repo worktree add -q -b hand-made $foreign
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Which> from Get-Feature -All with NotAFeature' -TestCases @(
            @{ Which = 'the main worktree'; Filter = { $_.IsMain } }
            @{ Which = 'a worktree made by git'; Filter = { -not $_.IsMain } }
        ) {
            param($Which, $Filter)
            $target = Get-Feature -All | Where-Object $Filter
            $target | Should -HaveCount 1
            $null = $target | Stop-Feature -Remove -Force -ErrorVariable failure `
                -ErrorAction SilentlyContinue
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "NotAFeature,$Command"
            Test-Path $target.Path | Should -BeTrue
            Get-GitWorktreePath -Path $repo | Should -HaveCount 2
        }
    }

    Context '-Remove on a locked worktree' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'locked-repo'
            Push-Location $repo
            $feature = New-Feature LOCK-1 'Locked'
            Invoke-Git $repo worktree lock --reason 'on a USB disk' $feature.Path
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses with WorktreeLocked, giving the reason, and stops nothing' {
            $thrown = { Stop-Feature LOCK-1 -Remove -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "WorktreeLocked,$Command"
            "$thrown" | Should -BeLike '*on a USB disk*worktree unlock*'
            Test-TmuxSession -Socket $Socket -Name 'LOCK-1' | Should -BeTrue
            Test-Path $feature.Path | Should -BeTrue
        }

        It 'removes it with -Force' {
            Stop-Feature LOCK-1 -Remove -Force
            Test-Path $feature.Path | Should -BeFalse
            Get-GitWorktreePath -Path $repo | Should -HaveCount 1
        }
    }

    Context '-Remove on a broken worktree' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'broken-repo'
            Push-Location $repo
            $feature = New-Feature BROKE-1 'Broken'
            Set-Content -Path (Join-Path $feature.Path 'work.txt') -Value 'precious'
            Set-Content -Path (Join-Path $feature.Path '.git') -Value 'gitdir: /nonexistent/x'
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses with WorktreeBroken and the repair, even with -Force, stopping nothing' {
            $thrown = { Stop-Feature BROKE-1 -Remove -Force -ErrorAction Stop } |
                Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "WorktreeBroken,$Command"
            "$thrown" | Should -BeLike '*worktree repair*'
            Test-TmuxSession -Socket $Socket -Name 'BROKE-1' | Should -BeTrue
            Get-Content (Join-Path $feature.Path 'work.txt') | Should -BeExactly 'precious'
        }
    }

    Context '-Remove on a worktree folder deleted by hand' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'missing-repo'
            Push-Location $repo
            $feature = New-Feature GONE-1 'Gone' -NoSession
            Remove-Item $feature.Path -Recurse -Force
            Stop-Feature GONE-1 -Remove
        }

        AfterAll {
            Pop-Location
        }

        It "forgets the feature and removes the worktree's registration" {
            Get-Feature | Should -BeNullOrEmpty
            Get-GitWorktreePath -Path $repo | Should -HaveCount 1
        }
    }

    Context '-Remove while a job of the feature runs in another runspace' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'job-repo' `
                -Config '@{ Agent = $null }'
            Push-Location $repo
            $feature = New-Feature JOBS-1 'With a job'
            $null = New-Feature JOBS-2 'Bystander' -NoSession

            # A job whose shell has a child of its own, as the trial's 'sh -c' job had.
            $ps = [powershell]::Create()
            $null = $ps.AddScript({
                    param($Module, $Repository)
                    Import-Module $Module
                    Set-Location -LiteralPath $Repository
                    Invoke-FeatureJob -Command 'sleep 30; echo after' -Ticket JOBS-1 `
                        -MaxLoad 0 -Retries 2
                }.ToString())
            $null = $ps.AddArgument($env:WORKTREETOOLS_MODULE).AddArgument($repo)
            $invocation = $ps.BeginInvoke()
            $script:jobProcesses = $null
            Wait-Until -TimeoutSec 15 -Because 'Get-FeatureProcess to show the running job' {
                $script:jobProcesses = @(Get-FeatureProcess JOBS-1 |
                        Where-Object Role -EQ 'command')
                $script:jobProcesses | Where-Object CommandLine -Like '*sleep 30*'
            }
            $jobProcesses = $script:jobProcesses
            Stop-Feature JOBS-1 -Remove -Force -Verbose 4>&1 |
                Tee-Object -Variable verbose | Out-Null
            $stillAlive = @($jobProcesses | Where-Object { Test-ProcessAlive -Id $_.Pid })
            $jobResult = $ps.EndInvoke($invocation)
        }

        AfterAll {
            foreach ($process in $jobProcesses) {
                if (Test-ProcessAlive -Id $process.Pid) {
                    [Diagnostics.Process]::GetProcessById($process.Pid).Kill()
                }
            }
            $ps.Dispose()
            Pop-Location
        }

        It "stops every process of the job before the worktree goes" {
            $jobProcesses.Count | Should -BeGreaterThan 0
            $stillAlive | Should -BeNullOrEmpty
            Test-Path -LiteralPath $feature.Path | Should -BeFalse
            "$verbose" | Should -BeLike '*1 running job*'
        }

        It 'ends the job Cancelled, not failed, and does not retry it' {
            $jobResult | Should -HaveCount 1
            $jobResult[0].Status | Should -Be 'Cancelled'
            $jobResult[0].Reason | Should -BeExactly 'stopped by Stop-Feature'
            $jobResult[0].Attempts | Should -Be 1
        }

        It "leaves another feature alone" {
            (Get-Feature JOBS-2).State | Should -Be 'Ok'
        }
    }
}
