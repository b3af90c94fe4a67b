<#
.SYNOPSIS
    Converts the cmdlet help pages in docs/ into the module's MAML help file.

.DESCRIPTION
    Reads every <Verb>-<Noun>.md page in -Path (other markdown files, such as
    ARCHITECTURE.md, are skipped) and writes one MAML file that Get-Help reads for the
    cmdlets of the binary module, e.g. out/WorktreeTools/en-US/WorktreeTools.dll-Help.xml.

    A page has this layout; headings inside fenced code blocks are ignored:

        # Verb-Noun                  the cmdlet name, equal to the file name
        ## Synopsis                  required
        ## Description               required
        ## Parameters                ### -Name per parameter; its first paragraph is the
                                     metadata, for example
                                     Type: String[]; Position: 0; Required: yes;
                                     Pipeline input: ByPropertyName; Wildcards: yes
                                     (optional keys: Default, Aliases, Parameter sets)
        ## Examples                  required; ### Example N: Title, each with one
                                     ```powershell block and at least one paragraph
        ## Inputs, ## Outputs        ### TypeName per type, then a paragraph
        ## Notes                     paragraphs and lists
        ## Related Links             a list of names or [text](https://...) links

    A page that breaks the layout stops the conversion with an error naming the file.

.PARAMETER Path
    The folder holding the markdown pages.

.PARAMETER OutFile
    The MAML file to write. Its folder is created when missing.

.EXAMPLE
    $maml = 'out/WorktreeTools/en-US/WorktreeTools.dll-Help.xml'
    ./build/Convert-HelpMarkdown.ps1 -Path docs -OutFile $maml

.OUTPUTS
    System.IO.FileInfo for the file written.
#>
[CmdletBinding()]
[OutputType([System.IO.FileInfo])]
param(
    [Parameter(Mandatory)]
    [string] $Path,

    [Parameter(Mandatory)]
    [string] $OutFile
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$NsMaml = 'http://schemas.microsoft.com/maml/2004/10'
$NsCommand = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$NsDev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$NsMsHelp = 'http://msdn.microsoft.com/mshelp'

$KnownSections = @(
    'Synopsis', 'Description', 'Parameters', 'Examples', 'Inputs', 'Outputs', 'Notes',
    'Related Links'
)
$MetaKeys = @(
    'Type', 'Position', 'Required', 'Pipeline input', 'Wildcards', 'Default', 'Aliases',
    'Parameter sets'
)
$RequiredMetaKeys = @('Type', 'Position', 'Required', 'Pipeline input', 'Wildcards')

function Stop-Page {
    param([string] $File, [int] $Line, [string] $Message)

    $where = if ($Line -gt 0) { "${File}:${Line}" } else { $File }
    throw "Help page ${where}: $Message"
}

function Split-Page {
    # Splits a page into its title, its ## sections and their ### subsections, keeping the
    # line number of every heading for error messages. Fenced code is never a heading.
    param([string] $File, [string[]] $Lines)

    $page = [ordered]@{ Title = $null; TitleLine = 0; Sections = [ordered]@{} }
    $section = $null
    $target = $null
    $fence = $null

    for ($i = 0; $i -lt $Lines.Count; $i++) {
        $line = $Lines[$i]
        $number = $i + 1

        if ($null -ne $fence) {
            if ($line -match '^\s*(`{3,})\s*$' -and $Matches[1].Length -ge $fence) {
                $fence = $null
            }
        }
        elseif ($line -match '^\s*(`{3,})') {
            $fence = $Matches[1].Length
        }
        elseif ($line -match '^(#+)\s+(.*?)(\s+#+)?\s*$') {
            $level = $Matches[1].Length
            $text = $Matches[2]
            if ($level -eq 1) {
                if ($null -ne $page.Title) {
                    Stop-Page $File $number 'has more than one "# " title.'
                }
                if ($page.Sections.Count -gt 0) {
                    Stop-Page $File $number 'the "# " title must come before any section.'
                }
                $page.Title = $text
                $page.TitleLine = $number
            }
            elseif ($level -eq 2) {
                $name = $KnownSections | Where-Object { $_ -eq $text }
                if (-not $name) {
                    Stop-Page $File $number (
                        "unknown section '## $text'; expected one of: " +
                        ($KnownSections -join ', ') + '.')
                }
                if ($page.Sections.Contains($name)) {
                    Stop-Page $File $number "section '## $name' appears twice."
                }
                $section = [ordered]@{
                    Name = $name; Line = $number
                    Lines = [System.Collections.Generic.List[object]]::new()
                    Subsections = [System.Collections.Generic.List[object]]::new()
                }
                $page.Sections[$name] = $section
                $target = $section
            }
            elseif ($level -eq 3) {
                if ($null -eq $section) {
                    Stop-Page $File $number "'### $text' is outside any '## ' section."
                }
                $target = [ordered]@{
                    Title = $text; Line = $number
                    Lines = [System.Collections.Generic.List[object]]::new()
                }
                $section.Subsections.Add($target)
            }
            else {
                Stop-Page $File $number "headings deeper than '###' are not supported."
            }
            continue
        }

        if ($null -eq $target) {
            if ($line.Trim()) {
                Stop-Page $File $number 'text before the first "## " section.'
            }
            continue
        }
        $target.Lines.Add([pscustomobject]@{ Text = $line; Number = $number })
    }

    if ($null -ne $fence) {
        Stop-Page $File 0 'a fenced code block is never closed.'
    }
    if ($null -eq $page.Title) {
        Stop-Page $File 0 'has no "# " title.'
    }
    $page
}

function ConvertFrom-Inline {
    # Drops inline markdown that means nothing on a console: code span backticks, bold
    # markers and link targets. Text inside code spans is kept exactly as written.
    param([string] $Text)

    $parts = [regex]::Split($Text, '(`[^`]+`)')
    $result = foreach ($part in $parts) {
        if ($part -match '^`([^`]+)`$') {
            $Matches[1]
        }
        else {
            $part = [regex]::Replace($part, '\[([^\]]+)\]\([^)]*\)', '$1')
            [regex]::Replace($part, '\*\*(.+?)\*\*', '$1')
        }
    }
    -join $result
}

function ConvertTo-Block {
    # Turns markdown lines into blocks: Paragraph (lines joined), ListItem (one per item,
    # keeping its marker) and Code (verbatim, with its language).
    param([string] $File, [object[]] $Lines)

    $blocks = [System.Collections.Generic.List[object]]::new()
    $current = $null
    $code = $null

    foreach ($line in $Lines) {
        $text = $line.Text
        if ($null -ne $code) {
            if ($text -match '^\s*(`{3,})\s*$' -and $Matches[1].Length -ge $code.Fence) {
                $blocks.Add([pscustomobject]@{
                    Kind = 'Code'; Language = $code.Language; Line = $code.Line
                    Text = ($code.Body -join "`n")
                })
                $code = $null
            }
            else {
                $code.Body.Add($text)
            }
            continue
        }

        if ($text -match '^\s*(`{3,})\s*([\w-]*)\s*$') {
            $current = $null
            $code = @{
                Fence = $Matches[1].Length; Language = $Matches[2]; Line = $line.Number
                Body = [System.Collections.Generic.List[string]]::new()
            }
            continue
        }
        if (-not $text.Trim()) {
            $current = $null
            continue
        }
        if ($text -match '^\s{0,3}([-*+]|\d+[.)])\s+(.*)$') {
            $current = [pscustomobject]@{
                Kind = 'ListItem'; Marker = $Matches[1]; Line = $line.Number
                Text = $Matches[2].Trim()
            }
            $blocks.Add($current)
            continue
        }
        if ($null -eq $current) {
            $current = [pscustomobject]@{
                Kind = 'Paragraph'; Marker = $null; Line = $line.Number; Text = $text.Trim()
            }
            $blocks.Add($current)
            continue
        }
        $current.Text += ' ' + $text.Trim()
    }
    $blocks
}

function Get-BlockText {
    # The text of a block as Get-Help shows it in one maml:para.
    param([object] $Block)

    switch ($Block.Kind) {
        'Code' { $Block.Text }
        'ListItem' {
            $marker = if ($Block.Marker -match '^\d') { $Block.Marker } else { '-' }
            "$marker $(ConvertFrom-Inline $Block.Text)"
        }
        default { ConvertFrom-Inline $Block.Text }
    }
}

function Get-SectionText {
    # The paragraphs of a section body, with a check that it has some when required.
    param([string] $File, [object] $Section, [switch] $Required)

    $paras = @(ConvertTo-Block $File $Section.Lines | ForEach-Object { Get-BlockText $_ })
    if ($Required -and $paras.Count -eq 0) {
        Stop-Page $File $Section.Line "section '## $($Section.Name)' is empty."
    }
    $paras
}

function Assert-NoLooseText {
    # Sections made of ### entries must not hide prose between the heading and the first
    # entry: it would be silently dropped from the help.
    param([string] $File, [object] $Section)

    $loose = @($Section.Lines | Where-Object { $_.Text.Trim() })
    if ($loose.Count -gt 0) {
        Stop-Page $File $loose[0].Number (
            "text directly under '## $($Section.Name)'; put it under a '### ' entry.")
    }
}

function ConvertFrom-YesNo {
    param([string] $File, [int] $Line, [string] $Name, [string] $Key, [string] $Value)

    switch -Regex ($Value) {
        '^(yes|true)$' { return $true }
        '^(no|false)$' { return $false }
        default { Stop-Page $File $Line "parameter -${Name}: '${Key}: $Value' must be yes or no." }
    }
}

function Read-Parameter {
    # Reads one '### -Name' entry: a metadata paragraph of 'Key: value' pairs separated
    # by ';', then the description.
    param([string] $File, [object] $Entry)

    if ($Entry.Title -notmatch '^-([A-Za-z][A-Za-z0-9]*)$') {
        Stop-Page $File $Entry.Line "parameter heading '### $($Entry.Title)' must be '### -Name'."
    }
    $name = $Matches[1]

    $blocks = @(ConvertTo-Block $File $Entry.Lines)
    if ($blocks.Count -eq 0 -or $blocks[0].Kind -ne 'Paragraph' -or
        $blocks[0].Text -notmatch '^Type:') {
        Stop-Page $File $Entry.Line (
            "parameter -$name must start with a line such as 'Type: String; Position: 0; " +
            "Required: yes; Pipeline input: No; Wildcards: no'.")
    }
    $metaLine = $blocks[0].Line
    $meta = @{}
    foreach ($pair in $blocks[0].Text -split ';') {
        if (-not $pair.Trim()) {
            continue
        }
        if ($pair -notmatch '^\s*([^:]+?)\s*:\s*(.*?)\s*$') {
            Stop-Page $File $metaLine "parameter -${name}: '$($pair.Trim())' is not 'Key: value'."
        }
        $key = $MetaKeys | Where-Object { $_ -eq $Matches[1] }
        if (-not $key) {
            Stop-Page $File $metaLine (
                "parameter -${name}: unknown key '$($Matches[1])'; expected one of: " +
                ($MetaKeys -join ', ') + '.')
        }
        if ($meta.ContainsKey($key)) {
            Stop-Page $File $metaLine "parameter -${name}: key '$key' appears twice."
        }
        $meta[$key] = $Matches[2]
    }
    foreach ($key in $RequiredMetaKeys) {
        if (-not $meta.ContainsKey($key) -or -not $meta[$key]) {
            Stop-Page $File $metaLine "parameter -${name}: missing '${key}:'."
        }
    }

    $type = $meta['Type'] -replace '^switch$', 'SwitchParameter'
    $isSwitch = $type -match '^(System\.Management\.Automation\.)?SwitchParameter$'

    $position = $meta['Position']
    if ($position -notmatch '^(\d+|named)$') {
        Stop-Page $File $metaLine "parameter -${name}: Position must be a number or 'named'."
    }
    $position = $position.ToLowerInvariant()

    $pipeline = switch -Regex ($meta['Pipeline input']) {
        '^(no|false)$' { 'False' }
        '^ByValue$' { 'True (ByValue)' }
        '^ByPropertyName$' { 'True (ByPropertyName)' }
        '^ByValue,\s*ByPropertyName$' { 'True (ByValue, ByPropertyName)' }
        default {
            Stop-Page $File $metaLine (
                "parameter -${name}: Pipeline input must be No, ByValue, ByPropertyName " +
                "or 'ByValue, ByPropertyName'.")
        }
    }

    $description = @($blocks | Select-Object -Skip 1 | ForEach-Object { Get-BlockText $_ })
    if ($description.Count -eq 0) {
        Stop-Page $File $Entry.Line "parameter -$name has no description."
    }

    $aliases = 'none'
    if ($meta['Aliases']) {
        $aliases = ($meta['Aliases'] -split ',' | ForEach-Object { $_.Trim() }) -join ', '
    }
    $sets = @()
    if ($meta['Parameter sets']) {
        $sets = @($meta['Parameter sets'] -split ',' | ForEach-Object { $_.Trim() } |
                Where-Object { $_ })
    }
    $default = if ($meta['Default']) {
        ConvertFrom-Inline $meta['Default']
    }
    elseif ($isSwitch) {
        'False'
    }
    else {
        'None'
    }

    [pscustomobject]@{
        Name = $name
        Type = $type
        IsSwitch = $isSwitch
        IsArray = $type.EndsWith('[]')
        Position = $position
        Required = ConvertFrom-YesNo $File $metaLine $name 'Required' $meta['Required']
        Globbing = ConvertFrom-YesNo $File $metaLine $name 'Wildcards' $meta['Wildcards']
        PipelineInput = $pipeline
        Aliases = $aliases
        Default = $default
        Sets = $sets
        Description = $description
    }
}

function Read-Example {
    param([string] $File, [object] $Entry, [int] $Expected)

    if ($Entry.Title -notmatch '^Example (\d+):\s*(\S.*)$') {
        Stop-Page $File $Entry.Line "example heading must be '### Example ${Expected}: Title'."
    }
    if ([int] $Matches[1] -ne $Expected) {
        Stop-Page $File $Entry.Line "example is numbered $($Matches[1]), expected $Expected."
    }
    $title = ConvertFrom-Inline $Matches[2]

    $blocks = @(ConvertTo-Block $File $Entry.Lines)
    $code = @($blocks | Where-Object { $_.Kind -eq 'Code' -and $_.Language -eq 'powershell' })
    if ($code.Count -ne 1) {
        Stop-Page $File $Entry.Line "example $Expected needs exactly one powershell code block."
    }
    if (-not $code[0].Text.Trim()) {
        Stop-Page $File $code[0].Line "example $Expected has an empty code block."
    }
    $remarks = @($blocks | Where-Object { $_ -ne $code[0] } | ForEach-Object {
            Get-BlockText $_
        })
    if ($remarks.Count -eq 0) {
        Stop-Page $File $Entry.Line "example $Expected has no explanation after its code."
    }

    [pscustomobject]@{
        Title = "---------- Example ${Expected}: $title ----------"
        Code = $code[0].Text.TrimEnd()
        Remarks = $remarks
    }
}

function Read-TypeList {
    # Reads ## Inputs or ## Outputs: one '### TypeName' entry per type.
    param([string] $File, [object] $Section)

    Assert-NoLooseText $File $Section
    foreach ($entry in $Section.Subsections) {
        $description = @(ConvertTo-Block $File $entry.Lines | ForEach-Object {
                Get-BlockText $_
            })
        [pscustomobject]@{ Name = ConvertFrom-Inline $entry.Title; Description = $description }
    }
}

function Read-Link {
    param([string] $File, [object] $Section)

    if ($Section.Subsections.Count -gt 0) {
        $entry = $Section.Subsections[0]
        Stop-Page $File $entry.Line "'## Related Links' cannot hold '### ' entries."
    }
    foreach ($block in ConvertTo-Block $File $Section.Lines) {
        if ($block.Kind -ne 'ListItem') {
            Stop-Page $File $block.Line "'## Related Links' must hold only list items."
        }
        $text = $block.Text
        $uri = ''
        if ($text -match '^\[([^\]]+)\]\(([^)]*)\)$') {
            $text = $Matches[1]
            $address = $Matches[2]
            # Only absolute addresses are useful to Get-Help -Online; a link to a sibling
            # page is shown as its name.
            if ($address -match '^https?://') {
                $uri = $address
            }
        }
        [pscustomobject]@{ Text = ConvertFrom-Inline $text; Uri = $uri }
    }
}

function Read-HelpPage {
    param([System.IO.FileInfo] $FileInfo)

    # Errors name the page relative to the current folder when it is below it.
    $file = [System.IO.Path]::GetRelativePath((Get-Location).ProviderPath, $FileInfo.FullName)
    if ($file.StartsWith('..')) {
        $file = $FileInfo.FullName
    }
    $lines = @(Get-Content -LiteralPath $FileInfo.FullName -Encoding utf8)
    $page = Split-Page $file $lines

    $name = $FileInfo.BaseName
    if ($page.Title -cne $name) {
        Stop-Page $file $page.TitleLine "title '$($page.Title)' must equal the file name '$name'."
    }
    foreach ($required in 'Synopsis', 'Description', 'Examples') {
        if (-not $page.Sections.Contains($required)) {
            Stop-Page $file 0 "missing section '## $required'."
        }
    }
    $sections = $page.Sections
    foreach ($plain in 'Synopsis', 'Description', 'Notes') {
        if ($sections.Contains($plain) -and $sections[$plain].Subsections.Count -gt 0) {
            $entry = $sections[$plain].Subsections[0]
            Stop-Page $file $entry.Line "'## $plain' cannot hold '### ' entries."
        }
    }

    $parameters = @()
    if ($sections.Contains('Parameters')) {
        $section = $sections['Parameters']
        # A page may say in prose that there are no parameters; with entries, prose would
        # be lost.
        if ($section.Subsections.Count -gt 0) {
            Assert-NoLooseText $file $section
        }
        $parameters = @($section.Subsections | ForEach-Object { Read-Parameter $file $_ })
        $duplicate = $parameters | Group-Object Name | Where-Object Count -GT 1 |
            Select-Object -First 1
        if ($duplicate) {
            Stop-Page $file $section.Line "parameter -$($duplicate.Name) is described twice."
        }
    }

    $section = $sections['Examples']
    Assert-NoLooseText $file $section
    if ($section.Subsections.Count -eq 0) {
        Stop-Page $file $section.Line "'## Examples' has no '### Example 1: Title' entry."
    }
    $number = 0
    $examples = @($section.Subsections | ForEach-Object {
            $number++
            Read-Example $file $_ $number
        })

    [pscustomobject]@{
        Name = $name
        Verb = $name.Split('-', 2)[0]
        Noun = $name.Split('-', 2)[1]
        Synopsis = Get-SectionText $file $sections['Synopsis'] -Required
        Description = Get-SectionText $file $sections['Description'] -Required
        Parameters = $parameters
        Examples = $examples
        Inputs = @(if ($sections.Contains('Inputs')) { Read-TypeList $file $sections['Inputs'] })
        Outputs = @(if ($sections.Contains('Outputs')) {
                Read-TypeList $file $sections['Outputs']
            })
        Notes = @(if ($sections.Contains('Notes')) { Get-SectionText $file $sections['Notes'] })
        Links = @(if ($sections.Contains('Related Links')) {
                Read-Link $file $sections['Related Links']
            })
    }
}

function Write-Para {
    param([System.Xml.XmlWriter] $Writer, [string[]] $Text)

    if (-not $Text) {
        $Writer.WriteElementString('maml', 'para', $NsMaml, '')
        return
    }
    foreach ($para in $Text) {
        $Writer.WriteElementString('maml', 'para', $NsMaml, $para)
    }
}

function Write-Description {
    param([System.Xml.XmlWriter] $Writer, [string[]] $Text)

    $Writer.WriteStartElement('maml', 'description', $NsMaml)
    Write-Para $Writer $Text
    $Writer.WriteEndElement()
}

function Write-TypeName {
    param([System.Xml.XmlWriter] $Writer, [string] $Name)

    $Writer.WriteStartElement('dev', 'type', $NsDev)
    $Writer.WriteElementString('maml', 'name', $NsMaml, $Name)
    $Writer.WriteElementString('maml', 'uri', $NsMaml, '')
    $Writer.WriteEndElement()
}

function Write-Parameter {
    # One command:parameter element; the syntax form has no description and shows no
    # value for a switch.
    param([System.Xml.XmlWriter] $Writer, [object] $Parameter, [switch] $Syntax)

    $w = $Writer
    $w.WriteStartElement('command', 'parameter', $NsCommand)
    $w.WriteAttributeString('required', $Parameter.Required.ToString().ToLowerInvariant())
    $w.WriteAttributeString('variableLength', $Parameter.IsArray.ToString().ToLowerInvariant())
    $w.WriteAttributeString('globbing', $Parameter.Globbing.ToString().ToLowerInvariant())
    $w.WriteAttributeString('pipelineInput', $Parameter.PipelineInput)
    $w.WriteAttributeString('position', $Parameter.Position)
    $w.WriteAttributeString('aliases', $Parameter.Aliases)
    $w.WriteElementString('maml', 'name', $NsMaml, $Parameter.Name)
    if (-not $Syntax) {
        Write-Description $w $Parameter.Description
    }
    if (-not ($Syntax -and $Parameter.IsSwitch)) {
        $w.WriteStartElement('command', 'parameterValue', $NsCommand)
        $valueRequired = (-not $Parameter.IsSwitch).ToString().ToLowerInvariant()
        $w.WriteAttributeString('required', $valueRequired)
        $w.WriteAttributeString('variableLength', $Parameter.IsArray.ToString().ToLowerInvariant())
        $w.WriteString($Parameter.Type)
        $w.WriteEndElement()
    }
    Write-TypeName $w $Parameter.Type
    $w.WriteElementString('dev', 'defaultValue', $NsDev, $Parameter.Default)
    $w.WriteEndElement()
}

function Get-SyntaxSet {
    # One syntax item per declared parameter set, or a single one when the page declares
    # none. Positional parameters come first, in position order.
    param([object] $Page)

    $names = @($Page.Parameters | ForEach-Object { $_.Sets } | Select-Object -Unique)
    if ($names.Count -eq 0) {
        $names = @('')
    }
    foreach ($set in $names) {
        $members = @($Page.Parameters | Where-Object {
                $set -eq '' -or $_.Sets.Count -eq 0 -or $_.Sets -contains $set
            })
        $positional = @($members | Where-Object Position -NE 'named' |
                Sort-Object { [int] $_.Position })
        $named = @($members | Where-Object Position -EQ 'named')
        [pscustomobject]@{ Parameters = @($positional + $named) }
    }
}

function Write-Command {
    param([System.Xml.XmlWriter] $Writer, [object] $Page)

    $w = $Writer
    $w.WriteStartElement('command', 'command', $NsCommand)
    $w.WriteAttributeString('xmlns', 'maml', $null, $NsMaml)
    $w.WriteAttributeString('xmlns', 'command', $null, $NsCommand)
    $w.WriteAttributeString('xmlns', 'dev', $null, $NsDev)
    $w.WriteAttributeString('xmlns', 'MSHelp', $null, $NsMsHelp)

    $w.WriteStartElement('command', 'details', $NsCommand)
    $w.WriteElementString('command', 'name', $NsCommand, $Page.Name)
    $w.WriteElementString('command', 'verb', $NsCommand, $Page.Verb)
    $w.WriteElementString('command', 'noun', $NsCommand, $Page.Noun)
    Write-Description $w $Page.Synopsis
    $w.WriteEndElement()

    Write-Description $w $Page.Description

    $w.WriteStartElement('command', 'syntax', $NsCommand)
    foreach ($set in Get-SyntaxSet $Page) {
        $w.WriteStartElement('command', 'syntaxItem', $NsCommand)
        $w.WriteElementString('maml', 'name', $NsMaml, $Page.Name)
        foreach ($parameter in $set.Parameters) {
            Write-Parameter $w $parameter -Syntax
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $NsCommand)
    foreach ($parameter in $Page.Parameters) {
        Write-Parameter $w $parameter
    }
    $w.WriteEndElement()

    foreach ($kind in @(
            @{ List = 'inputTypes'; Item = 'inputType'; Types = $Page.Inputs }
            @{ List = 'returnValues'; Item = 'returnValue'; Types = $Page.Outputs })) {
        $w.WriteStartElement('command', $kind.List, $NsCommand)
        foreach ($type in $kind.Types) {
            $w.WriteStartElement('command', $kind.Item, $NsCommand)
            Write-TypeName $w $type.Name
            Write-Description $w $type.Description
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }

    $w.WriteStartElement('maml', 'alertSet', $NsMaml)
    $w.WriteStartElement('maml', 'alert', $NsMaml)
    Write-Para $w $Page.Notes
    $w.WriteEndElement()
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $NsCommand)
    foreach ($example in $Page.Examples) {
        $w.WriteStartElement('command', 'example', $NsCommand)
        $w.WriteElementString('maml', 'title', $NsMaml, $example.Title)
        $w.WriteElementString('dev', 'code', $NsDev, $example.Code)
        $w.WriteStartElement('dev', 'remarks', $NsDev)
        # The empty paragraph puts a blank line between examples in Get-Help's output.
        Write-Para $w (@($example.Remarks) + '')
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $NsCommand)
    foreach ($link in $Page.Links) {
        $w.WriteStartElement('maml', 'navigationLink', $NsMaml)
        $w.WriteElementString('maml', 'linkText', $NsMaml, $link.Text)
        $w.WriteElementString('maml', 'uri', $NsMaml, $link.Uri)
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteEndElement()
}

$source = Get-Item -LiteralPath $Path
if (-not $source.PSIsContainer) {
    throw "Help markdown folder '$Path' is not a folder."
}
$pages = @(Get-ChildItem -LiteralPath $source.FullName -File -Filter '*.md' |
        Where-Object BaseName -Match '^[A-Za-z]+-[A-Za-z0-9]+$' |
        Sort-Object Name |
        ForEach-Object { Read-HelpPage $_ })
if ($pages.Count -eq 0) {
    throw "No cmdlet help pages (Verb-Noun.md) found in '$($source.FullName)'."
}

$target = $PSCmdlet.GetUnresolvedProviderPathFromPSPath($OutFile)
$null = [System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($target))

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.IndentChars = '  '
$settings.NewLineChars = "`n"
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)

$writer = [System.Xml.XmlWriter]::Create($target, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', 'http://msh')
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($page in $pages) {
        Write-Command $writer $page
    }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
}
finally {
    $writer.Dispose()
}

# Read the result back so a broken file fails the build here rather than in Get-Help.
$check = [System.Xml.XmlDocument]::new()
$check.Load($target)
$written = $check.DocumentElement.ChildNodes.Count
if ($written -ne $pages.Count) {
    throw "Wrote $written commands to '$target', expected $($pages.Count)."
}
Write-Verbose "Wrote help for $($pages.Name -join ', ') to $target"
Get-Item -LiteralPath $target
