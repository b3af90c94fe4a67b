<#
.SYNOPSIS
    Measures Invoke-FeatureJob against GNU parallel, and its scheduling of CPU-bound jobs.
.DESCRIPTION
    Builds a small scratch repository in a temporary folder (one commit, a bare 'origin',
    refs/remotes/origin/HEAD set with 'git remote set-head origin --auto'), makes
    -FeatureCount features with 'New-Feature T-<n> -NoSession', imports WorktreeTools once
    into this pwsh session and measures, in one run:

    (1) Trivial jobs. -Rounds invocations of
            Get-Feature | Invoke-FeatureJob -Command /bin/true -ThrottleLimit 2 -MaxLoad 0
        (100 jobs each, 1,000 in all) timed with a stopwatch, against -Rounds launches of
            parallel -j2 --joblog <file> --workdir {} /bin/true ::: <the worktree folders>
        timed the same way around the launch. -WarmUpRounds unmeasured rounds come first;
        the side that goes first alternates. Target: module / parallel <= 0.5 (wall).
        Also reported: CPU time of both sides, the growth of this pwsh process's peak
        working set (VmHWM in /proc/self/status, reset just before the measured rounds)
        and parallel's largest max RSS (from /usr/bin/time, or sampled from /proc).
    (2) CPU-bound jobs. -CpuJobCount jobs that each burn about -CpuJobSeconds of CPU (a
        busy loop in sh, calibrated on this machine by CPU time) over as many features at
        -ThrottleLimit 2. Makespan is the stopwatch time of the Invoke-FeatureJob pipeline;
        ideal is the sum of the results' Duration divided by the throttle limit. Target:
        makespan / ideal <= 1.05. Repeated -CpuRuns times; the median run is the figure.

    Progress: the module's progress records go nowhere by default ($ProgressPreference is
    SilentlyContinue), since parallel shows none either; -ShowProgress keeps them.

    GNU parallel is installed with apt-get when it is missing and the user is root (else
    the script says how and stops); so is GNU time, which is optional. parallel runs with
    --will-cite, PARALLEL_SHELL=/bin/sh (the shell the module runs jobs with), and HOME set
    to the scratch folder, where parallel would otherwise create ~/.parallel. Every
    process the run starts (git, parallel, the jobs) gets that HOME and
    GIT_CONFIG_GLOBAL=/dev/null, so none writes to ~. (Inside this process, LibGit2Sharp
    still reads the user's git configuration, as the module always does: .NET does not
    pass its environment changes on to native code.)

    Everything happens in the temporary folder, with a copy of the module (so a rebuild
    meanwhile does not disturb the run) and a private tmux socket
    (WORKTREETOOLS_TMUX_SOCKET, with TMUX_TMPDIR in that folder); both are removed at the
    end, also on Ctrl+C. The script is a measurement, not a test: it prints MET or NOT MET
    and exits with 0. It needs Linux, git, tmux and sh, and a machine with no other load
    for figures worth comparing (it prints the load average before and after).
.PARAMETER Module
    The module manifest to measure. By default out/WorktreeTools/WorktreeTools.psd1, which
    is built with build.ps1 when it is missing.
.PARAMETER FeatureCount
    Features in the scratch repository: the jobs per invocation in (1).
.PARAMETER Rounds
    Measured invocations per side in (1), after the warm-up rounds.
.PARAMETER WarmUpRounds
    Unmeasured rounds of (1) first. .NET keeps compiling hot code at higher tiers for the
    first 10 to 30 invocations, on a background thread that competes for the CPUs; more
    warm-up rounds measure the steady state of a long session.
.PARAMETER ThrottleLimit
    Jobs at once, for the module (-ThrottleLimit) and parallel (-j).
.PARAMETER CpuJobCount
    CPU-bound jobs in (2).
.PARAMETER CpuJobSeconds
    CPU time each job of (2) burns.
.PARAMETER CpuRuns
    Runs of (2); the median makespan / ideal ratio is the figure.
.PARAMETER ShowProgress
    Lets Invoke-FeatureJob write its progress records (the default silences them).
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/Measure-Jobs.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/Measure-Jobs.ps1 -Rounds 3 -CpuRuns 1
#>
[CmdletBinding()]
param(
    [string] $Module,

    [ValidateRange(2, 1000)]
    [int] $FeatureCount = 100,

    [ValidateRange(1, 100)]
    [int] $Rounds = 10,

    [ValidateRange(0, 100)]
    [int] $WarmUpRounds = 1,

    [ValidateRange(1, 64)]
    [int] $ThrottleLimit = 2,

    [ValidateRange(1, 100)]
    [int] $CpuJobCount = 8,

    [ValidateRange(0.1, 30)]
    [double] $CpuJobSeconds = 1.0,

    [ValidateRange(1, 20)]
    [int] $CpuRuns = 3,

    [switch] $ShowProgress
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$TrivialTarget = 0.5
$CpuTarget = 1.05
$TrivialCommand = '/bin/true'

# parallel runs here without --load or --memfree, so the module's admission limits are off
# too: with them, a busy shared machine held the warm-up round for minutes.
$NoAdmission = @{ MaxLoad = 0; MinFreeMemoryMB = 0 }

function Invoke-Git {
    # Runs git for the setup and returns its output; stops the benchmark when it fails.
    param([string] $Directory, [string[]] $Arguments)
    $output = & git -C $Directory @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "git $($Arguments -join ' ') failed in '$Directory': $($output -join "`n")"
    }
    $output | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }
}

function Test-Root {
    (& id -u) -eq '0'
}

function Find-Program {
    # The full path of a program on PATH, or null.
    param([string] $Name)
    $command = Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($command) { $command.Source } else { $null }
}

function Install-AptPackage {
    # Installs a Debian package as root; tries again after 'apt-get update' when the package
    # lists are stale. Returns true when it is installed.
    param([string] $Package)
    Write-Host "Installing '$Package' with apt-get."
    $frontend = $env:DEBIAN_FRONTEND
    $env:DEBIAN_FRONTEND = 'noninteractive'
    try {
        & apt-get install -y -q $Package *> $null
        if ($LASTEXITCODE -ne 0) {
            & apt-get update -q *> $null
            & apt-get install -y -q $Package *> $null
        }
        $LASTEXITCODE -eq 0
    } finally {
        $env:DEBIAN_FRONTEND = $frontend
    }
}

function Get-ChildCpuSeconds {
    # CPU time of this process's children that have ended and been waited for (cutime and
    # cstime in /proc/self/stat, in clock ticks of 1/100 s).
    $stat = [System.IO.File]::ReadAllText('/proc/self/stat')
    $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
    ([long]$fields[13] + [long]$fields[14]) / 100
}

function Get-CpuSeconds {
    # CPU time of this process and of its children that have ended (utime, stime, cutime,
    # cstime). The module waits for its jobs itself, so their time is in it.
    $stat = [System.IO.File]::ReadAllText('/proc/self/stat')
    $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
    ([long]$fields[11] + [long]$fields[12] + [long]$fields[13] + [long]$fields[14]) / 100
}

function Get-MemoryKb {
    # A line such as VmRSS or VmHWM of /proc/<pid>/status, in KB; null when it cannot be read.
    param([string] $Field, [string] $ProcessId = 'self')
    try {
        $text = [System.IO.File]::ReadAllText("/proc/$ProcessId/status")
    } catch {
        return $null
    }
    if ($text -match "(?m)^${Field}:\s+(\d+) kB") {
        return [long]$Matches[1]
    }
    $null
}

function Reset-PeakMemory {
    # Sets this process's VmHWM back to its current RSS (Linux 4.0 and later); false when the
    # kernel refuses.
    try {
        [System.IO.File]::WriteAllText('/proc/self/clear_refs', '5')
        $true
    } catch {
        $false
    }
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
    [pscustomobject]@{
        Load = [double]$load
        Text = "load average $load, CPU pressure $pressure (last minute)"
    }
}

function New-ScratchRepository {
    # A few small files in one commit, pushed to a bare origin whose HEAD is recorded as
    # refs/remotes/origin/HEAD.
    param([string] $Root)
    $repo = Join-Path $Root 'repo'
    $origin = Join-Path $Root 'origin.git'
    $null = [System.IO.Directory]::CreateDirectory((Join-Path $repo 'src'))
    [System.IO.File]::WriteAllText((Join-Path $repo 'README.md'), "Scratch repository`n")
    for ($i = 1; $i -le 20; $i++) {
        [System.IO.File]::WriteAllText((Join-Path $repo "src/file$i.txt"), "file $i`n")
    }
    $null = Invoke-Git $Root @('init', '-q', '-b', 'main', $repo)
    $null = Invoke-Git $repo @('add', '-A')
    $null = Invoke-Git $repo @('commit', '-q', '-m', 'Add files')
    $null = Invoke-Git $Root @('init', '-q', '--bare', '-b', 'main', $origin)
    $null = Invoke-Git $repo @('remote', 'add', 'origin', $origin)
    $null = Invoke-Git $repo @('push', '-q', 'origin', 'main')
    $null = Invoke-Git $repo @('remote', 'set-head', 'origin', '--auto')
    $repo
}

function Invoke-ModuleJobs {
    # One timed invocation of Get-Feature | Invoke-FeatureJob with the trivial command.
    $cpu = Get-CpuSeconds
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $results = @(Get-Feature | Invoke-FeatureJob -Command $TrivialCommand `
            -ThrottleLimit $ThrottleLimit @NoAdmission -ErrorAction SilentlyContinue)
    $wall = $watch.Elapsed.TotalSeconds
    [pscustomobject]@{
        Wall = $wall
        Cpu = (Get-CpuSeconds) - $cpu
        Jobs = $results.Count
        Failed = @($results | Where-Object { -not $_.Succeeded }).Count
        Reasons = @($results | Where-Object { -not $_.Succeeded } |
                ForEach-Object { "$($_.Ticket): $($_.Status), $($_.Reason)" })
    }
}

function Invoke-Parallel {
    # One timed launch of GNU parallel over the folders; its joblog goes to $JobLog.
    param([string[]] $Folders, [string] $JobLog)
    $arguments = @('--will-cite', '-j', "$ThrottleLimit", '--joblog', $JobLog,
        '--workdir', '{}', $TrivialCommand, ':::') + $Folders
    $cpu = Get-ChildCpuSeconds
    $rssKb = $null
    if ($timeProgram) {
        $usage = "$JobLog.usage"
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        & $timeProgram -o $usage -f '%U %S %M' $parallelProgram @arguments
        $wall = $watch.Elapsed.TotalSeconds
        $fields = @((Get-Content -LiteralPath $usage | Select-Object -Last 1) -split ' ')
        $cpuSeconds = [double]$fields[0] + [double]$fields[1]
        $rssKb = [long]$fields[2]
    } else {
        # No GNU time: sample parallel's own VmHWM while it runs. The polling costs this
        # process a little CPU, which shares the machine with parallel's jobs.
        $start = [System.Diagnostics.ProcessStartInfo]::new($parallelProgram)
        foreach ($argument in $arguments) {
            $start.ArgumentList.Add($argument)
        }
        $start.UseShellExecute = $false
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $process = [System.Diagnostics.Process]::Start($start)
        $pidText = "$($process.Id)"
        while (-not $process.WaitForExit(10)) {
            $sample = Get-MemoryKb 'VmHWM' $pidText
            if ($null -ne $sample) {
                $rssKb = $sample
            }
        }
        $process.WaitForExit()
        $wall = $watch.Elapsed.TotalSeconds
        $process.Dispose()
        $cpuSeconds = (Get-ChildCpuSeconds) - $cpu
    }
    # The joblog: a header, then one row per job with Exitval in the seventh column.
    $rows = @(Get-Content -LiteralPath $JobLog | Select-Object -Skip 1)
    [pscustomobject]@{
        Wall = $wall
        Cpu = $cpuSeconds
        RssKb = $rssKb
        Jobs = $rows.Count
        Failed = @($rows | Where-Object { ($_ -split "`t")[6] -ne '0' }).Count
        Reasons = @($rows | Where-Object { ($_ -split "`t")[6] -ne '0' } |
                ForEach-Object { ($_ -split "`t")[6, 7, 8] -join ' ' })
    }
}

function Measure-BurnLoop {
    # Child CPU seconds of one run of the busy loop with the given number of iterations.
    param([long] $Iterations)
    $before = Get-ChildCpuSeconds
    & sh -c (New-BurnCommand $Iterations)
    (Get-ChildCpuSeconds) - $before
}

function New-BurnCommand {
    # A loop of shell built-ins only: no process is started, so it burns CPU, not wall time.
    param([long] $Iterations)
    "i=0; while [ `$i -lt $Iterations ]; do i=`$((i+1)); done"
}

function Get-BurnIterations {
    # Iterations that burn about $Seconds of CPU here, scaled from a run of at least 0.3 s
    # of CPU time (CPU time, unlike wall time, hardly depends on other load).
    param([double] $Seconds)
    $iterations = [long]20000
    while ($true) {
        $spent = Measure-BurnLoop $iterations
        if ($spent -ge 0.3) {
            break
        }
        $factor = if ($spent -lt 0.03) { 10 } else { [math]::Ceiling(0.4 / $spent) }
        $iterations *= $factor
    }
    [long]($iterations * $Seconds / $spent)
}

function Get-LaneGap {
    # Puts the results back on their lanes (each job on the lane that freed up last before it
    # started) and returns the mean wait between one job's end and the next start on a lane,
    # and how much earlier the first lane ran dry than the last one (imbalance at the end).
    param([object[]] $Results, [int] $Lanes)
    $ends = [System.Collections.Generic.List[datetimeoffset]]::new()
    $gaps = [System.Collections.Generic.List[double]]::new()
    foreach ($result in @($Results | Sort-Object Start)) {
        $best = -1
        for ($i = 0; $i -lt $ends.Count; $i++) {
            if ($ends[$i] -le $result.Start -and ($best -lt 0 -or $ends[$i] -gt $ends[$best])) {
                $best = $i
            }
        }
        if ($best -lt 0 -and $ends.Count -lt $Lanes) {
            $ends.Add($result.End)
            continue
        }
        if ($best -lt 0) {
            # Clocks disagree by a hair: take the lane that ended first.
            $best = $ends.IndexOf(($ends | Sort-Object | Select-Object -First 1))
        }
        $gaps.Add(($result.Start - $ends[$best]).TotalSeconds)
        $ends[$best] = $result.End
    }
    $sorted = @($ends | Sort-Object)
    [pscustomobject]@{
        MeanGap = if ($gaps.Count) { ($gaps | Measure-Object -Average).Average } else { 0 }
        Imbalance = ($sorted[-1] - $sorted[0]).TotalSeconds
    }
}

function Format-Verdict {
    param([double] $Ratio, [double] $Target)
    if ($Ratio -le $Target) { 'MET' } else { 'NOT MET' }
}

if (-not $IsLinux) {
    Write-Host 'This benchmark needs Linux (/proc, posix_spawn jobs, GNU parallel).'
    exit 0
}
foreach ($name in 'git', 'tmux', 'sh') {
    if (-not (Find-Program $name)) {
        Write-Host "This benchmark needs '$name' on PATH."
        exit 0
    }
}

$parallelProgram = Find-Program 'parallel'
if (-not $parallelProgram) {
    if (-not (Test-Root)) {
        Write-Host 'GNU parallel is missing. Install it, then run this again:'
        Write-Host '    sudo apt-get install -y parallel'
        exit 0
    }
    if (Install-AptPackage 'parallel') {
        $parallelProgram = Find-Program 'parallel'
    }
    if (-not $parallelProgram) {
        Write-Host 'Could not install GNU parallel. Try: apt-get update'
        Write-Host '    apt-get install -y parallel'
        exit 0
    }
}
$timeProgram = if (Test-Path '/usr/bin/time') { '/usr/bin/time' } else { $null }
if (-not $timeProgram -and (Test-Root) -and (Install-AptPackage 'time')) {
    $timeProgram = '/usr/bin/time'
}
if (-not $timeProgram) {
    Write-Host 'GNU time is missing (apt-get install -y time); sampling parallel from /proc.'
}

$root = Split-Path $PSScriptRoot -Parent
if (-not $Module) {
    $Module = Join-Path $root 'out/WorktreeTools/WorktreeTools.psd1'
    if (-not (Test-Path $Module)) {
        Write-Host 'The module is not built; building it with build.ps1.'
        & (Join-Path $root 'build.ps1')
    }
}
$Module = (Resolve-Path $Module).ProviderPath

$id = [guid]::NewGuid().ToString('n').Substring(0, 8)
$temp = Join-Path ([System.IO.Path]::GetTempPath()) "wtjobs-$id"
$socket = "wtjobs-$id"
$variables = @{
    WORKTREETOOLS_TMUX_SOCKET = $socket
    TMUX_TMPDIR = $temp
    TMUX = $null
    HOME = Join-Path $temp 'home'
    GIT_CONFIG_GLOBAL = '/dev/null'
    PARALLEL_SHELL = '/bin/sh'
    GIT_AUTHOR_NAME = 'Bench'
    GIT_AUTHOR_EMAIL = 'bench@example.invalid'
    GIT_COMMITTER_NAME = 'Bench'
    GIT_COMMITTER_EMAIL = 'bench@example.invalid'
}
$saved = @{}
$savedProgress = $ProgressPreference
$locationPushed = $false
$environmentSet = $false
try {
    foreach ($name in $variables.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
    }
    $null = New-Item -ItemType Directory $temp
    $null = New-Item -ItemType Directory (Join-Path $temp 'home')
    $environmentSet = $true
    foreach ($name in $variables.Keys) {
        [Environment]::SetEnvironmentVariable($name, $variables[$name])
    }
    if (-not $ShowProgress) {
        $ProgressPreference = 'SilentlyContinue'
    }
    Write-Host "Scratch folder $temp, tmux socket $socket"
    Write-Host "$(& $parallelProgram --will-cite --version | Select-Object -First 1)," `
        "$([Environment]::ProcessorCount) CPUs, pwsh $($PSVersionTable.PSVersion)"
    $loadBefore = Get-MachineLoad
    Write-Host "Before: $($loadBefore.Text)"

    # A copy of the module, so that a rebuild of out/ during the run changes nothing here.
    $moduleCopy = Join-Path $temp 'module'
    Copy-Item -LiteralPath (Split-Path $Module -Parent) -Destination $moduleCopy -Recurse
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    Import-Module (Join-Path $moduleCopy (Split-Path $Module -Leaf)) -Force
    Write-Host ('Import-Module: {0:n0} ms' -f $watch.Elapsed.TotalMilliseconds)

    $watch.Restart()
    $repo = New-ScratchRepository -Root $temp
    Push-Location -LiteralPath $repo
    $locationPushed = $true
    for ($n = 1; $n -le $FeatureCount; $n++) {
        $null = New-Feature "T-$n" -NoSession
    }
    $folders = @((Get-Feature).Path)
    if ($folders.Count -ne $FeatureCount) {
        throw "Expected $FeatureCount features, Get-Feature lists $($folders.Count)."
    }
    & sync
    Write-Host ('{0} features made in {1:n1} s' -f $FeatureCount, $watch.Elapsed.TotalSeconds)

    # (1) Trivial jobs. parallel is launched once per round, like the module is invoked once
    # per round: each side pays its fixed cost per command (parallel's perl start-up, the
    # module's Get-Feature and set-up) as a user typing the command line ten times would.
    # pwsh's own start-up is not counted, as the module runs in a session already open.
    # Both sides start one shell per job in the worktree, /bin/sh (PARALLEL_SHELL), which
    # execs /bin/true, and both write a joblog. A single launch over the list repeated ten
    # times is shown too, for information: it pays parallel's start-up only once.
    Write-Host ''
    Write-Host ("(1) {0} x {1} jobs of '{2}' at throttle {3}, after {4} warm-up round(s)" -f
        $Rounds, $FeatureCount, $TrivialCommand, $ThrottleLimit, $WarmUpRounds)
    $moduleRuns = [System.Collections.Generic.List[object]]::new()
    $parallelRuns = [System.Collections.Generic.List[object]]::new()
    $peakReset = $false
    $rssBefore = $hwmBefore = $null
    for ($round = 1 - $WarmUpRounds; $round -le $Rounds; $round++) {
        if ($round -eq 1) {
            # The memory figure covers the measured rounds only.
            [GC]::Collect()
            $hwmBefore = Get-MemoryKb 'VmHWM'
            $peakReset = Reset-PeakMemory
            $rssBefore = Get-MemoryKb 'VmRSS'
        }
        $sides = if ($round % 2 -ne 0) { 'module', 'parallel' } else { 'parallel', 'module' }
        $sample = @{}
        foreach ($side in $sides) {
            if ($side -eq 'module') {
                $sample.module = Invoke-ModuleJobs
            } else {
                $log = Join-Path $temp "parallel-joblog-$round"
                $sample.parallel = Invoke-Parallel -Folders $folders -JobLog $log
            }
        }
        foreach ($side in 'module', 'parallel') {
            if ($sample[$side].Jobs -ne $FeatureCount -or $sample[$side].Failed -gt 0) {
                Write-Warning ('{0}: {1} jobs, {2} not succeeded (expected {3}, 0): {4}' -f
                    $side, $sample[$side].Jobs, $sample[$side].Failed, $FeatureCount,
                    (@($sample[$side].Reasons | Select-Object -First 3) -join '; '))
            }
        }
        $label = if ($round -le 0) { 'warm-up' } else { "round $round/$Rounds" }
        Write-Host ('  {0,-12} module {1,6:n3} s, parallel {2,6:n3} s' -f $label,
            $sample.module.Wall, $sample.parallel.Wall)
        if ($round -gt 0) {
            $moduleRuns.Add($sample.module)
            $parallelRuns.Add($sample.parallel)
        }
    }
    $hwmAfter = Get-MemoryKb 'VmHWM'
    $rssAfter = Get-MemoryKb 'VmRSS'

    $once = Invoke-Parallel -Folders (@($folders) * $Rounds) `
        -JobLog (Join-Path $temp 'parallel-joblog-once')
    Write-Host ('  parallel, one launch of {0} jobs: {1:n3} s (information only)' -f
        $once.Jobs, $once.Wall)

    # Where a module invocation's fixed cost starts: Get-Feature alone, median of five.
    $listing = foreach ($i in 1..5) {
        $watch.Restart()
        $null = @(Get-Feature)
        $watch.Elapsed.TotalSeconds
    }
    $listSeconds = Get-Median $listing
    Write-Host ('  Get-Feature alone ({0} features): {1:n0} ms (median of 5)' -f
        $FeatureCount, ($listSeconds * 1000))

    # (2) CPU-bound jobs.
    Write-Host ''
    $iterations = Get-BurnIterations $CpuJobSeconds
    $burn = New-BurnCommand $iterations
    $check = Measure-BurnLoop $iterations
    Write-Host (('(2) {0} CPU-bound jobs at throttle {1}: {2:n0} loop iterations, {3:n2} s' -f
            $CpuJobCount, $ThrottleLimit, $iterations, $check) + ' of CPU in a check run')
    $cpuFeatures = @(Get-Feature | Select-Object -First $CpuJobCount)
    if ($cpuFeatures.Count -lt $CpuJobCount) {
        throw "Need $CpuJobCount features for (2), have $($cpuFeatures.Count)."
    }
    $cpuRunsDone = [System.Collections.Generic.List[object]]::new()
    for ($run = 1; $run -le $CpuRuns; $run++) {
        $watch.Restart()
        $results = @($cpuFeatures | Invoke-FeatureJob -Command $burn `
                -ThrottleLimit $ThrottleLimit @NoAdmission -ErrorAction SilentlyContinue)
        $makespan = $watch.Elapsed.TotalSeconds
        $durations = @($results | ForEach-Object { $_.Duration.TotalSeconds })
        $sum = ($durations | Measure-Object -Sum).Sum
        $ideal = $sum / $ThrottleLimit
        $first = $results.Start | Sort-Object | Select-Object -First 1
        $last = $results.End | Sort-Object | Select-Object -Last 1
        $jobCpu = ($results | ForEach-Object { $_.CpuTime.TotalSeconds } |
                Measure-Object -Sum).Sum
        $lanes = Get-LaneGap -Results $results -Lanes $ThrottleLimit
        $entry = [pscustomobject]@{
            Makespan = $makespan
            MeanGap = $lanes.MeanGap
            Imbalance = $lanes.Imbalance
            Span = ($last - $first).TotalSeconds
            Ideal = $ideal
            Ratio = $makespan / $ideal
            MeanDuration = $sum / [math]::Max(1, $durations.Count)
            JobCpu = $jobCpu
            Failed = @($results | Where-Object { -not $_.Succeeded }).Count
        }
        $cpuRunsDone.Add($entry)
        Write-Host ('  run {0}/{1}: makespan {2:n3} s, ideal {3:n3} s, ratio {4:n3};' -f
            $run, $CpuRuns, $entry.Makespan, $entry.Ideal, $entry.Ratio) `
            ('first start to last end {0:n3} s; mean job {1:n3} s, job CPU {2:n2} s' -f
            $entry.Span, $entry.MeanDuration, $entry.JobCpu)
        Write-Host ('           between jobs on a lane {0:n1} ms on average; lanes ran dry' -f
            ($entry.MeanGap * 1000)) ('{0:n3} s apart at the end' -f $entry.Imbalance)
        if ($results.Count -ne $CpuJobCount -or $entry.Failed -gt 0) {
            Write-Warning ('{0} results, {1} not succeeded' -f $results.Count, $entry.Failed)
        }
    }
    $loadAfter = Get-MachineLoad
    Write-Host "After: $($loadAfter.Text)"

    # The summary.
    $jobs = $Rounds * $FeatureCount
    $moduleWall = ($moduleRuns.Wall | Measure-Object -Sum).Sum
    $parallelWall = ($parallelRuns.Wall | Measure-Object -Sum).Sum
    $moduleCpu = ($moduleRuns.Cpu | Measure-Object -Sum).Sum
    $parallelCpu = ($parallelRuns.Cpu | Measure-Object -Sum).Sum
    $trivialRatio = $moduleWall / $parallelWall
    if ($peakReset) {
        $growthKb = $hwmAfter - $rssBefore
        $growthNote = 'VmHWM reset to RSS before round 1'
    } else {
        $growthKb = $hwmAfter - $hwmBefore
        $growthNote = 'VmHWM could not be reset: growth of the lifetime peak'
    }
    $parallelRss = ($parallelRuns | Where-Object { $null -ne $_.RssKb } |
            ForEach-Object RssKb | Measure-Object -Maximum).Maximum
    $rssHow = if ($timeProgram) { 'max RSS, /usr/bin/time' } else { 'VmHWM, sampled' }
    $rssText = if ($null -ne $parallelRss) { '{0:n1} MB' -f ($parallelRss / 1KB) } else { '?' }
    $cpuMedian = $cpuRunsDone | Sort-Object Ratio |
        Select-Object -Skip ([int][math]::Floor(($cpuRunsDone.Count - 1) / 2)) -First 1
    $progressNote = if ($ShowProgress) { 'shown' } else { 'silenced (SilentlyContinue)' }
    $trivialVerdict = Format-Verdict $trivialRatio $TrivialTarget
    $cpuVerdict = Format-Verdict $cpuMedian.Ratio $CpuTarget

    Write-Host ''
    Write-Host '==== Summary ===='
    Write-Host ('(1) {0:n0} trivial jobs: {1} invocations of {2}, throttle {3}' -f
        $jobs, $Rounds, $FeatureCount, $ThrottleLimit)
    Write-Host "    module progress records: $progressNote"
    $format = '    {0,-12} {1,-28} {2}'
    Write-Host ($format -f '', 'module', 'parallel')
    Write-Host ($format -f 'wall',
        ('{0:n3} s' -f $moduleWall), ('{0:n3} s' -f $parallelWall))
    Write-Host ($format -f 'per job',
        ('{0:n2} ms' -f ($moduleWall * 1000 / $jobs)),
        ('{0:n2} ms' -f ($parallelWall * 1000 / $jobs)))
    Write-Host ($format -f 'CPU time',
        ('{0:n2} s' -f $moduleCpu), ('{0:n2} s' -f $parallelCpu))
    Write-Host ($format -f 'peak memory',
        ('+{0:n1} MB (VmHWM growth)' -f ($growthKb / 1KB)), "$rssText ($rssHow)")
    Write-Host ('    pwsh memory: {0}; RSS {1:n1} MB before, {2:n1} MB after, peak {3:n1} MB' -f
        $growthNote, ($rssBefore / 1KB), ($rssAfter / 1KB), ($hwmAfter / 1KB))
    Write-Host ('    information: parallel once over all {0} jobs {1:n3} s;' -f
        $once.Jobs, $once.Wall) ('Get-Feature alone {0:n0} ms' -f ($listSeconds * 1000))
    Write-Host ('    RATIO module/parallel (wall) {0:n3}, target <= {1}: {2}' -f
        $trivialRatio, $TrivialTarget, $trivialVerdict)
    Write-Host ('(2) {0} CPU-bound jobs of ~{1:n1} s CPU, throttle {2}, median of {3} run(s)' -f
        $CpuJobCount, $CpuJobSeconds, $ThrottleLimit, $CpuRuns)
    Write-Host ('    makespan {0:n3} s, ideal (sum of Duration / {1}) {2:n3} s' -f
        $cpuMedian.Makespan, $ThrottleLimit, $cpuMedian.Ideal)
    Write-Host ('    (first start to last end {0:n3} s, {1:n1} ms between jobs on a lane,' -f
        $cpuMedian.Span, ($cpuMedian.MeanGap * 1000)) ('lanes ended {0:n3} s apart)' -f
        $cpuMedian.Imbalance)
    Write-Host ('    RATIO makespan/ideal {0:n3}, target <= {1}: {2}' -f
        $cpuMedian.Ratio, $CpuTarget, $cpuVerdict)
    $busiest = [math]::Max($loadBefore.Load, $loadAfter.Load)
    if ($busiest -gt [Environment]::ProcessorCount) {
        Write-Host (('Note: load average up to {0} on {1} CPUs, so other work ran meanwhile;' -f
                $busiest, [Environment]::ProcessorCount) + ' rerun on a quiet machine.')
    }
} finally {
    $ProgressPreference = $savedProgress
    if ($locationPushed) {
        Pop-Location
    }
    Write-Host 'Cleaning up the tmux server and the scratch folder.'
    if ($environmentSet) {
        # While TMUX_TMPDIR still points into the scratch folder: only our server is hit.
        & tmux -L $socket kill-server *> $null
    }
    foreach ($name in $saved.Keys) {
        [Environment]::SetEnvironmentVariable($name, $saved[$name])
    }
    if (Test-Path -LiteralPath $temp) {
        & rm -rf -- $temp
    }
}
exit 0
