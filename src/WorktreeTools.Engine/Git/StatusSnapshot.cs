using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using LibGit2Sharp;

namespace WorktreeTools.Engine.Git;

/// <summary>
/// The file counts of a worktree's last full status read, with the stat data (inode, size,
/// mode, change and modification times) of every path they depend on: each tracked and
/// untracked file, each directory that holds them or could hold new ones, the index and
/// the ignore and configuration files. While all of it is unchanged and HEAD is the same
/// commit, the counts are too, and checking that costs a fraction of a status read.
/// </summary>
/// <remarks>
/// This is git's own stat-based shortcut, with its trap: a file changed twice within one
/// tick of the file system's clock keeps its times. So a snapshot in which anything changed
/// in the last <see cref="Settle"/> is not taken at all; the next read is a full one.
/// </remarks>
internal sealed partial class StatusSnapshot
{
    /// <summary>
    /// The snapshot of each worktree read before in this process: null after its first read
    /// (taking one costs about as much as a status read, so only a worktree read again gets
    /// one).
    /// </summary>
    internal static ConcurrentDictionary<string, StatusSnapshot?> Kept { get; } =
        new(StringComparer.Ordinal);

    /// <summary>Drops the snapshot of a worktree, such as one being removed.</summary>
    public static void Forget(string worktree) => Kept.TryRemove(worktree, out _);

    /// <summary>How old the newest change must be for a snapshot to be trusted.</summary>
    internal static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    private const int AtSymlinkNoFollow = 0x100;
    private const ushort FileTypeMask = 0xF000;
    private const ushort SymbolicLinkType = 0xA000;
    private const uint StatxWanted = 0x7ff; // STATX_BASIC_STATS
    private const int StatxSize = 256;

    // O_PATH and O_CLOEXEC, the same on x86_64 and arm64: the folder is opened only to look
    // up names in it, so the kernel walks each file's path once per folder, not per file.
    private const int OpenPathOnly = 0x200000 | 0x80000;

    private readonly Folder[] folders;

    private StatusSnapshot(string? head, (int, int, int) counts, Folder[] folders)
    {
        Head = head;
        Counts = counts;
        this.folders = folders;
    }

    // The stamped names of one folder.
    private sealed record Folder(byte[] Path, byte[][] Names, Stamp[] Stamps);

    /// <summary>The HEAD commit the counts were read at.</summary>
    public string? Head { get; }

    /// <summary>Modified, untracked and conflicted files.</summary>
    public (int Modified, int Untracked, int Conflicted) Counts { get; }

    // The fields of struct statx that a change to a file or folder moves. Its layout is the
    // same on every architecture, unlike struct stat's.
    private readonly record struct Stamp(
        bool Exists, ushort Mode, ulong Inode, ulong Size, long CtimeSec, uint CtimeNsec,
        long MtimeSec, uint MtimeNsec);

    /// <summary>True when HEAD and every stamped path are as they were.</summary>
    public bool Matches(string? head)
    {
        if (head != Head)
        {
            return false;
        }
        foreach (var folder in folders)
        {
            if (!Same(folder))
            {
                return false;
            }
        }
        return true;
    }

    private static bool Same(Folder folder) => InFolder(folder.Path, descriptor =>
    {
        for (var i = 0; i < folder.Names.Length; i++)
        {
            if (Read(descriptor, folder.Names[i]) != folder.Stamps[i])
            {
                return false;
            }
        }
        return true;
    });

    /// <summary>
    /// Takes the snapshot of a worktree just read, or null when something in it changed too
    /// recently to be told apart from a later change.
    /// </summary>
    public static StatusSnapshot? Take(
        Repository repository,
        string worktree,
        string commonDirectory,
        string? head,
        (int, int, int) counts,
        IEnumerable<string> untracked,
        StatusSettings? settings,
        DateTimeOffset? now = null)
    {
        // Limitation: the stamps come from Linux's statx; elsewhere every read is a full one.
        if (!OperatingSystem.IsLinux() || settings is null)
        {
            return null;
        }
        var files = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in repository.Index)
        {
            // Limitation: a submodule's own changes move no stamp of this worktree, so a
            // worktree with submodules is always read in full.
            if (entry.Mode == Mode.GitLink)
            {
                return null;
            }
            files.Add(entry.Path);
        }
        files.UnionWith(untracked);

        var folders = new HashSet<string>(StringComparer.Ordinal) { string.Empty };
        foreach (var file in files)
        {
            var slash = file.LastIndexOf('/');
            for (; slash > 0; slash = file.LastIndexOf('/', slash - 1))
            {
                if (!folders.Add(file[..slash]))
                {
                    break;
                }
            }
        }
        AddOtherFolders(repository, worktree, folders);

        // Libgit2 decodes a name that is not UTF-8 with replacement characters, which name
        // no file; such a worktree is always read in full.
        if (files.Any(f => f.Contains('\uFFFD')) || folders.Any(f => f.Contains('\uFFFD')))
        {
            return null;
        }

        var all = new HashSet<string>(StringComparer.Ordinal);
        all.UnionWith(files.Select(f => Path.Combine(worktree, f)));
        foreach (var folder in folders.Select(f => Path.Combine(worktree, f)))
        {
            // The rule files of every folder, even ignored or missing ones: making, changing
            // or removing one can change what the folder's files count as.
            all.Add(folder.TrimEnd('/'));
            all.Add(Path.Combine(folder, ".gitignore"));
            all.Add(Path.Combine(folder, ".gitattributes"));
        }
        foreach (var meta in MetaFiles(repository, worktree, commonDirectory, settings))
        {
            all.Add(meta);
            // A configuration or ignore file that is a link (as dotfile managers make them)
            // changes where it points to.
            if (LinkTarget(meta) is { } target)
            {
                all.Add(target);
            }
        }

        var grouped = all
            .GroupBy(p => Path.GetDirectoryName(p) ?? "/", StringComparer.Ordinal)
            .Select(g => new Folder(
                Encode(g.Key),
                g.Select(p => Encode(Path.GetFileName(p))).ToArray(),
                []))
            .ToArray();
        try
        {
            for (var i = 0; i < grouped.Length; i++)
            {
                grouped[i] = grouped[i] with { Stamps = ReadAll(grouped[i]) };
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        // A worktree that cannot be stamped (statx refused by the kernel, say) would match
        // whatever happens to it.
        var parent = Encode(Path.GetDirectoryName(worktree) ?? "/");
        var name = Encode(Path.GetFileName(worktree));
        if (!ReadAll(new Folder(parent, [name], []))[0].Exists)
        {
            return null;
        }
        // Libgit2 follows a rule file that is a link, git does not; neither is stamped here.
        if (grouped.Any(HasLinkedRuleFile))
        {
            return null;
        }
        var settled = ((now ?? DateTimeOffset.UtcNow) - Settle).ToUnixTimeSeconds();
        if (grouped.SelectMany(f => f.Stamps)
            .Any(s => s.Exists && (s.CtimeSec >= settled || s.MtimeSec >= settled)))
        {
            return null;
        }
        return new StatusSnapshot(head, counts, grouped);
    }

    private static Stamp[] ReadAll(Folder folder) => InFolder(
        folder.Path,
        descriptor => folder.Names.Select(name => Read(descriptor, name)).ToArray());

    /// <summary>
    /// Opens a folder only to look names up in it, hands its descriptor (negative when it
    /// cannot be opened) to <paramref name="use"/>, and closes it.
    /// </summary>
    private static unsafe T InFolder<T>(byte[] folder, Func<int, T> use)
    {
        int descriptor;
        fixed (byte* path = folder)
        {
            descriptor = Open(path, OpenPathOnly, 0);
        }
        try
        {
            return use(descriptor);
        }
        finally
        {
            if (descriptor >= 0)
            {
                _ = Close(descriptor);
            }
        }
    }

    /// <summary>
    /// Adds the folders that hold neither tracked nor untracked files, such as an empty one,
    /// where a new file would be untracked; ignored folders (node_modules) stay out.
    /// </summary>
    private static void AddOtherFolders(
        Repository repository,
        string worktree,
        HashSet<string> folders)
    {
        var pending = new Stack<string>(folders);
        while (pending.Count > 0)
        {
            var folder = pending.Pop();
            var full = folder.Length == 0 ? worktree : Path.Combine(worktree, folder);
            IEnumerable<string> children;
            try
            {
                children = Directory.EnumerateDirectories(full).ToList();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            foreach (var child in children)
            {
                var name = Path.GetFileName(child);
                var relative = folder.Length == 0 ? name : $"{folder}/{name}";
                if ((folder.Length == 0 && name == ".git") || folders.Contains(relative)
                    || File.GetAttributes(child).HasFlag(FileAttributes.ReparsePoint)
                    || repository.Ignore.IsPathIgnored(relative + "/"))
                {
                    continue;
                }
                folders.Add(relative);
                pending.Push(relative);
            }
        }
    }

    /// <summary>
    /// The index, HEAD, and the files that decide what is ignored and how files compare.
    /// </summary>
    private static IEnumerable<string> MetaFiles(
        Repository repository,
        string worktree,
        string commonDirectory,
        StatusSettings settings)
    {
        var gitDirectory = repository.Info.Path;
        yield return Path.Combine(gitDirectory, "index");
        yield return Path.Combine(gitDirectory, "HEAD");
        yield return Path.Combine(gitDirectory, "config.worktree");
        yield return Path.Combine(commonDirectory, "config");
        yield return Path.Combine(commonDirectory, "info", "exclude");
        yield return Path.Combine(commonDirectory, "info", "attributes");
        yield return "/etc/gitconfig";
        yield return "/etc/gitattributes";
        var home = Environment.GetEnvironmentVariable("HOME");
        var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } x
            ? x
            : home is null ? null : Path.Combine(home, ".config");
        if (home is not null)
        {
            yield return Path.Combine(home, ".gitconfig");
        }
        if (xdg is not null)
        {
            yield return Path.Combine(xdg, "git", "config");
            yield return Path.Combine(xdg, "git", "ignore");
            yield return Path.Combine(xdg, "git", "attributes");
        }
        foreach (var file in settings.ConfigFiles.Concat(settings.NamedPaths(worktree)))
        {
            yield return file;
        }
    }

    /// <summary>Where a link finally points, or null when the path is no link.</summary>
    private static string? LinkTarget(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName;
        }
        catch (IOException)
        {
            // A missing file, or a loop of links: its own stamp says enough.
            return null;
        }
    }

    private static bool HasLinkedRuleFile(Folder folder)
    {
        for (var i = 0; i < folder.Names.Length; i++)
        {
            var name = folder.Names[i].AsSpan();
            if ((name.SequenceEqual(".gitignore\0"u8) || name.SequenceEqual(".gitattributes\0"u8))
                && folder.Stamps[i].Exists
                && (folder.Stamps[i].Mode & FileTypeMask) == SymbolicLinkType)
            {
                return true;
            }
        }
        return false;
    }

    private static byte[] Encode(string path)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(path) + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    /// <summary>The stamp of a name in an open folder; not Exists when it is not there.</summary>
    private static unsafe Stamp Read(int folder, byte[] name)
    {
        if (folder < 0)
        {
            return default;
        }
        var buffer = stackalloc byte[StatxSize];
        fixed (byte* text = name)
        {
            if (Statx(folder, text, AtSymlinkNoFollow, StatxWanted, buffer) != 0)
            {
                return default;
            }
        }
        return new Stamp(
            Exists: true,
            Mode: *(ushort*)(buffer + 28),
            Inode: *(ulong*)(buffer + 32),
            Size: *(ulong*)(buffer + 40),
            CtimeSec: *(long*)(buffer + 96),
            CtimeNsec: *(uint*)(buffer + 104),
            MtimeSec: *(long*)(buffer + 112),
            MtimeNsec: *(uint*)(buffer + 120));
    }

    [LibraryImport("libc", EntryPoint = "open")]
    private static unsafe partial int Open(byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int descriptor);

    [LibraryImport("libc", EntryPoint = "statx")]
    private static unsafe partial int Statx(
        int directory, byte* path, int flags, uint mask, byte* buffer);
}
