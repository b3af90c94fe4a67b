BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.GetFeatureConfigCommand'
    $Keys = @('WorktreeRoot', 'BranchTemplate', 'Base', 'Windows', 'CopyFiles', 'Setup', 'Jobs')
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Get-FeatureConfig' {
    Context 'a repository without a configuration file' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'default-repo'
            Push-Location $repo
            $entries = Get-FeatureConfig
            $byKey = @{}
            $entries | ForEach-Object { $byKey[$_.Key] = $_ }
        }

        AfterAll {
            Pop-Location
        }

        It 'emits one WorktreeTools.FeatureConfigEntry per documented key, in order' {
            # Later keys may be added; the documented ones keep their order.
            @($entries.Key | Where-Object { $_ -in $Keys }) | Should -Be $Keys
            $entries.Key | Select-Object -Unique | Should -HaveCount $entries.Count
            foreach ($entry in $entries) {
                $entry.PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.FeatureConfigEntry'
            }
        }

        It "gives every value the source 'default'" {
            $entries.Source | Select-Object -Unique | Should -BeExactly 'default'
        }

        It 'holds the documented defaults' {
            $byKey.WorktreeRoot.Value | Should -BeExactly '../worktrees'
            $byKey.BranchTemplate.Value | Should -BeExactly 'feature/{Ticket}-{Description}'
            $byKey.Base.Value | Should -BeNullOrEmpty
            $byKey.Windows.Value.Name | Should -Be @('editor', 'server', 'tests', 'ai')
            $byKey.CopyFiles.Value | Should -BeNullOrEmpty
            $byKey.Setup.Value | Should -BeNullOrEmpty
            $byKey.Jobs.Value.Count | Should -Be 0
        }

        It 'selects keys by name and wildcard' {
            (Get-FeatureConfig Windows).Key | Should -BeExactly 'Windows'
            (Get-FeatureConfig 'B*').Key | Should -Be @('BranchTemplate', 'Base')
        }

        It 'writes ConfigKeyNotFound for a key that does not exist, and shows the others' {
            $entries = Get-FeatureConfig 'Nope', 'Setup' -ErrorVariable failures `
                -ErrorAction SilentlyContinue
            $entries.Key | Should -BeExactly 'Setup'
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId |
                Should -BeExactly 'ConfigKeyNotFound,WorktreeTools.Commands.GetFeatureConfigCommand'
            "$($failures[0])" | Should -BeLike "*'Nope'*WorktreeRoot*"
            Get-FeatureConfig 'Nothing*' -ErrorAction Stop | Should -BeNullOrEmpty
        }
    }

    Context 'a repository with a configuration file' {
        BeforeAll {
            $config = @'
@{
    WorktreeRoot = '../trees'
    Base         = 'origin/develop'
    CopyFiles    = @('.env', 'config/*.local.json')
    Setup        = 'npm ci'
    Jobs         = @{ test = 'npm test' }
    Windows      = @(
        @{ Name = 'editor' }
        @{ Name = 'server'; Command = 'npm run dev' }
    )
}
'@
            $repo = New-TestRepository -Root $TestDrive -Name 'file-repo' -Config $config
            $file = Join-Path $repo '.worktreetools.psd1'
            Push-Location $repo
            $byKey = @{}
            Get-FeatureConfig | ForEach-Object { $byKey[$_.Key] = $_ }
        }

        AfterAll {
            Pop-Location
        }

        It 'reads the values' {
            $byKey.WorktreeRoot.Value | Should -BeExactly '../trees'
            $byKey.Base.Value | Should -BeExactly 'origin/develop'
            $byKey.CopyFiles.Value | Should -Be @('.env', 'config/*.local.json')
            $byKey.Setup.Value | Should -BeExactly 'npm ci'
            $byKey.Jobs.Value['test'] | Should -BeExactly 'npm test'
            $byKey.Windows.Value.Name | Should -Be @('editor', 'server')
            $byKey.Windows.Value.Command | Should -Be @($null, 'npm run dev')
        }

        It 'gives the file path as the source of <Key>' -TestCases @(
            @{ Key = 'WorktreeRoot' }
            @{ Key = 'Base' }
            @{ Key = 'CopyFiles' }
            @{ Key = 'Setup' }
            @{ Key = 'Jobs' }
            @{ Key = 'Windows' }
        ) {
            param($Key)
            $byKey[$Key].Source | Should -BeExactly $file
        }

        It "keeps 'default' as the source of keys the file does not set" {
            $byKey.BranchTemplate.Source | Should -BeExactly 'default'
            $byKey.BranchTemplate.Value | Should -BeExactly 'feature/{Ticket}-{Description}'
        }
    }

    Context 'an invalid configuration file' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'invalid-repo'
            $file = Join-Path $repo '.worktreetools.psd1'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Problem> with InvalidConfiguration naming <Key> and the file' -TestCases @(
            @{ Problem = 'an unknown key'; Key = 'Colour'; Text = "@{ Colour = 'red' }" }
            @{ Problem = 'Windows = 5'; Key = 'Windows'; Text = '@{ Windows = 5 }' }
            @{ Problem = "Jobs = 'x'"; Key = 'Jobs'; Text = "@{ Jobs = 'x' }" }
            @{ Problem = 'a number as Setup'; Key = 'Setup'; Text = '@{ Setup = 42 }' }
            @{ Problem = 'a window without a name'; Key = 'Windows.Name'
                Text = "@{ Windows = @(@{ Command = 'top' }) }" }
            @{ Problem = 'a template without {Ticket}'; Key = 'BranchTemplate'
                Text = "@{ BranchTemplate = 'feature/x' }" }
        ) {
            param($Problem, $Key, $Text)
            Set-Content -Path $file -Value $Text
            $thrown = { Get-FeatureConfig -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidConfiguration,$Command"
            "$thrown" | Should -BeLike "*'$Key'*"
            "$thrown" | Should -BeLike "*$file*"
        }

        It 'refuses a file that is not PowerShell data' {
            Set-Content -Path $file -Value '@{ Setup = '
            $thrown = { Get-FeatureConfig -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidConfiguration,$Command"
            "$thrown" | Should -BeLike "*$file*"
        }
    }

    Context 'a configuration file holding code' {
        BeforeAll {
            $repo = New-TestRepository -Root $TestDrive -Name 'code-repo'
            $file = Join-Path $repo '.worktreetools.psd1'
            Push-Location $repo
        }

        AfterAll {
            Pop-Location
        }

        It 'refuses <Shape> and never runs it' -TestCases @(
            @{ Shape = 'a subexpression in a string'
                Text = '@{ Setup = "$(New-Item -ItemType File -Path ''MARKER'')" }' }
            @{ Shape = 'a subexpression as a value'
                Text = '@{ Base = $(New-Item -ItemType File -Path ''MARKER'') }' }
            @{ Shape = 'a command in parentheses'
                Text = '@{ Base = (New-Item -ItemType File -Path ''MARKER'') }' }
            @{ Shape = 'a script block'
                Text = '@{ Setup = { New-Item -ItemType File -Path ''MARKER'' } }' }
            @{ Shape = 'a statement before the hashtable'
                Text = "New-Item -ItemType File -Path 'MARKER'`n@{ Setup = 'x' }" }
        ) {
            param($Shape, $Text)
            $marker = Join-Path $TestDrive "marker-$([guid]::NewGuid().ToString('N'))"
            Set-Content -Path $file -Value $Text.Replace('MARKER', $marker)

            $thrown = { Get-FeatureConfig -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidConfiguration,$Command"
            "$thrown" | Should -BeLike "*$file*"
            Test-Path $marker | Should -BeFalse
        }

        It 'reads nothing from a file that calls Get-Date' {
            Set-Content -Path $file -Value '@{ Setup = "$(Get-Date)"; Base = (Get-Date) }'
            $thrown = { Get-FeatureConfig -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -BeExactly "InvalidConfiguration,$Command"
        }
    }
}
