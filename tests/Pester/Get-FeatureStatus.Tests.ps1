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
}
