BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.GetFeatureStatusCommand'
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Get-FeatureStatus' {
    Context 'a clean feature' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'clean-repo'
            Push-Location $repo
            $null = New-Feature CLEAN-1 'Nothing yet'
            $status = Get-FeatureStatus CLEAN-1
        }

        AfterAll {
            Pop-Location
        }

        It 'emits a WorktreeTools.FeatureStatus' {
            $status | Should -HaveCount 1
            $status.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureStatus'
            $status.Ticket | Should -BeExactly 'CLEAN-1'
            $status.Branch | Should -BeExactly 'feature/CLEAN-1-nothing-yet'
        }

        It 'reports no changes and no divergence' {
            $status.Dirty | Should -BeFalse
            $status.Modified | Should -Be 0
            $status.Untracked | Should -Be 0
            $status.Conflicted | Should -Be 0
            $status.AheadOfBase | Should -Be 0
            $status.BehindBase | Should -Be 0
            $status.Upstream | Should -BeNullOrEmpty
            $status.Failed | Should -BeFalse
        }

        It 'reports the last commit' {
            $status.LastCommit.Sha | Should -BeExactly (Invoke-Git $repo rev-parse origin/main)
            $status.LastCommit.Subject | Should -BeExactly 'Initial commit'
            $status.LastCommit.Author | Should -BeExactly 'Pester Tester'
        }

        It 'reports the session and its windows' {
            $status.SessionAlive | Should -BeTrue
            $status.Windows | Should -Be @('editor', 'server', 'tests', 'ai')
        }
    }

    Context 'commits on the feature branch' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'ahead-repo'
            Push-Location $repo
            $feature = New-Feature AHEAD-1 'Two commits' -NoSession
            $null = New-TestCommit -Path $feature.Path -File 'one.txt' -Message 'First change'
            $last = New-TestCommit -Path $feature.Path -File 'two.txt' -Message 'Second change'
            $status = Get-FeatureStatus AHEAD-1
        }

        AfterAll {
            Pop-Location
        }

        It 'counts them as AheadOfBase' {
            $status.AheadOfBase | Should -Be 2
            $status.BehindBase | Should -Be 0
            $status.Dirty | Should -BeFalse
        }

        It 'reports the newest as LastCommit' {
            $status.LastCommit.Sha | Should -BeExactly $last
            $status.LastCommit.Subject | Should -BeExactly 'Second change'
        }
    }

    Context "new commits on origin's default branch" {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'behind-repo' -DefaultBranch 'trunk'
            Push-Location $repo
            $null = New-Feature BEHIND-1 'Left behind' -NoSession
            $null = New-TestCommit -Path $repo -File 'upstream.txt'
            $null = Invoke-Git $repo push -q origin trunk
            $null = Invoke-Git $repo fetch -q origin
            $status = Get-FeatureStatus BEHIND-1
        }

        AfterAll {
            Pop-Location
        }

        It 'counts them as BehindBase' {
            $status.Base | Should -BeExactly 'origin/trunk'
            $status.BehindBase | Should -Be 1
            $status.AheadOfBase | Should -Be 0
        }
    }

    Context 'modified and untracked files' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'dirty-repo'
            Push-Location $repo
            $feature = New-Feature DIRTY-1 'Messy' -NoSession
            Add-Content -Path (Join-Path $feature.Path 'README.md') -Value 'changed'
            Set-Content -Path (Join-Path $feature.Path 'new-1.txt') -Value 'new'
            $null = New-Item -ItemType Directory -Path (Join-Path $feature.Path 'sub')
            Set-Content -Path (Join-Path $feature.Path 'sub/new-2.txt') -Value 'new'
            Set-Content -Path (Join-Path $feature.Path '.env') -Value 'ignored'
            $status = Get-FeatureStatus DIRTY-1
        }

        AfterAll {
            Pop-Location
        }

        It 'counts them, leaving ignored files out' {
            $status.Modified | Should -Be 1
            $status.Untracked | Should -Be 2
            $status.Conflicted | Should -Be 0
            $status.Dirty | Should -BeTrue
        }
    }

    Context 'a merge conflict' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'conflict-repo'
            Push-Location $repo
            $feature = New-Feature CONF-1 'Conflict' -NoSession
            $null = New-TestCommit -Path $feature.Path -File 'README.md' -Content 'feature side'
            $null = New-TestCommit -Path $repo -File 'README.md' -Content 'main side'
            $null = Invoke-Git $repo push -q origin main
            $null = & git -C $feature.Path merge -q origin/main 2>&1
            $status = Get-FeatureStatus CONF-1
        }

        AfterAll {
            Pop-Location
        }

        It 'counts the conflicted file' {
            Invoke-Git $feature.Path diff --name-only --diff-filter=U |
                Should -BeExactly 'README.md'
            $status.Conflicted | Should -Be 1
            $status.Modified | Should -Be 0
            $status.Dirty | Should -BeTrue
        }
    }

    Context 'a pushed branch with an upstream' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'upstream-repo'
            Push-Location $repo
            $feature = New-Feature UP-1 'Pushed' -NoSession
            $null = New-TestCommit -Path $feature.Path -File 'pushed.txt'
            $null = Invoke-Git $feature.Path push -q -u origin $feature.Branch
            $null = New-TestCommit -Path $feature.Path -File 'not-pushed.txt'
            $status = Get-FeatureStatus UP-1
        }

        AfterAll {
            Pop-Location
        }

        It 'reports the upstream and the commits not pushed' {
            $status.Upstream | Should -BeExactly "origin/$($feature.Branch)"
            $status.AheadOfUpstream | Should -Be 1
            $status.BehindUpstream | Should -Be 0
            $status.AheadOfBase | Should -Be 2
        }
    }

    Context 'features from the pipeline' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'pipe-repo'
            Push-Location $repo
            $null = New-Feature PIPE-1 'One' -NoSession
            $null = New-Feature PIPE-2 'Two' -NoSession
            $null = New-Feature OTHER-1 'Other' -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'reads the features Get-Feature sends' {
            $statuses = Get-Feature 'PIPE-*' | Get-FeatureStatus
            $statuses.Ticket | Should -Be @('PIPE-1', 'PIPE-2')
            $statuses | ForEach-Object {
                $_.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureStatus'
            }
        }

        It 'reads every feature without a ticket' {
            (Get-FeatureStatus).Ticket | Should -Be @('OTHER-1', 'PIPE-1', 'PIPE-2')
        }
    }

    Context 'a feature whose worktree folder was deleted' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'failed-repo'
            Push-Location $repo
            $null = New-Feature FINE-1 'Fine' -NoSession
            $gone = New-Feature GONE-1 'Gone' -NoSession
            Remove-Item $gone.Path -Recurse -Force
            $statuses = Get-FeatureStatus
        }

        AfterAll {
            Pop-Location
        }

        It 'still reports every feature' {
            $statuses.Ticket | Should -Be @('FINE-1', 'GONE-1')
        }

        It 'marks it Failed with a reason' {
            $failed = $statuses | Where-Object Failed
            $failed.Ticket | Should -BeExactly 'GONE-1'
            $failed.FailedReason | Should -BeLike "*$($gone.Path)*"
        }
    }

    Context 'names and contents with non-ASCII characters' {
        BeforeAll {
            $root = Join-Path $TestDrive 'dépôt-文档'
            $repo = New-TestRepository -Root $root -Name 'naïve-repo'
            Push-Location $repo
            $feature = New-Feature UNI-1 'Unicode' -NoSession
            $null = New-TestCommit -Path $feature.Path -File 'résumé.md' -Content 'première' `
                -Message 'Ajouté le café ☕'
            Set-Content -Path (Join-Path $feature.Path 'résumé.md') -Value 'deuxième 文档'
            Set-Content -Path (Join-Path $feature.Path 'café-文档.txt') -Value 'naïve 文档'
            $status = Get-FeatureStatus UNI-1
        }

        AfterAll {
            Pop-Location
        }

        It 'counts the modified and the untracked file' {
            $status.Modified | Should -Be 1
            $status.Untracked | Should -Be 1
            $status.Failed | Should -BeFalse
        }

        It 'keeps the commit subject intact' {
            $status.LastCommit.Subject | Should -BeExactly 'Ajouté le café ☕'
            $status.AheadOfBase | Should -Be 1
        }
    }

    Context 'an unknown ticket' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'unknown-repo'
            Push-Location $repo
            $null = New-Feature KNOWN-1 'Known' -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'writes a non-terminating FeatureNotFound' {
            $statuses = Get-FeatureStatus 'NOPE-1', 'KNOWN-1' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
            $statuses.Ticket | Should -BeExactly 'KNOWN-1'
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "FeatureNotFound,$Command"
        }
    }

    Context 'pull requests from the GitHub CLI' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'pr-repo'
            Push-Location $repo
            $open = New-Feature PR-1 'Has one'
            $null = New-Feature PR-2 'Has none' -NoSession
            $switched = New-Feature PR-3 'Switched away' -NoSession
            $null = Invoke-Git $switched.Path switch -q -c 'feature/PR-3-elsewhere'

            # The fake gh lists the pull requests of PR-1's and PR-3's own branches, and one
            # for the branch PR-3's worktree has now, which must not be taken for PR-3's.
            $fakeGh = Join-Path (Split-Path $PSScriptRoot) 'FakeGh'
            $json = Join-Path $TestDrive 'pulls.json'
            $pulls = @(
                @{ number = 41; title = 'Has one'; url = 'https://example.test/41'
                    state = 'OPEN'; isDraft = $false; headRefName = $open.Branch
                    isCrossRepository = $false; reviewDecision = 'APPROVED'
                    statusCheckRollup = @(
                        @{ status = 'COMPLETED'; conclusion = 'SUCCESS' }
                        @{ status = 'COMPLETED'; conclusion = 'FAILURE' }
                    )
                }
                @{ number = 42; title = 'Merged'; url = 'https://example.test/42'
                    state = 'MERGED'; isDraft = $false; headRefName = $switched.Branch
                    isCrossRepository = $false; reviewDecision = ''; statusCheckRollup = @()
                }
                @{ number = 43; title = 'Not the feature'; url = 'https://example.test/43'
                    state = 'OPEN'; isDraft = $false; headRefName = 'feature/PR-3-elsewhere'
                    isCrossRepository = $false; reviewDecision = ''; statusCheckRollup = @()
                }
            )
            ConvertTo-Json -InputObject $pulls -Depth 5 | Set-Content -Path $json
            $savedPath = $env:PATH
            $env:PATH = "$fakeGh$([IO.Path]::PathSeparator)$env:PATH"
            $env:FAKE_GH_JSON = $json
            $env:FAKE_GH_LOG = Join-Path $TestDrive 'gh.log'
        }

        AfterAll {
            $env:PATH = $savedPath
            Remove-Item Env:FAKE_GH_JSON, Env:FAKE_GH_LOG, Env:FAKE_GH_MODE `
                -ErrorAction SilentlyContinue
            Pop-Location
        }

        BeforeEach {
            Remove-Item $env:FAKE_GH_LOG -ErrorAction SilentlyContinue
            $env:FAKE_GH_MODE = 'list'
        }

        It 'gives each feature the pull request of its own branch, from one call' {
            $statuses = Get-FeatureStatus PR-*
            $byTicket = @{}
            $statuses | ForEach-Object { $byTicket[$_.Ticket] = $_.PullRequest }

            $byTicket['PR-1'].State | Should -Be 'Open'
            $byTicket['PR-1'].Number | Should -Be 41
            $byTicket['PR-1'].Url | Should -BeExactly 'https://example.test/41'
            $byTicket['PR-1'].Review | Should -BeExactly 'Approved'
            $byTicket['PR-1'].Checks | Should -BeExactly '1 passed, 1 failed'
            $byTicket['PR-2'].State | Should -Be 'None'
            $byTicket['PR-3'].State | Should -Be 'Merged'
            $byTicket['PR-3'].Number | Should -Be 42
            $calls = @(Get-Content $env:FAKE_GH_LOG)
            $calls | Should -HaveCount 1
            $calls[0] | Should -BeLike 'args: `[pr`] `[list`]*'
        }

        It 'asks for the branches of the features not in a full list, one by one' {
            # A full list (300, the most one call lists) of newer pull requests of other
            # branches; PR-2's is older, and only a call for its branch finds it.
            $full = Join-Path $TestDrive 'full.json'
            $newer = foreach ($n in 1..300) {
                @{ number = 1000 + $n; state = 'OPEN'; headRefName = "other/$n"
                    isCrossRepository = $false }
            }
            ConvertTo-Json -InputObject @($newer) -Depth 3 | Set-Content -Path $full
            $own = Join-Path $TestDrive 'own.json'
            ConvertTo-Json -Depth 3 -InputObject @(
                @{ number = 7; state = 'CLOSED'; headRefName = 'feature/PR-2-has-none'
                    isCrossRepository = $false }
            ) | Set-Content -Path $own
            $env:FAKE_GH_JSON, $listing = $full, $env:FAKE_GH_JSON
            $env:FAKE_GH_HEAD_JSON = $own
            try {
                $statuses = Get-FeatureStatus PR-*
            } finally {
                $env:FAKE_GH_JSON = $listing
                Remove-Item Env:FAKE_GH_HEAD_JSON
            }

            $byTicket = @{}
            $statuses | ForEach-Object { $byTicket[$_.Ticket] = $_.PullRequest }
            $byTicket['PR-2'].State | Should -Be 'Closed'
            $byTicket['PR-2'].Number | Should -Be 7
            $byTicket['PR-1'].State | Should -Be 'None'
            $byTicket['PR-3'].State | Should -Be 'None'
            $calls = @(Get-Content $env:FAKE_GH_LOG)
            $calls | Should -HaveCount 4
            $calls[1..3] | Should -Match '\[--head=feature/PR-\d-'
        }

        It 'says Unknown with the reason when gh is not logged in, and fills the rest' {
            $env:FAKE_GH_MODE = 'auth'

            $status = Get-FeatureStatus PR-1

            $status.PullRequest.State | Should -Be 'Unknown'
            $status.PullRequest.Reason | Should -BeLike '*gh auth login*'
            $status.Branch | Should -BeExactly $open.Branch
            $status.SessionAlive | Should -BeTrue
            $status.Windows | Should -Contain 'editor'
        }

        It 'says Unknown with what gh said when it fails' {
            $env:FAKE_GH_MODE = 'fail'

            (Get-FeatureStatus PR-1).PullRequest.Reason |
                Should -BeLike '*Could not resolve to a Repository*'
        }

        It 'does not ask gh with -NoRemote' {
            $status = Get-FeatureStatus PR-1 -NoRemote

            $status.PullRequest | Should -BeNullOrEmpty
            Test-Path $env:FAKE_GH_LOG | Should -BeFalse
        }

        It 'says Unknown when gh is not installed' {
            # A PATH that holds git and tmux only.
            $bin = Join-Path $TestDrive 'no-gh-bin'
            $null = New-Item -ItemType Directory -Path $bin -Force
            foreach ($tool in 'git', 'tmux') {
                $source = (Get-Command $tool -CommandType Application)[0].Source
                $link = Join-Path $bin $tool
                if (-not (Test-Path $link)) {
                    $null = New-Item -ItemType SymbolicLink -Path $link -Target $source
                }
            }
            $env:PATH, $withGh = $bin, $env:PATH
            try {
                $status = Get-FeatureStatus PR-1
            } finally {
                $env:PATH = $withGh
            }

            $status.PullRequest.State | Should -Be 'Unknown'
            $status.PullRequest.Reason | Should -BeLike '*gh*not installed*'
            $status.SessionAlive | Should -BeTrue
        }
    }

    Context '-Watch without a console' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'watch-repo'
            Push-Location $repo
            $null = New-Feature WATCH-1 'Watched' -NoSession
        }

        AfterAll {
            Pop-Location
        }

        It 'says that -Watch needs a console' {
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddScript({
                        param($Module, $Repository)
                        Import-Module $Module
                        Set-Location -LiteralPath $Repository
                        Get-FeatureStatus -Watch -NoRemote
                    }.ToString()).AddArgument($env:WORKTREETOOLS_MODULE).AddArgument($repo)
                $output = $ps.Invoke()
                $failures = @($ps.Streams.Error)
            } finally {
                $ps.Dispose()
            }
            $output | Should -BeNullOrEmpty
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -BeExactly "WatchNeedsConsole,$Command"
        }
    }

    Context '-Watch on a console' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'watching-repo'
            Push-Location $repo
            $null = New-Feature SEEN-1 'Watched' -NoSession

            # A pwsh in a tmux pane of the private server is a console of a known size.
            $script = Join-Path $TestDrive 'watch.ps1'
            Set-Content -LiteralPath $script -Value @(
                'param($Module, $Repository)'
                'Import-Module $Module'
                'Set-Location -LiteralPath $Repository'
                'Get-FeatureStatus -Watch -Interval 1 -NoRemote'
            )
            $pwsh = Get-PwshCommand
            $null = Invoke-Tmux $Socket new-session -d -s WATCHER -x 150 -y 30 `
                -e "WORKTREETOOLS_TMUX_SOCKET=$Socket" -- @pwsh -NoProfile -File $script `
                $env:WORKTREETOOLS_MODULE $repo
            function Get-Screen {
                (Invoke-Tmux $Socket capture-pane -p -t '=WATCHER:') -join "`n"
            }
        }

        AfterAll {
            $null = Invoke-Tmux $Socket kill-session -t '=WATCHER'
            Pop-Location
        }

        It 'redraws the table in place, with features made since, until Ctrl+C' {
            Wait-Until { (Get-Screen) -match '(?m)^SEEN-1\s' } -TimeoutSec 60 `
                -Because 'the first table'
            $first = [regex]::Match((Get-Screen), '\d\d:\d\d:\d\d').Value
            $null = New-Feature SEEN-2 'Made later' -NoSession

            Wait-Until { (Get-Screen) -match '(?m)^SEEN-2\s' } -TimeoutSec 30 `
                -Because 'a redraw that lists the new feature'
            $screen = Get-Screen
            [regex]::Matches($screen, 'Get-FeatureStatus -Watch') | Should -HaveCount 1
            [regex]::Match($screen, '\d\d:\d\d:\d\d').Value | Should -Not -Be $first
            $screen | Should -Match '(?m)^Ticket\s+Branch\s+Dirty'

            $null = Invoke-Tmux $Socket send-keys -t '=WATCHER:' C-c
            Wait-Until { -not (Test-TmuxSession -Socket $Socket -Name WATCHER) } `
                -TimeoutSec 30 -Because 'pwsh to end after Ctrl+C'
        }
    }

    Context 'the default table' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'table-repo'
            Push-Location $repo
            $null = New-Feature TABLE-1 'A rather long description for a branch name' -NoSession
            $null = Invoke-FeatureJob -Ticket TABLE-1 -Command 'exit 3' `
                -ErrorAction SilentlyContinue
            $lines = Get-FeatureStatus TABLE-1 -NoRemote | Format-Table |
                Out-String -Width 120 -Stream | Where-Object { $_.Trim() }
        }

        AfterAll {
            Pop-Location
        }

        It 'shows the columns a user scans first, within 120 columns' {
            $header = '^Ticket\s+Branch\s+Dirty\s+Base\+/-\s+Up\+/-\s+Session\s+Agent\s+' +
                'LastJobs\s+Failed'
            $lines[0] | Should -Match $header
            $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 120 }
            $lines[2] | Should -BeLike '*command:FAIL*'
        }
    }
}
