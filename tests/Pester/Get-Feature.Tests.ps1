BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.GetFeatureCommand'
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Get-Feature' {
    Context 'several features' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'list-repo'
            Push-Location $repo
            $null = New-Feature ABC-1 'Running'
            $null = New-Feature ABC-2 'Never started' -NoSession
            $null = New-Feature XYZ-1 'Killed'
            Invoke-Tmux $Socket kill-session -t '=XYZ-1'
        }

        AfterAll {
            Pop-Location
        }

        It 'lists every feature as a WorktreeTools.Feature' {
            $features = Get-Feature
            $features.Ticket | Should -Be @('ABC-1', 'ABC-2', 'XYZ-1')
            foreach ($feature in $features) {
                $feature.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.Feature'
                $feature.IsManaged | Should -BeTrue
                $feature.State | Should -Be 'Ok'
            }
        }

        It "selects tickets by wildcard ('ABC-*')" {
            (Get-Feature 'ABC-*').Ticket | Should -Be @('ABC-1', 'ABC-2')
        }

        It 'selects a ticket by its exact name' {
            (Get-Feature 'ABC-1').Ticket | Should -BeExactly 'ABC-1'
        }

        It 'writes a non-terminating FeatureNotFound for an unknown literal ticket' {
            $found = Get-Feature 'NOPE-1', 'ABC-1' -ErrorVariable failure `
                -ErrorAction SilentlyContinue
            $found.Ticket | Should -BeExactly 'ABC-1'
            $failure | Should -HaveCount 1
            $failure[0].FullyQualifiedErrorId | Should -BeExactly "FeatureNotFound,$Command"
            $failure[0].TargetObject | Should -BeExactly 'NOPE-1'
        }

        It 'writes no error for a wildcard that matches nothing' {
            $found = Get-Feature 'NOPE-*' -ErrorVariable failure
            $found | Should -BeNullOrEmpty
            $failure | Should -BeNullOrEmpty
        }

        It 'reports SessionAlive <Alive> for <Ticket>' -TestCases @(
            @{ Ticket = 'ABC-1'; Alive = $true }
            @{ Ticket = 'ABC-2'; Alive = $false }
            @{ Ticket = 'XYZ-1'; Alive = $false }
        ) {
            param($Ticket, $Alive)
            (Get-Feature $Ticket).SessionAlive | Should -Be $Alive
        }

        It 'completes tickets with Tab' {
            $completion = TabExpansion2 -inputScript 'Get-Feature AB' -cursorColumn 14
            $completion.CompletionMatches.CompletionText | Should -Be @('ABC-1', 'ABC-2')
        }
    }

    Context 'a worktree folder deleted by hand' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'missing-repo'
            Push-Location $repo
            $created = New-Feature MISS-1 'Gone' -NoSession
            Remove-Item $created.Path -Recurse -Force
            $feature = Get-Feature MISS-1
        }

        AfterAll {
            Pop-Location
        }

        It 'reports State Missing with a reason' {
            $feature.State | Should -Be 'Missing'
            $feature.Reason | Should -BeLike "*$($created.Path)*"
        }

        It 'offers New-Feature as the repair' {
            $feature.RepairCommand | Should -BeExactly 'New-Feature MISS-1'
        }
    }

    Context 'a broken link between worktree and repository' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'broken-repo'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'reports State Broken when the .git file is <Damage>' -TestCases @(
            @{ Ticket = 'BRK-1'; Damage = 'deleted'; Content = $null }
            @{ Ticket = 'BRK-2'; Damage = 'corrupted'; Content = 'this is not a gitdir line' }
            @{ Ticket = 'BRK-3'; Damage = 'pointing nowhere'; Content = 'gitdir: /nonexistent/x' }
        ) {
            param($Ticket, $Damage, $Content)
            $created = New-Feature $Ticket 'Break it' -NoSession
            $link = Join-Path $created.Path '.git'
            if ($null -eq $Content) {
                Remove-Item $link -Force
            } else {
                Set-Content -Path $link -Value $Content
            }

            $feature = Get-Feature $Ticket
            $feature.State | Should -Be 'Broken'
            $feature.Reason | Should -Not -BeNullOrEmpty
            $feature.RepairCommand | Should -BeLike '*git*worktree repair*'
        }
    }

    Context 'a feature record that cannot be read' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'bad-record-repo'
            Push-Location $repo
            $null = New-Feature REC-1 'Fine' -NoSession
            $null = New-Feature REC-2 'Corrupt' -NoSession
            $null = New-Feature REC-3 'Fine too' -NoSession
            $common = Invoke-Git $repo rev-parse --path-format=absolute --git-common-dir
            $record = Join-Path $common 'worktreetools/features/REC-2.json'
            Set-Content -LiteralPath $record -Value '{not json'
            $features = @(Get-Feature -ErrorVariable listErrors)
        }

        AfterAll {
            Pop-Location
        }

        It 'still lists the other features, without an error' {
            $listErrors | Should -BeNullOrEmpty
            $features.Ticket | Should -Be @('REC-1', 'REC-2', 'REC-3')
            ($features | Where-Object Ticket -NE 'REC-2').State | Should -Be @('Ok', 'Ok')
        }

        It 'shows the bad one as Broken, naming the file and what to do' {
            $bad = $features | Where-Object Ticket -EQ 'REC-2'
            $bad.State | Should -Be 'Broken'
            $bad.Reason | Should -BeLike "*'$record' cannot be read*fix the JSON by hand*"
            $bad.Reason | Should -Not -BeLike '*..*'
            $bad.RepairCommand | Should -BeLike "Move-Item -LiteralPath '$record'*"
        }

        It 'never deletes or rewrites the file' {
            Get-Content -LiteralPath $record | Should -BeExactly '{not json'
        }

        It 'lists it in Get-FeatureStatus as failed, and the others as they are' {
            $status = @(Get-FeatureStatus)
            $status.Ticket | Should -Be @('REC-1', 'REC-2', 'REC-3')
            ($status | Where-Object Ticket -EQ 'REC-2').Failed | Should -BeTrue
        }

        It '<Command> on that ticket fails with FeatureStateUnreadable' -TestCases @(
            @{ Command = 'Stop-Feature'; Line = { Stop-Feature REC-2 -Remove -Confirm:$false } }
            @{ Command = 'Get-Feature | Stop-Feature'; Line = { Get-Feature REC-2 | Stop-Feature } }
            @{ Command = 'New-Feature'; Line = { New-Feature REC-2 -NoSession } }
            @{
                Command = 'Invoke-FeatureJob'
                Line    = { Invoke-FeatureJob -Command true -Ticket REC-2 }
            }
        ) {
            param($Command, $Line)
            try {
                $failure = @(& $Line 2>&1 |
                        Where-Object { $_ -is [Management.Automation.ErrorRecord] })
            } catch {
                $failure = $_
            }
            @($failure)[0].FullyQualifiedErrorId | Should -BeLike 'FeatureStateUnreadable,*'
            "$(@($failure)[0])" | Should -BeLike "*'REC-2'*$record*"
            Get-Content -LiteralPath $record | Should -BeExactly '{not json'
        }
    }

    Context 'a locked worktree' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'locked-repo'
            Push-Location $repo
            $created = New-Feature LCK-1 'Locked' -NoSession
            $null = Invoke-Git $repo worktree lock --reason 'on a removable disk' $created.Path
            $feature = Get-Feature LCK-1
        }

        AfterAll {
            Pop-Location
        }

        It 'reports State Locked with the reason' {
            $feature.State | Should -Be 'Locked'
            $feature.Reason | Should -BeLike '*on a removable disk*'
            $feature.RepairCommand | Should -BeLike '*worktree unlock*'
        }
    }

    Context '-All' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'all-repo'
            $byHand = Join-Path $TestDrive 'all-repo/by-hand'
            $detached = Join-Path $TestDrive 'all-repo/detached'
            $null = Invoke-Git $repo worktree add -q -b hand-made $byHand origin/main
            $null = Invoke-Git $repo worktree add -q --detach $detached origin/main
            Push-Location $repo
            $null = New-Feature ALL-1 'Managed' -NoSession
            $features = Get-Feature -All
        }

        AfterAll {
            Pop-Location
        }

        It 'lists only managed features without -All' {
            (Get-Feature).Ticket | Should -BeExactly 'ALL-1'
        }

        It 'includes the main worktree' {
            $main = $features | Where-Object IsMain
            $main | Should -HaveCount 1
            $main.Path | Should -BeExactly $repo
            $main.Branch | Should -BeExactly 'main'
            $main.IsManaged | Should -BeFalse
            $main.Ticket | Should -BeNullOrEmpty
        }

        It 'includes a worktree made with git worktree add' {
            $other = $features | Where-Object Path -EQ $byHand
            $other | Should -HaveCount 1
            $other.Branch | Should -BeExactly 'hand-made'
            $other.IsManaged | Should -BeFalse
            $other.State | Should -Be 'Ok'
        }

        It 'includes a detached worktree' {
            $other = $features | Where-Object Path -EQ $detached
            $other | Should -HaveCount 1
            $other.IsDetached | Should -BeTrue
            $other.Head | Should -BeExactly (Invoke-Git $repo rev-parse origin/main)
        }

        It 'includes the managed feature once, as managed' {
            $managed = $features | Where-Object IsManaged
            $managed.Ticket | Should -BeExactly 'ALL-1'
            $features | Should -HaveCount 4
            $features | ForEach-Object {
                $_.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.Feature'
            }
        }
    }

    Context '-All in a bare repository' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'bare-repo'
            $bare = Join-Path $TestDrive 'bare-repo/bare.git'
            $linked = Join-Path $TestDrive 'bare-repo/linked'
            $null = Invoke-Git $TestDrive clone -q --bare $repo $bare
            $null = Invoke-Git $bare worktree add -q -b linked $linked
            Push-Location $bare
            $features = Get-Feature -All
        }

        AfterAll {
            Pop-Location
        }

        It 'lists the bare entry and its linked worktree' {
            $features | Should -HaveCount 2
            $entry = $features | Where-Object IsBare
            $entry.Path | Should -BeExactly $bare
            $entry.IsManaged | Should -BeFalse
            ($features | Where-Object Path -EQ $linked).Branch | Should -BeExactly 'linked'
        }

        It 'reports the bare entry as not failed in Get-FeatureStatus' {
            $statuses = $features | Get-FeatureStatus
            $statuses | Should -HaveCount 2
            $statuses | ForEach-Object { $_.Failed | Should -BeFalse }
        }
    }
}
