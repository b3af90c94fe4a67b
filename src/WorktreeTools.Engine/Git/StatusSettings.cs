namespace WorktreeTools.Engine.Git;

/// <summary>
/// The configuration files git reads in a folder, and the values in them that name other
/// files a status read depends on (core.excludesFile, core.attributesFile): what a
/// <see cref="StatusSnapshot"/> stamps beyond the worktree itself.
/// </summary>
/// <param name="ConfigFiles">Every file the configuration came from, includes too.</param>
/// <param name="NamedFiles">The files those values name, as written (relative, or ~/).</param>
/// <param name="PerWorktree">
/// True when a worktree's configuration may differ from this folder's: a per-worktree file
/// (extensions.worktreeConfig) or includes, which can depend on the worktree (includeIf).
/// </param>
internal sealed record StatusSettings(
    IReadOnlyList<string> ConfigFiles,
    IReadOnlyList<string> NamedFiles,
    bool PerWorktree)
{
    private static readonly string[] FileKeys = ["core.excludesfile", "core.attributesfile"];

    /// <summary>
    /// Reads the settings with one git call in a folder, or null when git cannot tell them
    /// (it failed, or a file is named in a way this does not resolve, such as ~user/).
    /// </summary>
    /// <remarks>
    /// Git, not LibGit2Sharp: <c>Repository.Config</c> replaces a worktree's configuration
    /// with one that lacks the shared file, losing its branch's upstream.
    /// </remarks>
    public static StatusSettings? Read(string directory)
    {
        var listing = GitCli.Run(directory, "config", "--list", "--show-origin", "-z");
        if (!listing.Succeeded)
        {
            return null;
        }

        // Each entry is the origin, NUL, then the key, a newline and the value, NUL.
        var fields = listing.StandardOutput.Split('\0');
        var configFiles = new HashSet<string>(StringComparer.Ordinal);
        var namedFiles = new List<string>();
        var perWorktree = false;
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            string? origin = null;
            if (fields[i].StartsWith("file:", StringComparison.Ordinal))
            {
                origin = Path.GetFullPath(fields[i]["file:".Length..], directory);
                configFiles.Add(origin);
            }
            var newline = fields[i + 1].IndexOf('\n');
            var key = (newline < 0 ? fields[i + 1] : fields[i + 1][..newline]).ToLowerInvariant();
            var value = newline < 0 ? string.Empty : fields[i + 1][(newline + 1)..];
            var include = key == "include.path"
                || (key.StartsWith("includeif.", StringComparison.Ordinal)
                    && key.EndsWith(".path", StringComparison.Ordinal));
            perWorktree |= include
                || (key == "extensions.worktreeconfig" && value.Trim() != "false");
            if ((!include && !FileKeys.Contains(key)) || value.Length == 0)
            {
                continue;
            }
            if (value.StartsWith('~') && (!value.StartsWith("~/", StringComparison.Ordinal)
                || Environment.GetEnvironmentVariable("HOME") is null))
            {
                return null;
            }
            if (!include)
            {
                namedFiles.Add(value);
            }
            else if (origin is null && !Path.IsPathRooted(value) && !value.StartsWith('~'))
            {
                // An include from the command line, relative to nothing this can see.
                return null;
            }
            else
            {
                // An included file counts even while it sets nothing, so git lists it as no
                // origin; a relative one is taken from the file that includes it.
                configFiles.Add(Expand(value, Path.GetDirectoryName(origin) ?? directory));
            }
        }
        return new StatusSettings([.. configFiles], namedFiles, perWorktree);
    }

    /// <summary>
    /// The named files as paths: ~/ is the home folder, and a relative name is taken from
    /// the worktree, as libgit2 takes it.
    /// </summary>
    public IEnumerable<string> NamedPaths(string worktree)
    {
        return NamedFiles.Select(name => Expand(name, worktree));
    }

    private static string Expand(string name, string folder)
    {
        var home = Environment.GetEnvironmentVariable("HOME") ?? "/";
        return name.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Join(home, name[2..])
            : Path.GetFullPath(name, folder);
    }
}
