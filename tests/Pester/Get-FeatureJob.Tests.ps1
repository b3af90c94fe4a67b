BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $JobConfig = "@{ Jobs = @{ test = 'exit 0'; lint = 'exit 1' }; Queue = @{ MaxAttempts = 1 } }"

    function New-QueueRepository {
        # A repository with the job configuration and one feature (no session) per ticket.
        param([string] $Name, [string[]] $Ticket)

        $repo = New-TestRepository -Root $TestDrive -Name $Name -Config $JobConfig
        Push-Location -LiteralPath $repo
        try {
            foreach ($item in $Ticket) {
                $null = New-Feature $item -NoSession
            }
        } finally {
            Pop-Location
        }
        $repo
    }

    function Get-QueueDatabasePath {
        # <git common dir>/worktreetools/queue.db
        param([Parameter(Mandatory)] [string] $Repository)

        $common = Invoke-Git $Repository rev-parse --path-format=absolute --git-common-dir
        Join-Path $common 'worktreetools/queue.db'
    }
}

AfterAll {
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Get-FeatureJob' {
    Context 'a queue with history' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'history' -Ticket 'A-1', 'A-2', 'B-1'
            Push-Location $repo
            $null = Add-FeatureJob lint -Ticket B-1
            $null = Start-FeatureJobRunner -Once -ErrorAction SilentlyContinue
            $null = Add-FeatureJob test
            $null = Add-FeatureJob lint -Ticket A-1
        }

        AfterAll {
            Pop-Location
        }

        It 'lists every entry, finished ones included, by id' {
            $entries = Get-FeatureJob
            $entries | Should -HaveCount 5
            $entries[0].PSObject.TypeNames[0] | Should -BeExactly 'WorktreeTools.QueuedJob'
            $entries.Id | Should -Be ($entries.Id | Sort-Object)
            $entries[0].State | Should -Be 'Failed'
            $entries[0].ExitCode | Should -Be 1
        }

        It 'filters by state, ticket, job and id' -TestCases @(
            @{ Filter = @{ State = 'Queued' }; Expected = 4 }
            @{ Filter = @{ State = 'Failed', 'Succeeded' }; Expected = 1 }
            @{ Filter = @{ Ticket = 'A-*' }; Expected = 3 }
            @{ Filter = @{ Ticket = 'a-1', 'B-1' }; Expected = 4 }
            @{ Filter = @{ Job = 'lint' }; Expected = 2 }
            @{ Filter = @{ Job = 'l*'; Ticket = 'B-1' }; Expected = 1 }
            @{ Filter = @{ State = 'Running' }; Expected = 0 }
        ) {
            @(Get-FeatureJob @Filter) | Should -HaveCount $Expected
        }

        It 'takes the state as its first argument' {
            (Get-FeatureJob Failed).Ticket | Should -Be 'B-1'
        }

        It 'finds entries by id, also from the pipeline' {
            $first = (Get-FeatureJob)[1]
            (Get-FeatureJob -Id $first.Id).Ticket | Should -Be $first.Ticket
            ($first | Get-FeatureJob).Id | Should -Be $first.Id
            Get-FeatureJob -Id 999999 | Should -BeNullOrEmpty
        }

        It 'takes tickets from features in the pipeline' {
            (Get-Feature A-2 | Get-FeatureJob).Ticket | Should -Be 'A-2'
        }
    }

    Context 'a repository where nothing was queued' {
        It 'returns nothing' {
            $repo = New-QueueRepository -Name 'empty'
            Push-Location $repo
            try {
                Get-FeatureJob | Should -BeNullOrEmpty
            } finally {
                Pop-Location
            }
        }
    }

    Context 'a queue database that cannot be read' {
        BeforeAll {
            $repo = New-QueueRepository -Name 'damaged' -Ticket 'D-1'
            Push-Location $repo
            $null = Add-FeatureJob test
            $database = Get-QueueDatabasePath -Repository $repo
            $GetUnreadable = 'QueueDatabaseUnreadable,WorktreeTools.Commands.GetFeatureJobCommand'
        }

        AfterAll {
            Pop-Location
        }

        BeforeEach {
            # Garbage where the database was: not a database file any more.
            Remove-Item -LiteralPath $database -Recurse -Force -ErrorAction Ignore
            Remove-Item "$database-wal", "$database-shm" -Force -ErrorAction Ignore
            $garbage = [byte[]]::new(8192)
            [Random]::new(42).NextBytes($garbage)
            [IO.File]::WriteAllBytes($database, $garbage)
        }

        It 'stops <Name> with QueueDatabaseUnreadable and names the file' -TestCases @(
            @{ Name = 'Get-FeatureJob'; Type = 'GetFeatureJobCommand'; Call = { Get-FeatureJob } }
            @{
                Name = 'Add-FeatureJob'; Type = 'AddFeatureJobCommand'
                Call = { Add-FeatureJob test }
            }
            @{
                Name = 'Start-FeatureJobRunner'; Type = 'StartFeatureJobRunnerCommand'
                Call = { Start-FeatureJobRunner -Once }
            }
            @{
                Name = 'Stop-FeatureJob'; Type = 'StopFeatureJobCommand'
                Call = { Stop-FeatureJob 1 }
            }
            @{
                Name = 'Remove-FeatureJob'; Type = 'RemoveFeatureJobCommand'
                Call = { Remove-FeatureJob 1 }
            }
        ) {
            $failure = { & $Call } | Should -Throw -PassThru `
                -ErrorId "QueueDatabaseUnreadable,WorktreeTools.Commands.$Type"
            $failure.Exception.Message | Should -BeLike "*'$database'*Move it aside*"
            $failure.CategoryInfo.Category | Should -Be 'InvalidData'
        }

        It 'leaves the file exactly as it was' {
            $before = [IO.File]::ReadAllBytes($database)
            { Get-FeatureJob } | Should -Throw
            { Add-FeatureJob test } | Should -Throw
            [IO.File]::ReadAllBytes($database) | Should -Be $before
            "$database-wal" | Should -Not -Exist
        }

        It 'stops with QueueDatabaseUnreadable when a folder stands in its place' {
            Remove-Item -LiteralPath $database -Force
            $null = New-Item -ItemType Directory -Path $database
            { Get-FeatureJob } |
                Should -Throw -ErrorId $GetUnreadable
            $database | Should -Exist
        }

        It 'stops with QueueDatabaseUnreadable when the file may not be read' {
            & chmod 000 $database
            try {
                if ((& id -u) -ne '0') {
                    { Get-FeatureJob } | Should -Throw -ErrorId $GetUnreadable
                    return
                }

                # Root reads any file whatever its mode; a child pwsh without the capabilities
                # that allow it does not.
                if (-not (Get-Command setpriv -CommandType Application -ErrorAction Ignore)) {
                    Set-ItResult -Skipped -Because 'root reads any file, and setpriv is missing'
                    return
                }
                $child = Join-Path $TestDrive 'unreadable.ps1'
                Set-Content -LiteralPath $child -Value @'
param([string] $Module, [string] $Repository)
Import-Module $Module
Set-Location -LiteralPath $Repository
try { Get-FeatureJob -ErrorAction Stop } catch { $_.FullyQualifiedErrorId; $_.Exception.Message }
'@
                $pwsh = Get-PwshCommand
                $output = & setpriv --bounding-set '-dac_override,-dac_read_search' @pwsh `
                    -NoProfile -NonInteractive -File $child -Module $env:WORKTREETOOLS_MODULE `
                    -Repository $repo
                $output[0] | Should -BeExactly $GetUnreadable -Because ($output -join "`n")
                $output[1] | Should -BeLike "*'$database'*"
            } finally {
                & chmod 600 $database
            }
        }
    }
}
