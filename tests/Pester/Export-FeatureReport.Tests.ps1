BeforeAll {
    Import-Module $env:WORKTREETOOLS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $Socket = Enter-TestEnvironment
    $Command = 'WorktreeTools.Commands.ExportFeatureReportCommand'

    $repo = New-TestRepository -Root $TestDrive -Name 'report-repo'
    Push-Location $repo
    $null = New-Feature REP-1 'Passes' -NoSession
    $null = New-Feature REP-2 'Fails <b>loudly</b>' -NoSession
    # The runs last long enough to draw bars wide enough to count in the screenshot.
    $job = 'echo "checking $FEATURE_TICKET"; sleep 0.4; [ "$FEATURE_TICKET" != REP-2 ] || ' +
        '{ echo "error: REP-2 is broken"; exit 2; }'
    $null = Get-Feature | Invoke-FeatureJob -Command $job -ErrorAction SilentlyContinue
}

AfterAll {
    Pop-Location
    Exit-TestEnvironment -Socket $Socket
}

Describe 'Export-FeatureReport' {
    Context 'a report of two features, one failed' {
        BeforeAll {
            $file = Export-FeatureReport -Path 'report.html' -NoRemote -PassThru
            $html = Get-Content -Raw -Path (Join-Path $repo 'report.html')
        }

        It 'writes the file at the path relative to the current location' {
            $file | Should -BeOfType ([IO.FileInfo])
            $file.FullName | Should -BeExactly (Join-Path $repo 'report.html')
        }

        It 'highlights the failed feature with its reason and error lines' {
            ([regex]::Matches($html, '<tr class="failed">')).Count | Should -Be 1
            $html | Should -BeLike '*REP-2 is broken*'
            $html | Should -BeLike '*the last run of the job*command*failed*'
        }

        It 'draws a bar for each run in an inline SVG timeline' {
            ([regex]::Matches($html, '<rect ')).Count | Should -Be 2
            $html | Should -BeLike '*<svg xmlns=*'
        }

        It 'loads nothing and runs nothing' {
            $html | Should -Not -BeLike '*<script*'
            $html | Should -Not -Match '<[^>]*\s(src|href)\s*='
            $html | Should -Not -BeLike '*<b>loudly*'
        }
    }

    Context 'the page in a browser' {
        BeforeAll {
            $browser = Get-Command chromium -CommandType Application -ErrorAction SilentlyContinue
            $page = Join-Path $TestDrive 'browser.html'
            $png = Join-Path $TestDrive 'browser.png'
            Export-FeatureReport -Path $page -NoRemote
            if ($browser) {
                $chromeProfile = Join-Path $TestDrive 'chromium-profile'
                $arguments = @(
                    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                    '--disable-background-networking', '--disable-component-update',
                    '--disable-sync', '--force-color-profile=srgb', '--hide-scrollbars',
                    "--user-data-dir=$chromeProfile", '--window-size=1280,900',
                    "--screenshot=$png", ([uri]"file://$page").AbsoluteUri
                )
                $null = & $browser[0].Source @arguments 2>&1
            }
            Add-Type -Path (Join-Path $PSScriptRoot 'PngPixels.cs')
        }

        It 'renders in headless Chromium with the failure and both runs visible' {
            $browser | Should -Not -BeNullOrEmpty -Because (
                'build.ps1 Test installs Chromium (the Debian package chromium) when it can')
            Test-Path $png | Should -BeTrue
            $highlight = [WorktreeTools.Tests.PngPixels]::Count($png, '#f8d7da')
            $passed = [WorktreeTools.Tests.PngPixels]::Count($png, '#2e7d32')
            $failed = [WorktreeTools.Tests.PngPixels]::Count($png, '#c62828')
            $highlight | Should -BeGreaterThan 2000 -Because 'the failed row is highlighted'
            $passed | Should -BeGreaterThan 1500 -Because 'the passing run has a green bar'
            $failed | Should -BeGreaterThan 1500 -Because 'the failing run has a red bar'
        }
    }

    Context 'refusals' {
        It 'writes nothing with -WhatIf' {
            $target = Join-Path $TestDrive 'whatif.html'
            Export-FeatureReport -Path $target -NoRemote -WhatIf
            Test-Path $target | Should -BeFalse
        }

        It 'keeps an existing file with -NoClobber' {
            $target = Join-Path $TestDrive 'kept.html'
            Set-Content -Path $target -Value 'mine'
            { Export-FeatureReport -Path $target -NoRemote -NoClobber -ErrorAction Stop } |
                Should -Throw -ErrorId "ReportFileExists,$Command"
            Get-Content $target | Should -BeExactly 'mine'
        }

        It 'refuses a folder as the path' {
            { Export-FeatureReport -Path $TestDrive -NoRemote -ErrorAction Stop } |
                Should -Throw -ErrorId "ReportPathIsFolder,$Command"
        }

        It 'refuses a path of another provider, and writes no file' {
            # Before, the page landed as a file of this name in the process's own folder.
            $stray = Join-Path ([Environment]::CurrentDirectory) 'wt-report-stray'
            try {
                { Export-FeatureReport -Path 'Variable:\wt-report-stray' -NoRemote -EA Stop } |
                    Should -Throw -ErrorId "ReportPathNotFile,$Command"
                Test-Path $stray | Should -BeFalse
            } finally {
                Remove-Item -LiteralPath $stray -ErrorAction SilentlyContinue
            }
        }

        It 'writes nothing, and keeps an older report, when a ticket matches no feature' {
            $target = Join-Path $TestDrive 'older.html'
            Set-Content -Path $target -Value 'older report'
            Export-FeatureReport -Path $target -Ticket REP-1, NOPE-1 -NoRemote `
                -ErrorVariable failures -ErrorAction SilentlyContinue -WarningVariable warnings `
                -WarningAction SilentlyContinue
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -BeExactly "FeatureNotFound,$Command"
            "$warnings" | Should -BeLike '*No report was written*match no feature*'
            Get-Content $target | Should -BeExactly 'older report'
        }

        It 'says which folder is missing, and leaves nothing behind' {
            $target = Join-Path $TestDrive 'no-such-folder/report.html'
            { Export-FeatureReport -Path $target -NoRemote -ErrorAction Stop } |
                Should -Throw -ErrorId "ReportWriteFailed,$Command"
            Test-Path (Split-Path $target) | Should -BeFalse
        }
    }

    Context 'features from the pipeline' {
        It 'reports only the piped features' {
            $target = Join-Path $TestDrive 'one.html'
            Get-Feature REP-1 | Export-FeatureReport -Path $target -NoRemote
            $html = Get-Content -Raw $target
            $html | Should -BeLike '*REP-1*'
            $html | Should -Not -BeLike '*REP-2*'
        }
    }
}
