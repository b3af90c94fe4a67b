<#
.SYNOPSIS
    Measures New-Feature and Get-FeatureStatus against the same work done by a bash script.
.DESCRIPTION
    Builds a scratch repository of about -FileCount files in a temporary folder (committed,
    with a bare 'origin' and refs/remotes/origin/HEAD set), imports WorktreeTools once into
    this pwsh session, and compares it with bench/lifecycle-baseline.sh run as a process:

    (a) New-Feature for 10 tickets (branch, worktree, tmux session with four windows) against
        'git worktree add' plus one tmux call per ticket. In each round both sides create
        their 10 (the side that goes first alternates), then both remove them
        (Stop-Feature -Remove -DeleteBranch -Force; kill-session, git worktree remove,
        branch -D). One warm-up round, then -Rounds rounds; the figure is the median.
    (b) Get-FeatureStatus over 20 features, some with modified and untracked files or a
        commit of their own, against git status, two git rev-list --count and tmux
        has-session per worktree. Two warm-up runs, then the median of -Repetitions runs.
    (c) The same, once every feature has a job history (two runs of a job; the last one
        failed in half of them, whose logs are read for RecentErrors) and without the GitHub
        CLI (-NoRemote when gh is installed), against the same bash loop.

    The bash side is timed as a user sees it: a stopwatch around launching
    'bash lifecycle-baseline.sh' from pwsh. The targets apply to the ratio of the medians;
    the ratio of the best runs is shown too, and a warning when runs varied so much that
    the machine was clearly busy with other work.

    On ext4 without a journal, making files is several times slower for minutes after
    many files were deleted (the inode allocator skips recently deleted inodes one by one).
    So the sides remove their features ticket by ticket in turns, and on such a file
    system the script waits 65 s after each round's removal (a run takes about 10
    minutes). The figures stay noisy there.

    Everything happens in a temporary folder and on a private tmux server (a unique
    WORKTREETOOLS_TMUX_SOCKET whose socket lives in that folder); both are removed at the
    end, also on Ctrl+C. The module is copied into that folder first, so a rebuild of out/
    during the run does not disturb it. The windows of both sides' sessions run /bin/sh
    (SHELL), not the user's login shell, whose start-up (rc files) would otherwise run 80
    times a round in the background and swamp the difference being measured; -UserShell
    keeps the user's shell. The script is a measurement, not a test: it prints MET or NOT
    MET and exits with 0. It needs Linux, git, tmux and bash.
.PARAMETER Module
    The module manifest to measure. By default out/WorktreeTools/WorktreeTools.psd1, which
    is built with build.ps1 when it is missing.
.PARAMETER FileCount
    The number of files in the scratch repository.
.PARAMETER Rounds
    Measured create rounds, after one warm-up round.
.PARAMETER Repetitions
    Measured status runs per side, after two warm-up runs.
.PARAMETER UserShell
    Lets the session windows run the user's own shell ($env:SHELL) instead of /bin/sh.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/Measure-Lifecycle.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/Measure-Lifecycle.ps1 -FileCount 1000 -Rounds 3
#>
[CmdletBinding()]
param(
    [string] $Module,

    [ValidateRange(100, 1000000)]
    [int] $FileCount = 5000,

    [ValidateRange(1, 50)]
    [int] $Rounds = 5,

    [ValidateRange(1, 100)]
    [int] $Repetitions = 9,

    [switch] $UserShell
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$CreateCount = 10
$StatusCount = 20
$CreateTarget = 1.2
$StatusTarget = 0.5
$Baseline = Join-Path $PSScriptRoot 'lifecycle-baseline.sh'

function Invoke-Git {
    # Runs git for the setup and returns its output; stops the benchmark when it fails.
    param([string] $Directory, [string[]] $Arguments)
    $output = & git -C $Directory @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "git $($Arguments -join ' ') failed in '$Directory': $($output -join "`n")"
    }
    $output | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }
}

function Invoke-Baseline {
    # Runs the bash baseline as a process and returns what it printed.
    param([string[]] $Arguments)
    $output = & bash $Baseline @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "bash lifecycle-baseline.sh $($Arguments[0]) failed: $($output -join "`n")"
    }
    $output
}

function Measure-Step {
    # Runs a script block; returns its wall time in seconds and its output.
    param([scriptblock] $Script)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $output = & $Script
    [pscustomobject]@{ Seconds = $watch.Elapsed.TotalSeconds; Output = $output }
}

function Sync-Disk {
    # Flushes what the last step wrote or deleted, so its write-back does not land in the
    # next measurement.
    & sync
}

function Get-SettleSeconds {
    # How long to wait after deleting many files before timing how fast new ones are made:
    # ext4 without a journal skips inodes deleted in the last 60 s, one by one, when it
    # allocates new ones. Other file systems need no wait.
    param([string] $Path)
    if (-not (Get-Command findmnt -ErrorAction SilentlyContinue)) {
        return 0
    }
    $source, $type = -split (& findmnt -n -o SOURCE,FSTYPE -T $Path | Select-Object -First 1)
    $task = "/sys/fs/ext4/$(Split-Path $source -Leaf)/journal_task"
    if ($type -eq 'ext4' -and (Test-Path $task) -and (Get-Content $task) -eq '<none>') {
        return 65
    }
    0
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
    # The load average and the share of time tasks waited for a CPU over the last minute.
    $load = ([System.IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0]
    $pressure = 'unknown'
    if (Test-Path '/proc/pressure/cpu') {
        $some = Get-Content '/proc/pressure/cpu' -TotalCount 1
        if ($some -match 'avg60=([\d.]+)') {
            $pressure = "$($Matches[1])%"
        }
    }
    "load average $load, CPU pressure $pressure (last minute)"
}

function New-ScratchRepository {
    # Writes text files of about 3 KB in folders of 50, commits them and pushes them to a
    # bare origin whose HEAD is recorded as refs/remotes/origin/HEAD.
    param([string] $Root, [int] $Count)
    $repo = Join-Path $Root 'repo'
    $origin = Join-Path $Root 'origin.git'
    $line = 'The quick brown fox jumps over the lazy dog while the build keeps running.'
    $body = (@($line) * 40) -join "`n"
    for ($i = 0; $i -lt $Count; $i++) {
        $folder = [int][math]::Floor($i / 50)
        $area = [int][math]::Floor($folder / 10)
        $dir = Join-Path $repo ('src/area{0:d2}/part{1:d2}' -f $area, ($folder % 10))
        if ($i % 50 -eq 0) {
            $null = [System.IO.Directory]::CreateDirectory($dir)
        }
        $file = Join-Path $dir ('file{0:d4}.txt' -f $i)
        [System.IO.File]::WriteAllText($file, "file $i`n$body`n")
    }
    $null = Invoke-Git $Root @('init', '-q', '-b', 'main', $repo)
    $null = Invoke-Git $repo @('add', '-A')
    $null = Invoke-Git $repo @('commit', '-q', '-m', "Add $Count files")
    $null = Invoke-Git $Root @('init', '-q', '--bare', '-b', 'main', $origin)
    $null = Invoke-Git $repo @('remote', 'add', 'origin', $origin)
    $null = Invoke-Git $repo @('push', '-q', 'origin', 'main')
    $null = Invoke-Git $repo @('remote', 'set-head', 'origin', '--auto')
    $repo
}

function Add-WorkInProgress {
    # Leaves some worktrees dirty (two modified files and an untracked one) and gives some
    # a commit of their own, so status has something to count.
    param([string[]] $Paths)
    for ($i = 0; $i -lt $Paths.Count; $i++) {
        $path = $Paths[$i]
        if ($i % 4 -eq 1) {
            Add-Content (Join-Path $path 'src/area00/part00/file0000.txt') 'changed'
            Add-Content (Join-Path $path 'src/area00/part01/file0050.txt') 'changed'
            Set-Content (Join-Path $path 'notes.txt') 'untracked'
        }
        if ($i % 5 -eq 2) {
            Add-Content (Join-Path $path 'src/area00/part00/file0001.txt') 'committed'
            $null = Invoke-Git $path @('commit', '-q', '-a', '-m', 'Work in progress')
        }
    }
}

function Get-Figure {
    # Both sides' medians and best runs, the ratios and the verdict against the target.
    param([string] $Name, [double[]] $ModuleTimes, [double[]] $BashTimes, [double] $Target)
    $module = Get-Median $ModuleTimes
    $bash = Get-Median $BashTimes
    $moduleRange = $ModuleTimes | Measure-Object -Minimum -Maximum
    $bashRange = $BashTimes | Measure-Object -Minimum -Maximum
    [pscustomobject]@{
        Name = $Name
        Module = $module
        Bash = $bash
        Ratio = $module / $bash
        Target = $Target
        Verdict = if ($module / $bash -le $Target) { 'MET' } else { 'NOT MET' }
        BestRatio = $moduleRange.Minimum / $bashRange.Minimum
        Spread = 'module {0:n2}-{1:n2} s, bash {2:n2}-{3:n2} s' -f $moduleRange.Minimum,
            $moduleRange.Maximum, $bashRange.Minimum, $bashRange.Maximum
        Noisy = ($moduleRange.Maximum -gt 2 * $moduleRange.Minimum) -or
            ($bashRange.Maximum -gt 2 * $bashRange.Minimum)
    }
}

$root = Split-Path $PSScriptRoot -Parent
if (-not $Module) {
    $Module = Join-Path $root 'out/WorktreeTools/WorktreeTools.psd1'

    # A build running elsewhere leaves the folder without its manifest for a few seconds.
    $deadline = [datetime]::UtcNow.AddSeconds(60)
    while (-not (Test-Path $Module) -and (Test-Path (Split-Path $Module -Parent)) -and
        [datetime]::UtcNow -lt $deadline) {
        Start-Sleep -Seconds 1
    }
    if (-not (Test-Path $Module)) {
        Write-Host 'The module is not built; building it with build.ps1.'
        & (Join-Path $root 'build.ps1')
    }
}
$Module = (Resolve-Path $Module).ProviderPath

$id = [guid]::NewGuid().ToString('n').Substring(0, 8)
$temp = Join-Path ([System.IO.Path]::GetTempPath()) "wtbench-$id"
$socket = "wtbench-$id"
$variables = @{
    WORKTREETOOLS_TMUX_SOCKET = $socket
    TMUX_TMPDIR = $temp
    TMUX = $null
    GIT_AUTHOR_NAME = 'Bench'
    GIT_AUTHOR_EMAIL = 'bench@example.invalid'
    GIT_COMMITTER_NAME = 'Bench'
    GIT_COMMITTER_EMAIL = 'bench@example.invalid'
}
if (-not $UserShell) {
    $variables.SHELL = '/bin/sh'
}
$saved = @{}
$locationPushed = $false
try {
    foreach ($name in $variables.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $variables[$name])
    }
    $null = New-Item -ItemType Directory $temp
    Write-Host "Scratch folder $temp, tmux socket $socket"
    Write-Host "Before: $(Get-MachineLoad)"

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $repo = New-ScratchRepository -Root $temp -Count $FileCount
    $base = (Invoke-Git $repo @('symbolic-ref', '--short', 'refs/remotes/origin/HEAD')).Trim()
    Sync-Disk
    Write-Host ('Repository of {0:n0} files on {1} ready in {2:n1} s' -f $FileCount, $base,
        $watch.Elapsed.TotalSeconds)

    $copy = Join-Path $temp 'module'
    Copy-Item -LiteralPath (Split-Path $Module -Parent) -Destination $copy -Recurse
    $watch.Restart()
    Import-Module (Join-Path $copy (Split-Path $Module -Leaf)) -Force
    Write-Host ('Import-Module: {0:n0} ms' -f $watch.Elapsed.TotalMilliseconds)
    Push-Location -LiteralPath $repo
    $locationPushed = $true

    # Plain windows on both sides: where the module can start an AI agent in the 'ai'
    # window, -NoAgent keeps it a shell, as in the baseline.
    $newFeature = @{}
    if ((Get-Command New-Feature).Parameters.ContainsKey('NoAgent')) {
        $newFeature.NoAgent = $true
    }

    $settle = Get-SettleSeconds $temp
    if ($settle) {
        Write-Host "ext4 without a journal: waiting $settle s after each round's removal."
    }

    # (a) Create rounds; round 0 warms up. Both sides create, then both remove, so no
    # create comes right after a removal; the side that goes first alternates.
    $moduleTickets = 1..$CreateCount | ForEach-Object { "MOD-$_" }
    $bashTickets = 1..$CreateCount | ForEach-Object { "SH-$_" }
    # Both sides' worktrees share the module's default folder (../worktrees): where each
    # side had a folder of its own, one was steadily about twice as slow as the other.
    $bashRoot = Join-Path $temp 'worktrees'
    $createModule = [System.Collections.Generic.List[double]]::new()
    $createBash = [System.Collections.Generic.List[double]]::new()
    for ($round = 0; $round -le $Rounds; $round++) {
        $sides = if ($round % 2) { 'bash', 'module' } else { 'module', 'bash' }
        $seconds = @{}
        foreach ($side in $sides) {
            if ($side -eq 'module') {
                $seconds.module = (Measure-Step {
                    foreach ($ticket in $moduleTickets) {
                        $null = New-Feature $ticket @newFeature
                    }
                }).Seconds
            } else {
                $seconds.bash = (Measure-Step {
                    Invoke-Baseline (@('create', $repo, $bashRoot, $base) + $bashTickets)
                }).Seconds
            }
            Sync-Disk
        }
        $label = if ($round -eq 0) { 'warm-up' } else { "round $round/$Rounds" }
        Write-Host ('New-Feature x{0} {1}: module {2:n2} s, bash {3:n2} s' -f $CreateCount,
            $label, $seconds.module, $seconds.bash)
        if ($round -gt 0) {
            $createModule.Add($seconds.module)
            $createBash.Add($seconds.bash)
        }

        # Removal takes turns ticket by ticket, so neither side's files were deleted more
        # recently than the other's when the next round makes new ones.
        for ($i = 0; $i -lt $CreateCount; $i++) {
            Stop-Feature $moduleTickets[$i] -Remove -DeleteBranch -Force -Confirm:$false
            $null = Invoke-Baseline @('remove', $repo, $bashRoot, $bashTickets[$i])
        }
        Sync-Disk
        Start-Sleep -Seconds $settle
    }

    # (b) Status of 20 features, made by the module and read by both sides. Runs -1 and 0
    # warm up; the side that goes first alternates.
    $statusTickets = 1..$StatusCount | ForEach-Object { "ST-$_" }
    $paths = foreach ($ticket in $statusTickets) {
        (New-Feature $ticket @newFeature).Path
    }
    Add-WorkInProgress -Paths $paths
    Sync-Disk
    $statusModule = [System.Collections.Generic.List[double]]::new()
    $statusBash = [System.Collections.Generic.List[double]]::new()
    for ($run = -1; $run -le $Repetitions; $run++) {
        $sides = if ($run % 2) { 'module', 'bash' } else { 'bash', 'module' }
        foreach ($side in $sides) {
            if ($side -eq 'module') {
                $moduleRun = Measure-Step { @(Get-FeatureStatus) }
            } else {
                $bashRun = Measure-Step { Invoke-Baseline (@('status', $base) + $paths) }
            }
        }
        if ($run -gt 0) {
            $statusModule.Add($moduleRun.Seconds)
            $statusBash.Add($bashRun.Seconds)
        }
    }
    $moduleDirty = @($moduleRun.Output | Where-Object Dirty).Count
    $bashDirty = @($bashRun.Output | Where-Object { "$_" -notmatch 'modified=0 untracked=0' })
    Write-Host ('Get-FeatureStatus x{0}: {1} features, {2} dirty (bash saw {3} and {4} dirty)' -f
        $StatusCount, @($moduleRun.Output).Count, $moduleDirty, @($bashRun.Output).Count,
        $bashDirty.Count)

    # (c) The same status with a job history: two runs of a job in every feature, the second
    # failing in every other one, so each status reads the last runs and the failed ones read
    # their logs for RecentErrors. There is no gh here (-NoRemote where one is installed), as
    # on a machine that has no GitHub CLI.
    $passing = 'echo "building $FEATURE_TICKET"'
    $failing = $passing + '; n=${FEATURE_TICKET#ST-}; [ $((n % 2)) -eq 0 ] || ' +
        '{ echo "error: $FEATURE_TICKET broke"; exit 1; }'
    $null = Invoke-FeatureJob -Ticket $statusTickets -Command $passing -MaxLoad 0
    $null = Invoke-FeatureJob -Ticket $statusTickets -Command $failing -MaxLoad 0 `
        -ErrorAction SilentlyContinue
    $remote = @{}
    if (Get-Command gh -CommandType Application -ErrorAction SilentlyContinue) {
        $remote.NoRemote = $true
    }
    $historyModule = [System.Collections.Generic.List[double]]::new()
    $historyBash = [System.Collections.Generic.List[double]]::new()
    for ($run = -1; $run -le $Repetitions; $run++) {
        $sides = if ($run % 2) { 'module', 'bash' } else { 'bash', 'module' }
        foreach ($side in $sides) {
            if ($side -eq 'module') {
                $moduleRun = Measure-Step { @(Get-FeatureStatus @remote) }
            } else {
                $bashRun = Measure-Step { Invoke-Baseline (@('status', $base) + $paths) }
            }
        }
        if ($run -gt 0) {
            $historyModule.Add($moduleRun.Seconds)
            $historyBash.Add($bashRun.Seconds)
        }
    }
    Write-Host ('Get-FeatureStatus x{0} with job history: {1} failed, {2} with error lines' -f
        $StatusCount, @($moduleRun.Output | Where-Object Failed).Count,
        @($moduleRun.Output | Where-Object { $_.RecentErrors.Count -gt 0 }).Count)
    Write-Host "After: $(Get-MachineLoad)"

    $figures = @(
        Get-Figure "New-Feature x$CreateCount" $createModule $createBash $CreateTarget
        Get-Figure "Get-FeatureStatus x$StatusCount" $statusModule $statusBash $StatusTarget
        Get-Figure "... with job history" $historyModule $historyBash $StatusTarget
    )
    Write-Host ''
    Write-Host ('Medians of {0} create rounds and {1} status runs, {2:n0} files' -f $Rounds,
        $Repetitions, $FileCount)
    $format = '{0,-22} {1,9} {2,7} {3,6} {4,7}  {5,-8} {6,10}'
    Write-Host ($format -f 'Measure', 'Module s', 'Bash s', 'Ratio', 'Target', 'Result',
        'Best ratio')
    foreach ($figure in $figures) {
        Write-Host ($format -f $figure.Name, $figure.Module.ToString('n2'),
            $figure.Bash.ToString('n2'), $figure.Ratio.ToString('n2'), "<= $($figure.Target)",
            $figure.Verdict, $figure.BestRatio.ToString('n2'))
    }
    Write-Host ''
    foreach ($figure in $figures) {
        Write-Host ('{0}: module {1:n2} s, bash {2:n2} s, ratio {3:n2} (target <= {4}): {5}' -f
            $figure.Name, $figure.Module, $figure.Bash, $figure.Ratio, $figure.Target,
            $figure.Verdict)
        if ($figure.Noisy) {
            Write-Host "    Runs varied more than twofold ($($figure.Spread)): the machine was"
            Write-Host '    busy; rerun it when idle, or with more -Rounds / -Repetitions.'
        }
    }
} finally {
    if ($locationPushed) {
        Pop-Location
    }
    Write-Host 'Cleaning up the tmux server and the scratch folder.'
    & tmux -L $socket kill-server 2>$null
    if (Test-Path -LiteralPath $temp) {
        & rm -rf -- $temp
    }
    foreach ($name in $saved.Keys) {
        [Environment]::SetEnvironmentVariable($name, $saved[$name])
    }
}
exit 0
