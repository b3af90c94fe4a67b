<#
.SYNOPSIS
    Measures the job queue: queueing 10,000 entries, and draining 1,000 trivial ones against
    GNU parallel running the same commands from a jobs.txt.
.DESCRIPTION
    Builds a small scratch repository in a temporary folder (one commit, a bare 'origin',
    refs/remotes/origin/HEAD set), makes four features with 'New-Feature Q-<n> -NoSession',
    imports WorktreeTools once into this pwsh session and measures:

    (1) Queueing. -QueueCount objects with Ticket and Job properties piped into
        Add-FeatureJob, as 'Import-Csv jobs.csv | Add-FeatureJob' would: -DrainCount of them
        ready now, the rest with -NotBefore tomorrow, so they stay in the queue while it is
        drained. Reported: the wall time and entries per second.
    (2) Draining. -Rounds times: -DrainCount entries of a job '/bin/true' (in turn in the
        four features) are queued, untimed, then
            Start-FeatureJobRunner -Once -ThrottleLimit <ThrottleLimit>
        runs them and is timed with a stopwatch; against launches of
            parallel -j<ThrottleLimit> --joblog <file> -a jobs.txt
        where jobs.txt holds the same -DrainCount command lines ('cd <worktree> && /bin/true'),
        timed the same way around the launch. The side that goes first alternates; one
        unmeasured warm-up of each side comes first. The figure is the median round.
        Target: module / parallel <= 0.75 (wall).

    The runner's progress records are silenced ($ProgressPreference), as parallel shows none.
    The configuration turns the runner's admission limits off (Admission.MaxLoad = 0): parallel
    starts jobs whatever the load, and on a busy machine the default limit would hold the
    runner back until the load fell, measuring the other work instead of the queue.
    GNU parallel is installed with apt-get when it is missing and the user is root (else the
    script says how and stops); it runs with --will-cite, PARALLEL_SHELL=/bin/sh (the shell
    the module runs jobs with) and HOME set to the scratch folder, so nothing reads or writes
    the real home. Everything happens in that folder, with a copy of the module and a private
    tmux socket; the folder is removed at the end, also on Ctrl+C. The script is a
    measurement, not a test: it prints MET or NOT MET and exits with 0.
.PARAMETER Module
    The module manifest to measure. By default out/WorktreeTools/WorktreeTools.psd1, which
    is built with build.ps1 when it is missing.
.PARAMETER QueueCount
    Entries queued in (1).
.PARAMETER DrainCount
    Trivial entries drained per round in (2), and lines of parallel's jobs.txt.
.PARAMETER ThrottleLimit
    Jobs at once, for the runner (-ThrottleLimit) and parallel (-j).
.PARAMETER Rounds
    Measured rounds per side in (2).
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/Measure-Queue.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/Measure-Queue.ps1 -Rounds 1 -QueueCount 2000
#>
[CmdletBinding()]
param(
    [string] $Module,

    [ValidateRange(100, 1000000)]
    [int] $QueueCount = 10000,

    [ValidateRange(10, 100000)]
    [int] $DrainCount = 1000,

    [ValidateRange(1, 64)]
    [int] $ThrottleLimit = 2,

    [ValidateRange(1, 20)]
    [int] $Rounds = 3
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$DrainTarget = 0.75
$TrivialCommand = '/bin/true'

function Invoke-Git {
    # Runs git for the setup and returns its output; stops the benchmark when it fails.
    param([string] $Directory, [string[]] $Arguments)
    $output = & git -C $Directory @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "git $($Arguments -join ' ') failed in '$Directory': $($output -join "`n")"
    }
    $output | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }
}

function Find-Program {
    # The full path of a program on PATH, or null.
    param([string] $Name)
    $command = Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($command) { $command.Source } else { $null }
}

function Install-Parallel {
    # Installs GNU parallel as root; tries again after 'apt-get update' when the package lists
    # are stale. Returns its path, or null.
    if ((& id -u) -ne '0') {
        return $null
    }
    Write-Host "Installing 'parallel' with apt-get."
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & apt-get install -y -q parallel *> $null
    if ($LASTEXITCODE -ne 0) {
        & apt-get update -q *> $null
        & apt-get install -y -q parallel *> $null
    }
    Find-Program 'parallel'
}

function Get-Median {
    param([double[]] $Values)
    $sorted = @($Values | Sort-Object)
    $middle = [int][math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2) {
        return $sorted[$middle]
    }
    ($sorted[$middle - 1] + $sorted[$middle]) / 2
}

function Get-MachineLoad {
    $load = ([System.IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0..2] -join ' '
    "load average $load"
}

function New-Entry {
    # Objects with Ticket and Job properties, alternating between the features.
    param([int] $Count, [string[]] $Tickets, [string] $Job, [object] $NotBefore)
    for ($i = 0; $i -lt $Count; $i++) {
        $entry = [pscustomobject]@{ Ticket = $Tickets[$i % $Tickets.Count]; Job = $Job }
        if ($NotBefore) {
            $entry | Add-Member -NotePropertyName NotBefore -NotePropertyValue $NotBefore
        }
        $entry
    }
}

function Invoke-Drain {
    # Queues the trivial entries (untimed), then times one runner that drains them.
    param([string[]] $Tickets)
    $null = New-Entry -Count $DrainCount -Tickets $Tickets -Job 'noop' | Add-FeatureJob
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $results = @(Start-FeatureJobRunner -Once -ThrottleLimit $ThrottleLimit)
    $wall = $watch.Elapsed.TotalSeconds
    [pscustomobject]@{
        Wall = $wall
        Jobs = $results.Count
        Failed = @($results | Where-Object State -ne 'Succeeded').Count
    }
}

function Invoke-Parallel {
    # One timed launch of GNU parallel over jobs.txt; its joblog is counted afterwards.
    param([string] $JobsFile, [string] $JobLog)
    Remove-Item -LiteralPath $JobLog -Force -ErrorAction Ignore
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    & $parallelProgram --will-cite -j $ThrottleLimit --joblog $JobLog -a $JobsFile
    $wall = $watch.Elapsed.TotalSeconds
    $rows = @(Get-Content -LiteralPath $JobLog | Select-Object -Skip 1)
    [pscustomobject]@{
        Wall = $wall
        Jobs = $rows.Count
        Failed = @($rows | Where-Object { ($_ -split "`t")[6] -ne '0' }).Count
    }
}

if (-not $IsLinux) {
    Write-Host 'This benchmark needs Linux (/proc, posix_spawn jobs, GNU parallel).'
    exit 0
}
$parallelProgram = Find-Program 'parallel'
if (-not $parallelProgram) {
    $parallelProgram = Install-Parallel
}
if (-not $parallelProgram) {
    Write-Host 'GNU parallel is missing. Install it, then run this again:'
    Write-Host '    sudo apt-get install -y parallel'
    exit 0
}

$root = Split-Path $PSScriptRoot -Parent
if (-not $Module) {
    $Module = Join-Path $root 'out/WorktreeTools/WorktreeTools.psd1'
    if (-not (Test-Path $Module)) {
        & dotnet pwsh -NoProfile -File (Join-Path $root 'build.ps1') Build | Out-Host
    }
}

$suffix = [guid]::NewGuid().ToString('N').Substring(0, 8)
$scratch = Join-Path ([System.IO.Path]::GetTempPath()) "wt-bench-queue-$suffix"
$saved = @{}
$variables = @{
    HOME = $scratch
    GIT_CONFIG_GLOBAL = '/dev/null'
    GIT_CONFIG_NOSYSTEM = '1'
    GIT_AUTHOR_NAME = 'Bench'
    GIT_AUTHOR_EMAIL = 'bench@example.invalid'
    GIT_COMMITTER_NAME = 'Bench'
    GIT_COMMITTER_EMAIL = 'bench@example.invalid'
    WORKTREETOOLS_TMUX_SOCKET = "wt-bench-queue-$PID"
    TMUX_TMPDIR = $scratch
    PARALLEL_SHELL = '/bin/sh'
}
$location = Get-Location
try {
    $null = New-Item -ItemType Directory -Path $scratch
    foreach ($name in $variables.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $variables[$name])
    }

    # A copy of the module, so a rebuild meanwhile does not disturb the run.
    $copy = Join-Path $scratch 'module'
    Copy-Item (Split-Path $Module -Parent) $copy -Recurse
    Import-Module (Join-Path $copy (Split-Path $Module -Leaf)) -Force

    $repo = Join-Path $scratch 'repo'
    $origin = Join-Path $scratch 'origin.git'
    $null = Invoke-Git $scratch @('init', '-q', '-b', 'main', $repo)
    [System.IO.File]::WriteAllText((Join-Path $repo 'README.md'), "bench`n")
    $null = Invoke-Git $repo @('add', '-A')
    $null = Invoke-Git $repo @('commit', '-q', '-m', 'First')
    $null = Invoke-Git $scratch @('init', '-q', '--bare', '-b', 'main', $origin)
    $null = Invoke-Git $repo @('remote', 'add', 'origin', $origin)
    $null = Invoke-Git $repo @('push', '-q', 'origin', 'main')
    $null = Invoke-Git $repo @('remote', 'set-head', 'origin', '--auto')
    [System.IO.File]::WriteAllText((Join-Path $repo '.worktreetools.psd1'),
        ("@{ Jobs = @{ noop = '$TrivialCommand'; later = '$TrivialCommand' }; " +
            "Admission = @{ MaxLoad = 0 } }"))
    Set-Location $repo
    $tickets = @('Q-1', 'Q-2', 'Q-3', 'Q-4')
    $folders = foreach ($ticket in $tickets) {
        (New-Feature $ticket -NoSession).Path
    }
    $jobsFile = Join-Path $scratch 'jobs.txt'
    $lines = for ($i = 0; $i -lt $DrainCount; $i++) {
        "cd '$($folders[$i % $folders.Count])' && $TrivialCommand"
    }
    [System.IO.File]::WriteAllLines($jobsFile, [string[]]$lines)
    $parallelLog = Join-Path $scratch 'parallel.joblog'
    $ProgressPreference = 'SilentlyContinue'

    Write-Host "$(& $parallelProgram --will-cite --version | Select-Object -First 1); " `
        "$([Environment]::ProcessorCount) cores; $(Get-MachineLoad)"

    # (1) Queueing: the ready entries first, then the ones for tomorrow.
    $ready = $DrainCount
    $tomorrow = [datetime]::Now.AddDays(1)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $queued = @(New-Entry -Count $ready -Tickets $tickets -Job 'noop' | Add-FeatureJob).Count
    $queued += @(New-Entry -Count ($QueueCount - $ready) -Tickets $tickets -Job 'later' `
        -NotBefore $tomorrow | Add-FeatureJob).Count
    $queueWall = $watch.Elapsed.TotalSeconds
    if ($queued -ne $QueueCount) {
        throw "Add-FeatureJob queued $queued entries, not $QueueCount."
    }

    # Warm-up: the first drain takes the ready entries queued above.
    $null = Start-FeatureJobRunner -Once -ThrottleLimit $ThrottleLimit
    $null = Invoke-Parallel -JobsFile $jobsFile -JobLog $parallelLog

    $moduleRuns = [System.Collections.Generic.List[object]]::new()
    $parallelRuns = [System.Collections.Generic.List[object]]::new()
    for ($round = 1; $round -le $Rounds; $round++) {
        $sides = if ($round % 2) { 'module', 'parallel' } else { 'parallel', 'module' }
        foreach ($side in $sides) {
            if ($side -eq 'module') {
                $run = Invoke-Drain -Tickets $tickets
                $moduleRuns.Add($run)
            } else {
                $run = Invoke-Parallel -JobsFile $jobsFile -JobLog $parallelLog
                $parallelRuns.Add($run)
            }
            if ($run.Jobs -ne $DrainCount -or $run.Failed -ne 0) {
                throw "The $side side ran $($run.Jobs) jobs with $($run.Failed) failures."
            }
            Write-Host ("  round {0} {1,-8} {2,6:0.000} s" -f $round, $side, $run.Wall)
        }
    }

    $moduleWall = Get-Median $moduleRuns.Wall
    $parallelWall = Get-Median $parallelRuns.Wall
    $ratio = $moduleWall / $parallelWall
    $left = @(Get-FeatureJob -State Queued).Count
    Write-Host ''
    Write-Host ("Queue {0:N0} entries with Add-FeatureJob: {1:0.00} s ({2:N0} entries/s); " -f `
        $QueueCount, $queueWall, ($QueueCount / $queueWall)) -NoNewline
    Write-Host ("{0:N0} still queued for tomorrow during the drains" -f $left)
    Write-Host ("Drain {0:N0} trivial entries, -ThrottleLimit {1} (median of {2}):" -f `
        $DrainCount, $ThrottleLimit, $Rounds)
    Write-Host ("  Start-FeatureJobRunner -Once  {0,7:0.000} s  ({1:0.00} ms per job)" -f `
        $moduleWall, (1000 * $moduleWall / $DrainCount))
    Write-Host ("  parallel --joblog -a jobs.txt {0,7:0.000} s  ({1:0.00} ms per job)" -f `
        $parallelWall, (1000 * $parallelWall / $DrainCount))
    $verdict = if ($ratio -le $DrainTarget) { 'MET' } else { 'NOT MET' }
    Write-Host ("  ratio {0:0.000}, target <= {1}: {2}" -f $ratio, $DrainTarget, $verdict)
    Write-Host "After: $(Get-MachineLoad)"
} finally {
    Set-Location $location
    Remove-Module WorktreeTools -ErrorAction Ignore
    & tmux -L $variables.WORKTREETOOLS_TMUX_SOCKET kill-server 2>$null
    foreach ($name in $saved.Keys) {
        [Environment]::SetEnvironmentVariable($name, $saved[$name])
    }
    Remove-Item -LiteralPath $scratch -Recurse -Force -ErrorAction Ignore
}
