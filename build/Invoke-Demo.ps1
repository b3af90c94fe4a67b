<#
.SYNOPSIS
    Runs the WorktreeTools main job on a scratch clone and prints what a user would see.
.DESCRIPTION
    Clones a repository (this one by default) into a temporary folder and there, on a private
    tmux server, creates two features, shows that creating one again changes nothing, lists
    them, reports their status after a change, and stops and removes them. Everything it
    made is removed at the end, also after Ctrl+C. It also runs a 'test' job in every feature,
    makes one fail, and shows how the failure surfaces.
.PARAMETER Module
    The module manifest to import (out/WorktreeTools/WorktreeTools.psd1).
.PARAMETER Repository
    The repository to clone: a local path or a URL.
.EXAMPLE
    dotnet pwsh -NoProfile -File build/Invoke-Demo.ps1 `
        -Module out/WorktreeTools/WorktreeTools.psd1 -Repository .
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $Module,

    [Parameter(Mandatory)]
    [string] $Repository
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Write-Step {
    param([string] $Text)
    Write-Host ''
    Write-Host "=== $Text" -ForegroundColor Cyan
}

function Show {
    # Shows a command the way a user types it, then its output as a table.
    param([string] $Command)
    Write-Host "PS> $Command" -ForegroundColor Yellow
    $output = Invoke-Expression $Command
    if ($null -ne $output) {
        $output | Format-Table -AutoSize | Out-String -Width 120 | Write-Host
    }
}

$scratch = Join-Path ([System.IO.Path]::GetTempPath()) "worktreetools-demo-$PID"
$socket = "worktreetools-demo-$PID"
$env:WORKTREETOOLS_TMUX_SOCKET = $socket
$env:GIT_AUTHOR_NAME = $env:GIT_COMMITTER_NAME = 'WorktreeTools demo'
$env:GIT_AUTHOR_EMAIL = $env:GIT_COMMITTER_EMAIL = 'demo@example.invalid'

try {
    Import-Module $Module -Force
    New-Item -ItemType Directory -Path $scratch | Out-Null

    # A local path is turned into a full one so git does not read it relative to $scratch.
    $source = if (Test-Path $Repository) {
        (Resolve-Path $Repository).ProviderPath
    } else {
        $Repository
    }
    Write-Step "Cloning $source into a scratch folder (tmux socket: $socket)"
    git clone --quiet $source (Join-Path $scratch 'repo')
    if ($LASTEXITCODE -ne 0) {
        throw "Cloning '$source' failed."
    }
    Set-Location (Join-Path $scratch 'repo')

    Write-Step 'Two features, each with a branch, a worktree and a tmux session'
    Show "New-Feature DEMO-1 'Add login page'"
    Show "New-Feature DEMO-2 'Fix typo in README'"

    Write-Step 'Running New-Feature again returns the same feature and makes nothing new'
    Show "New-Feature DEMO-1 'Add login page'"
    $sessions = tmux -L $socket list-sessions -F '#{session_name}'
    Write-Host "tmux sessions: $($sessions -join ', ')"

    Write-Step 'Every feature'
    Show 'Get-Feature'

    Write-Step 'A change in DEMO-1: one commit and one edited file'
    $demo1 = (Get-Feature DEMO-1).Path
    Set-Content -Path (Join-Path $demo1 'login.txt') -Value 'a login page'
    git -C $demo1 add login.txt
    git -C $demo1 commit --quiet -m 'Add a login page'
    Add-Content -Path (Join-Path $demo1 'login.txt') -Value 'with a password field'
    Show 'Get-FeatureStatus'
    Show 'Get-FeatureStatus | Where-Object Dirty | Select-Object Ticket, Modified, AheadOfBase'

    Write-Step 'A job in every feature, two at a time'
    if (-not (Test-Path .worktreetools.psd1)) {
        # A real, quick check that works on any repository: whitespace errors in the branch.
        Set-Content .worktreetools.psd1 ("@{ Jobs = @{ test = " +
            "'git diff --check `"`$FEATURE_BASE`"...HEAD' } }")
        Write-Host 'No .worktreetools.psd1 in this repository; the demo made one:'
        Get-Content .worktreetools.psd1 | Write-Host
    }
    if ((Get-FeatureConfig Jobs).Value.Keys -notcontains 'test') {
        Write-Host "This repository's configuration has no 'test' job; the job steps are skipped."
    } else {
        # Jobs wait to start while the machine is busy (Admission in the configuration); the
        # build that came just before the demo is not the kind of work they should wait for.
        $PSDefaultParameterValues['Invoke-FeatureJob:MaxLoad'] = 0
        Write-Host ('Jobs wait while the load average is above ' +
            "$((Get-FeatureConfig Admission).Value.MaxLoad); the demo lifts that limit, since " +
            'the build before it is what loads this machine.')
        Show 'Get-Feature | Invoke-FeatureJob test -ThrottleLimit 2'

        Write-Step 'DEMO-2 gets a commit with trailing whitespace, and its job fails'
        $demo2 = (Get-Feature DEMO-2).Path
        Set-Content -Path (Join-Path $demo2 'typo.txt') -Value 'a line that ends in spaces   '
        git -C $demo2 add typo.txt
        git -C $demo2 commit --quiet -m 'Fix a typo, badly'
        Show 'Get-Feature | Invoke-FeatureJob test -ThrottleLimit 2 -ErrorAction SilentlyContinue'
        Show 'Get-FeatureStatus | Where-Object Failed | Select-Object Ticket, FailedReason'
        Show 'Get-FeatureJobLog -Last 4'

        Write-Step 'The same state as one HTML page, with a timeline of the jobs'
        $report = Join-Path (Split-Path $PSScriptRoot) 'out/demo-report.html'
        Show ("Export-FeatureReport -Path '$report' -NoRemote -PassThru | " +
            'Select-Object FullName, Length')
        Write-Host 'Open it in any browser; it needs no network and runs no script.'
    }

    Write-Step 'Stopping: a branch is deleted only when its commits are safe on the base'
    Show 'Stop-Feature DEMO-2 -Remove -DeleteBranch -PassThru -WarningAction Continue'

    Write-Step 'Stopping: uncommitted work is never removed without -Force'
    Write-Host 'PS> Stop-Feature DEMO-1 -Remove' -ForegroundColor Yellow
    Stop-Feature DEMO-1 -Remove -ErrorAction SilentlyContinue -ErrorVariable refused
    Write-Host "Refused: $($refused[0].Exception.Message)"
    Show 'Stop-Feature DEMO-1 -Remove -Force -WarningAction Continue'

    Write-Step 'What is left: every worktree of the repository'
    Show 'Get-Feature -All'
}
finally {
    Set-Location $PSScriptRoot
    # kill-server leaves the socket file behind; it goes too.
    $socketPath = tmux -L $socket display-message -p '#{socket_path}' 2>$null
    tmux -L $socket kill-server 2>$null
    if ($socketPath) {
        Remove-Item -LiteralPath $socketPath -ErrorAction SilentlyContinue
    }
    Remove-Item $scratch -Recurse -Force -ErrorAction SilentlyContinue
}
