<#
.SYNOPSIS
    Builds, tests and demonstrates the WorktreeTools module.
.DESCRIPTION
    Build (the default) leaves an importable module in out/WorktreeTools. Test builds it, runs
    the xunit and Pester suites and ends with one line "N passed, N failed". Demo builds it
    and runs the main job on a scratch clone of this repository, or of -Repository.
.EXAMPLE
    dotnet tool restore && dotnet pwsh -NoProfile -File ./build.ps1 Test
.EXAMPLE
    dotnet pwsh -NoProfile -File ./build.ps1 Demo -Repository https://example.org/some/repo.git
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'Demo')]
    [string] $Task = 'Build',

    # Demo only: the repository (path or URL) to clone and demonstrate on.
    [string] $Repository = $PSScriptRoot,

    # Test only: run just the Pester files whose names match, such as 'Stop-Feature'.
    [string] $Filter = '*'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$env:NO_COLOR = '1'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

$root = $PSScriptRoot
$out = Join-Path $root 'out'
$moduleDir = Join-Path $out 'WorktreeTools'

function Invoke-Native {
    # Runs a program and stops the build when it fails.
    param([string] $Program, [string[]] $Arguments)
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "'$Program $($Arguments -join ' ')' failed with exit code $LASTEXITCODE."
    }
}

function Invoke-Build {
    $rid = [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
    Write-Host "Building the module for $rid into $moduleDir"
    if (Test-Path $moduleDir) {
        Remove-Item $moduleDir -Recurse -Force
    }

    # Publishing for the runtime puts libgit2's native library next to the dll, where pwsh
    # looks for it (it does not search runtimes/<rid>/native).
    Invoke-Native dotnet @(
        'publish', (Join-Path $root 'src/WorktreeTools/WorktreeTools.csproj'),
        '-c', 'Release', '-r', $rid, '--self-contained', 'false',
        '-o', $moduleDir, '--nologo', '-v', 'quiet'
    )
    Copy-Item (Join-Path $root 'WorktreeTools.psd1') $moduleDir
    Copy-Item (Join-Path $root 'src/WorktreeTools/WorktreeTools.format.ps1xml') $moduleDir
    $templates = New-Item -ItemType Directory -Path (Join-Path $moduleDir 'templates') -Force
    Copy-Item (Join-Path $root 'src/WorktreeTools/Templates/*.md') $templates

    $help = Join-Path $moduleDir 'en-US/WorktreeTools.dll-Help.xml'
    $converter = Join-Path $root 'build/Convert-HelpMarkdown.ps1'
    & $converter -Path (Join-Path $root 'docs') -OutFile $help | Out-Null
    Write-Host "Module ready: $(Join-Path $moduleDir 'WorktreeTools.psd1')"
}

function Get-PesterModulePath {
    # Pester comes from NuGet: restoring this project downloads it into the package folder.
    $project = Join-Path $root 'tests/Pester/PesterRestore.proj'
    Invoke-Native dotnet @('restore', $project, '--nologo', '-v', 'quiet')
    $line = dotnet nuget locals global-packages --list
    $packages = ($line -replace '^global-packages:\s*', '').Trim()
    $version = (Select-Xml -Path $project -XPath '//PackageDownload').Node.Version.Trim('[', ']')
    Join-Path $packages "pester/$version/tools/Pester.psd1"
}

function Install-TestTools {
    # The report test renders a page in Debian's Chromium, which a fresh machine lacks. It is
    # installed as root, or through sudo when that needs no password; otherwise the test that
    # needs it fails and says why.
    if (Get-Command chromium -CommandType Application -ErrorAction SilentlyContinue) {
        return
    }
    if (-not (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)) {
        Write-Warning 'Chromium is missing and there is no apt-get: install chromium yourself.'
        return
    }
    $program, $prefix = 'apt-get', @()
    if ((id -u) -ne '0') {
        & sudo -n true 2>$null
        if ($LASTEXITCODE -ne 0) {
            Write-Warning 'Chromium is missing: run "sudo apt-get install -y chromium".'
            return
        }
        $program, $prefix = 'sudo', @('-n', 'apt-get')
    }
    Write-Host 'Installing Chromium for the report test (apt-get install chromium)'
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & $program @prefix update -qq | Out-Host
    & $program @prefix install -y -qq chromium | Out-Host
    if ($LASTEXITCODE -ne 0) {
        Write-Warning "apt-get could not install chromium (exit code $LASTEXITCODE)."
    }
}

function Hide-AgentPrograms {
    # The tests make features with the default configuration, whose agent is 'claude', and
    # read pull requests with 'gh'. Where those are installed, the tests would start the
    # user's real agent (with the user's account) and ask GitHub. So the tests run with a
    # PATH of one folder that links every program on the caller's PATH except these; the
    # tests that need a gh bring their own fake. Returns the folder, to remove afterwards.
    $hidden = 'claude', 'codex', 'aider', 'gemini', 'gh'
    $bin = Join-Path ([IO.Path]::GetTempPath()) "worktreetools-test-bin-$PID"
    if (Test-Path -LiteralPath $bin) {
        [IO.Directory]::Delete($bin, $true)
    }
    $null = New-Item -ItemType Directory -Path $bin -Force
    $linked = [Collections.Generic.HashSet[string]]::new()
    foreach ($folder in $env:PATH -split [IO.Path]::PathSeparator) {
        if (-not [IO.Path]::IsPathRooted($folder) -or -not (Test-Path -LiteralPath $folder)) {
            continue
        }
        try {
            $files = [IO.Directory]::GetFiles($folder)
        } catch [UnauthorizedAccessException] {
            continue
        }
        foreach ($file in $files) {
            $name = [IO.Path]::GetFileName($file)
            if ($name -notin $hidden -and $linked.Add($name)) {
                $null = [IO.File]::CreateSymbolicLink((Join-Path $bin $name), $file)
            }
        }
    }
    $env:PATH = $bin
    $bin
}

function Invoke-UnitTests {
    $results = Join-Path $out 'TestResults'
    Remove-Item $results -Recurse -Force -ErrorAction SilentlyContinue
    & dotnet test (Join-Path $root 'tests/Unit/WorktreeTools.Tests.csproj') `
        --nologo --logger 'trx;LogFileName=unit.trx' --results-directory $results `
        -v quiet | Out-Host
    $trx = Join-Path $results 'unit.trx'
    if (-not (Test-Path $trx)) {
        return [pscustomobject]@{ Passed = 0; Failed = 1 }
    }
    $counters = ([xml](Get-Content $trx -Raw)).TestRun.ResultSummary.Counters
    $failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout
    if ($LASTEXITCODE -ne 0 -and $failed -eq 0) {
        $failed = 1
    }
    [pscustomobject]@{ Passed = [int]$counters.passed; Failed = $failed }
}

function Invoke-PesterTests {
    # Pester runs in its own pwsh so the module under test is loaded fresh.
    $pester = Get-PesterModulePath
    $script = {
        param($Pester, $Tests, $Filter, $Module)
        $env:WORKTREETOOLS_MODULE = $Module
        Import-Module $Pester -Force
        $config = New-PesterConfiguration
        $config.Run.Path = @(
            Get-ChildItem $Tests -Filter "$Filter.Tests.ps1" | ForEach-Object FullName
        )
        $config.Run.PassThru = $true
        $config.Output.Verbosity = 'Normal'
        $result = Invoke-Pester -Configuration $config
        $failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        if ($result.Result -ne 'Passed' -and $failed -eq 0) {
            $failed = 1
        }
        "PESTER-COUNTS $($result.PassedCount) $failed"
    }
    $arguments = @(
        $pester,
        (Join-Path $root 'tests/Pester'),
        $Filter,
        (Join-Path $moduleDir 'WorktreeTools.psd1')
    )
    # Text output: given a script block, pwsh sends CLIXML and the host lines show twice.
    $lines = & dotnet pwsh -NoProfile -NonInteractive -OutputFormat Text -Command $script `
        -args $arguments
    $counts = $null
    foreach ($line in $lines) {
        if ("$line" -match '^PESTER-COUNTS (\d+) (\d+)$') {
            $counts = [pscustomobject]@{ Passed = [int]$Matches[1]; Failed = [int]$Matches[2] }
        } else {
            Write-Host $line
        }
    }
    if (-not $counts) {
        return [pscustomobject]@{ Passed = 0; Failed = 1 }
    }
    $counts
}

switch ($Task) {
    'Build' {
        Invoke-Build
    }
    'Test' {
        Invoke-Build
        Install-TestTools
        $path = $env:PATH
        $bin = Hide-AgentPrograms
        try {
            $unit = Invoke-UnitTests
            $pester = Invoke-PesterTests
        } finally {
            $env:PATH = $path
            # Deletes the links, never what they point to.
            [IO.Directory]::Delete($bin, $true)
        }
        $passed = $unit.Passed + $pester.Passed
        $failed = $unit.Failed + $pester.Failed
        Write-Host ("xunit: $($unit.Passed) passed, $($unit.Failed) failed; " +
            "Pester: $($pester.Passed) passed, $($pester.Failed) failed")
        Write-Host "$passed passed, $failed failed"
        exit ([int]($failed -gt 0))
    }
    'Demo' {
        Invoke-Build
        & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root 'build/Invoke-Demo.ps1') `
            -Module (Join-Path $moduleDir 'WorktreeTools.psd1') -Repository $Repository
        exit $LASTEXITCODE
    }
}
