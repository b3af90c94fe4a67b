# Shared fixtures for the WorktreeTools Pester suite: throw-away repositories with a bare
# origin, a private tmux server per test file, deadline polling and process checks.
# Nothing here touches the user's home, tmux server or the WorktreeTools repository itself.

Set-StrictMode -Version Latest

# Environment variables a test file changes, saved so Exit-TestEnvironment can put them back.
$script:SavedEnvironment = $null
$script:TestHome = $null
$script:ChildScript = $null

$script:IdentityVariables = [ordered]@{
    GIT_AUTHOR_NAME     = 'Pester Tester'
    GIT_AUTHOR_EMAIL    = 'pester@example.invalid'
    GIT_COMMITTER_NAME  = 'Pester Tester'
    GIT_COMMITTER_EMAIL = 'pester@example.invalid'

    # The user's own git settings (hooks, default branch, signing) must not leak in.
    GIT_CONFIG_GLOBAL   = '/dev/null'
    GIT_CONFIG_NOSYSTEM = '1'
    GIT_TERMINAL_PROMPT = '0'
}

# The parameters that turn the load limit off for the cmdlets that start jobs.
$script:NoLoadLimit = 'Invoke-FeatureJob:MaxLoad', 'Start-FeatureJobRunner:MaxLoad'

function Enter-TestEnvironment {
    <#
    .SYNOPSIS
        Sets a git identity, an empty home folder, a plain shell and a private tmux socket
        for one test file; returns the socket name.
    .DESCRIPTION
        The empty home keeps the user's ~/.tmux.conf, ~/.bashrc and git settings out of the
        tests (and keeps the tests out of the user's home); /bin/sh as SHELL makes the
        windows' shells start fast and read no profile.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()

    $id = "$PID-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $script:TestHome = Join-Path ([IO.Path]::GetTempPath()) "wt-pester-home-$id"
    $null = New-Item -ItemType Directory -Path $script:TestHome -Force
    $variables = [ordered]@{}
    $variables += $script:IdentityVariables
    $variables.HOME = $script:TestHome
    $variables.XDG_CONFIG_HOME = Join-Path $script:TestHome '.config'
    $variables.SHELL = '/bin/sh'
    $variables.WORKTREETOOLS_TMUX_SOCKET = "wt-pester-$id"

    $script:SavedEnvironment = @{}
    foreach ($name in $variables.Keys) {
        $script:SavedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $variables[$name])
    }

    # The machine's load comes from the suite itself (the build and the tests before): it must
    # not hold the jobs of tests about something else. The admission tests set a limit.
    foreach ($name in $script:NoLoadLimit) {
        $global:PSDefaultParameterValues[$name] = 0
    }
    $env:WORKTREETOOLS_TMUX_SOCKET
}

function Exit-TestEnvironment {
    <#
    .SYNOPSIS
        Ends the private tmux server (and every process left in it), restores the environment
        that Enter-TestEnvironment changed and deletes the test home folder.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Socket)

    Remove-TestTmuxServer -Socket $Socket
    foreach ($name in $script:NoLoadLimit) {
        $global:PSDefaultParameterValues.Remove($name)
    }
    if ($null -ne $script:SavedEnvironment) {
        foreach ($name in $script:SavedEnvironment.Keys) {
            [Environment]::SetEnvironmentVariable($name, $script:SavedEnvironment[$name])
        }
        $script:SavedEnvironment = $null
    }
    if ($script:TestHome -and (Test-Path $script:TestHome)) {
        Remove-Item $script:TestHome -Recurse -Force
        $script:TestHome = $null
    }
    if ($script:ChildScript) {
        Remove-Item -LiteralPath $script:ChildScript -ErrorAction SilentlyContinue
        $script:ChildScript = $null
    }
}

function Invoke-Git {
    <#
    .SYNOPSIS
        Runs git in a folder and returns its output lines; throws when git fails.
    .NOTES
        A simple function on purpose: git's options such as -p must not be taken for
        PowerShell's common parameters. Usage: Invoke-Git <path> <git arguments...>
    #>
    $path, $arguments = $args
    $output = & git -C $path @arguments 2>&1
    if ($LASTEXITCODE -ne 0) {
        $text = $output -join "`n"
        throw "git $($arguments -join ' ') failed in '$path' ($LASTEXITCODE): $text"
    }
    $output | Where-Object { $_ -is [string] }
}

function Get-GitBranch {
    <#
    .SYNOPSIS
        The local branch names of a repository that match a pattern ('*' for all).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [string] $Pattern = '*'
    )

    Invoke-Git $Path for-each-ref '--format=%(refname:short)' refs/heads |
        Where-Object { $_ -like $Pattern }
}

function Test-GitBranch {
    <#
    .SYNOPSIS
        True when the repository has a local branch of exactly this name.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [string] $Name
    )

    & git -C $Path show-ref --verify --quiet "refs/heads/$Name"
    $LASTEXITCODE -eq 0
}

function Get-GitWorktreePath {
    <#
    .SYNOPSIS
        The worktree paths git has registered for a repository, main first.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Path)

    Invoke-Git $Path worktree list --porcelain |
        Where-Object { $_ -like 'worktree *' } |
        ForEach-Object { $_.Substring('worktree '.Length) }
}

function New-TestCommit {
    <#
    .SYNOPSIS
        Writes a file in a worktree and commits it; returns the new commit id.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [string] $File = "file-$([guid]::NewGuid().ToString('N').Substring(0, 8)).txt",
        [string] $Content = "content of $File",
        [string] $Message = "Add $File"
    )

    $target = Join-Path $Path $File
    $folder = Split-Path $target -Parent
    if (-not (Test-Path $folder)) {
        $null = New-Item -ItemType Directory -Path $folder -Force
    }
    [IO.File]::WriteAllText($target, $Content)
    $null = Invoke-Git $Path add '--' $File
    $null = Invoke-Git $Path commit -q -m $Message
    Invoke-Git $Path rev-parse HEAD
}

function New-TestRepository {
    <#
    .SYNOPSIS
        Makes a bare origin and a clone of it with one pushed commit; returns the clone path.
    .DESCRIPTION
        The layout is <Root>/<Name>/origin.git and <Root>/<Name>/clone, so features land in
        <Root>/<Name>/worktrees. The first commit holds README.md and a .gitignore that
        ignores .env and node_modules/. refs/remotes/origin/HEAD is set unless
        -NoRemoteHead. A configuration text is written, uncommitted, as .worktreetools.psd1.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Root,
        [string] $Name = "repo-$([guid]::NewGuid().ToString('N').Substring(0, 8))",
        [string] $DefaultBranch = 'main',
        [string] $Config,
        [switch] $NoRemoteHead
    )

    $folder = Join-Path $Root $Name
    $origin = Join-Path $folder 'origin.git'
    $clone = Join-Path $folder 'clone'
    $null = New-Item -ItemType Directory -Path $folder -Force

    $null = Invoke-Git $folder init -q --bare -b $DefaultBranch $origin
    $null = Invoke-Git $folder clone -q $origin $clone
    $null = Invoke-Git $clone symbolic-ref HEAD "refs/heads/$DefaultBranch"

    [IO.File]::WriteAllText((Join-Path $clone 'README.md'), "# Fixture`n")
    [IO.File]::WriteAllText((Join-Path $clone '.gitignore'), ".env`nnode_modules/`n")
    $null = Invoke-Git $clone add README.md .gitignore
    $null = Invoke-Git $clone commit -q -m 'Initial commit'
    $null = Invoke-Git $clone push -q -u origin $DefaultBranch

    # A clone of an empty repository has no origin/HEAD; set it as a real clone would have.
    if ($NoRemoteHead) {
        & git -C $clone symbolic-ref --delete refs/remotes/origin/HEAD 2>$null
    } else {
        $null = Invoke-Git $clone remote set-head origin --auto
    }

    if ($PSBoundParameters.ContainsKey('Config')) {
        [IO.File]::WriteAllText((Join-Path $clone '.worktreetools.psd1'), $Config)
    }
    $clone
}

function Get-TestWorktreePath {
    <#
    .SYNOPSIS
        Where New-Feature puts the worktree of a ticket with the default WorktreeRoot.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Repository,
        [Parameter(Mandatory)] [string] $Ticket
    )

    [IO.Path]::GetFullPath((Join-Path $Repository "../worktrees/$Ticket"))
}

function Wait-Until {
    <#
    .SYNOPSIS
        Polls a condition until it is true; throws when the deadline passes first.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [scriptblock] $Condition,
        [double] $TimeoutSec = 10,
        [int] $IntervalMs = 50,
        [string] $Because = "the condition $Condition"
    )

    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ($true) {
        if (& $Condition) {
            return
        }
        if ([DateTime]::UtcNow -ge $deadline) {
            throw "Timed out after $TimeoutSec s waiting for $Because."
        }
        Start-Sleep -Milliseconds $IntervalMs
    }
}

function Invoke-Tmux {
    <#
    .SYNOPSIS
        Runs tmux on the private socket; returns output lines, or nothing when tmux fails.
    .NOTES
        A simple function, like Invoke-Git. Usage: Invoke-Tmux <socket> <tmux arguments...>
    #>
    $socket, $arguments = $args
    $output = & tmux -L $socket @arguments 2>$null
    if ($LASTEXITCODE -eq 0) {
        $output
    }
}

function Test-TmuxSession {
    <#
    .SYNOPSIS
        True when a session of exactly this name runs on the private socket.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)] [string] $Socket,
        [Parameter(Mandatory)] [string] $Name
    )

    & tmux -L $Socket has-session -t "=$Name" 2>$null
    $LASTEXITCODE -eq 0
}

function Get-TmuxSession {
    <#
    .SYNOPSIS
        The names of the sessions on the private socket.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Socket)

    Invoke-Tmux $Socket list-sessions -F '#{session_name}'
}

function Get-TmuxWindow {
    <#
    .SYNOPSIS
        The window names of one session, in order.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Socket,
        [Parameter(Mandatory)] [string] $Session
    )

    Invoke-Tmux $Socket list-windows -t "=$Session" -F '#{window_name}'
}

function Get-ProcessState {
    # The one-letter state of a process from /proc, or $null when it is gone.
    param([int] $Id)

    try {
        $stat = [IO.File]::ReadAllText("/proc/$Id/stat")
    } catch {
        return $null
    }
    $close = $stat.LastIndexOf(')')
    $stat.Substring($close + 2, 1)
}

function Test-ProcessAlive {
    <#
    .SYNOPSIS
        True when the process runs. A zombie counts as ended: it runs no code, and in a
        container nobody may reap it.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param([Parameter(Mandatory)] [int] $Id)

    $state = Get-ProcessState -Id $Id
    $null -ne $state -and $state -notin 'Z', 'X'
}

function Get-ProcessTree {
    <#
    .SYNOPSIS
        The given process ids and all their live descendants, read from /proc.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param([Parameter(Mandatory)] [int[]] $Id)

    $children = @{}
    foreach ($folder in [IO.Directory]::EnumerateDirectories('/proc')) {
        $candidate = 0
        if (-not [int]::TryParse([IO.Path]::GetFileName($folder), [ref] $candidate)) {
            continue
        }
        try {
            $stat = [IO.File]::ReadAllText("$folder/stat")
        } catch {
            continue
        }
        $parent = [int]$stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[1]
        if (-not $children.ContainsKey($parent)) {
            $children[$parent] = [Collections.Generic.List[int]]::new()
        }
        $children[$parent].Add($candidate)
    }

    $found = [Collections.Generic.List[int]]::new()
    $pending = [Collections.Generic.Queue[int]]::new([int[]]$Id)
    while ($pending.Count -gt 0) {
        $current = $pending.Dequeue()
        if ($found.Contains($current) -or -not (Test-ProcessAlive -Id $current)) {
            continue
        }
        $found.Add($current)
        if ($children.ContainsKey($current)) {
            foreach ($child in $children[$current]) {
                $pending.Enqueue($child)
            }
        }
    }
    $found
}

function Get-ProcessName {
    <#
    .SYNOPSIS
        The command name of a process (as in /proc/<pid>/comm), or $null when it is gone.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [int] $Id)

    try {
        [IO.File]::ReadAllText("/proc/$Id/comm").Trim()
    } catch {
        $null
    }
}

function Get-TmuxPaneProcess {
    <#
    .SYNOPSIS
        The process ids of every pane of a session (or of all sessions) and their descendants.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory)] [string] $Socket,
        [string] $Session
    )

    $scope = @(if ($Session) { '-s', '-t', "=$Session" } else { '-a' })
    $panes = Invoke-Tmux $Socket list-panes @scope -F '#{pane_pid}'
    if ($panes) {
        Get-ProcessTree -Id ([int[]]@($panes))
    }
}

function Remove-TestTmuxServer {
    <#
    .SYNOPSIS
        Kills a private tmux server and every process its panes started, even those that
        ignore SIGHUP, so no test leaves a process behind.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Socket)

    if (-not $Socket.StartsWith('wt-pester-')) {
        throw "Refusing to kill the tmux server '$Socket': it is not a test socket."
    }
    $leftovers = @(Get-TmuxPaneProcess -Socket $Socket)
    & tmux -L $Socket kill-server 2>$null

    # tmux leaves its socket file behind; it lives in $TMUX_TMPDIR (or /tmp)/tmux-<uid>.
    $folder = if ($env:TMUX_TMPDIR) { $env:TMUX_TMPDIR } else { '/tmp' }
    $file = Join-Path $folder "tmux-$(& id -u)/$Socket"
    Remove-Item -LiteralPath $file -Force -ErrorAction Ignore
    foreach ($id in $leftovers) {
        if (Test-ProcessAlive -Id $id) {
            try {
                [Diagnostics.Process]::GetProcessById($id).Kill()
            } catch {
                Write-Verbose "Process $id ended before it could be killed."
            }
        }
    }
}

function Stop-WhenHeld {
    <#
    .SYNOPSIS
        Runs a command of the module in a runspace of its own until a progress record says it
        holds its work back, then stops it; returns that record and whether it stopped.
    .DESCRIPTION
        For the admission tests: the command must wait (for memory, say) before it starts any
        job. The runspace imports the module under test and goes to -Repository first.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Repository,
        [Parameter(Mandatory)] [string] $Command,
        [Parameter(Mandatory)] [string] $Waiting
    )

    $ps = [powershell]::Create()
    try {
        $null = $ps.AddScript({
                param($Module, $Repository, $Command)
                Import-Module $Module
                Set-Location -LiteralPath $Repository
                & ([scriptblock]::Create($Command))
            }.ToString())
        $null = $ps.AddArgument($env:WORKTREETOOLS_MODULE).AddArgument($Repository)
        $null = $ps.AddArgument($Command)
        $null = $ps.BeginInvoke()
        Wait-Until -TimeoutSec 15 -Because "a progress record that says '$Waiting'" {
            $ps.Streams.Progress | Where-Object StatusDescription -Like $Waiting
        }
        $record = $ps.Streams.Progress | Where-Object StatusDescription -Like $Waiting |
            Select-Object -First 1
        $stop = $ps.BeginStop($null, $null)
        [pscustomobject]@{
            Progress = $record
            Stopped  = $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(20))
        }
    } finally {
        $ps.Dispose()
    }
}

function Get-PwshCommand {
    <#
    .SYNOPSIS
        The program and first arguments that start a new pwsh like this one.
    .NOTES
        pwsh as a local dotnet tool runs as 'dotnet pwsh.dll'.
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param()

    $pwsh = @([Environment]::ProcessPath)
    if ([IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') {
        $pwsh += Join-Path $PSHOME 'pwsh.dll'
    }
    $pwsh
}

function Start-PwshProcess {
    <#
    .SYNOPSIS
        Starts a separate pwsh that imports the module, goes to the repository and runs one
        command line, writing everything it prints to the output file; returns the process.
    #>
    [CmdletBinding()]
    [OutputType([Diagnostics.Process])]
    param([string] $Repository, [string] $Line, [string] $Output)

    if (-not $script:ChildScript) {
        $script:ChildScript = Join-Path ([IO.Path]::GetTempPath()) "wt-pester-child-$PID.ps1"
        Set-Content -LiteralPath $script:ChildScript -Value @'
param([string] $Module, [string] $Repository, [string] $Command, [string] $Output)
$ErrorActionPreference = 'Stop'
$PSDefaultParameterValues['*-FeatureJob*:MaxLoad'] = 0
try {
    Import-Module $Module
    Set-Location -LiteralPath $Repository
    & ([scriptblock]::Create($Command)) *> $Output
} catch {
    "$_" | Add-Content -LiteralPath $Output
    exit 1
}
'@
    }
    $pwsh = Get-PwshCommand
    $start = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
    $arguments = @($pwsh | Select-Object -Skip 1) + @(
        '-NoProfile', '-NonInteractive', '-File', $script:ChildScript, '-Module',
        $env:WORKTREETOOLS_MODULE, '-Repository', $Repository, '-Command', $Line,
        '-Output', $Output
    )
    foreach ($argument in $arguments) {
        $start.ArgumentList.Add($argument)
    }
    $start.UseShellExecute = $false
    $start.WorkingDirectory = $Repository
    [Diagnostics.Process]::Start($start)
}

Export-ModuleMember -Function @(
    'Enter-TestEnvironment'
    'Exit-TestEnvironment'
    'Invoke-Git'
    'Get-GitBranch'
    'Test-GitBranch'
    'Get-GitWorktreePath'
    'New-TestCommit'
    'New-TestRepository'
    'Get-TestWorktreePath'
    'Wait-Until'
    'Invoke-Tmux'
    'Test-TmuxSession'
    'Get-TmuxSession'
    'Get-TmuxWindow'
    'Test-ProcessAlive'
    'Get-ProcessTree'
    'Get-ProcessName'
    'Get-TmuxPaneProcess'
    'Remove-TestTmuxServer'
    'Stop-WhenHeld'
    'Get-PwshCommand'
    'Start-PwshProcess'
)
