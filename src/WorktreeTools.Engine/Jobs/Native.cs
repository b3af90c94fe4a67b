using System.Runtime.InteropServices;

namespace WorktreeTools.Engine.Jobs;

/// <summary>The glibc calls behind <see cref="JobProcess"/>, for x86_64 and arm64 Linux.</summary>
/// <remarks>
/// The posix_spawn family returns an error number instead of setting errno; the other calls
/// return -1 and leave the error in <see cref="Marshal.GetLastPInvokeError"/>.
/// </remarks>
internal static unsafe partial class Native
{
    private const string Libc = "libc";

    // Sizes of glibc's opaque types, rounded far up so a future layout still fits.
    public const int SpawnFileActionsSize = 512;
    public const int SpawnAttributesSize = 512;
    public const int SignalSetSize = 128;
    public const int ResourceUsageSize = 256;

    // struct rusage: two timevals of two longs each, then ru_maxrss (KB on Linux).
    public const int ResourceUsageMaxRssOffset = 32;

    // struct epoll_event is a u32 and a u64: packed on x86_64 only, padded elsewhere.
    public static readonly int EpollEventSize =
        RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    public static readonly int EpollEventDataOffset = EpollEventSize - sizeof(ulong);

    public const short SpawnSetProcessGroup = 0x02;
    public const short SpawnSetSignalDefault = 0x04;
    public const short SpawnSetSignalMask = 0x08;

    public const int OpenReadOnly = 0;
    public const int OpenNonBlocking = 0x800;
    public const int OpenCloseOnExec = 0x80000;
    public const int FileSetFlags = 4;
    public const short PollIn = 1;

    public const int ErrorNoSuchFile = 2;
    public const int ErrorNoSuchProcess = 3;
    public const int ErrorInterrupted = 4;
    public const int ErrorTryAgain = 11;

    public const int WaitNoHang = 1;

    public const int EpollControlAdd = 1;
    public const int EpollControlDelete = 2;
    public const int EpollControlModify = 3;
    public const uint EpollIn = 1;
    public const uint EpollOneShot = 1u << 30;

    // The same number on x86_64 and arm64; called through syscall() because glibc only
    // wraps it from 2.36 on.
    public const nint SyscallPidFdOpen = 434;

    public const int SignalKill = 9;
    public const int SignalTerminate = 15;
    public const int SignalContinue = 18;

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int FileActionsInit(void* actions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int FileActionsDestroy(void* actions);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int FileActionsAddDup2(void* actions, int fd, int newFd);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addopen")]
    public static partial int FileActionsAddOpen(
        void* actions,
        int fd,
        byte* path,
        int flags,
        uint mode);

    [LibraryImport(Libc, EntryPoint = "posix_spawn_file_actions_addchdir_np")]
    public static partial int FileActionsAddChdir(void* actions, byte* path);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_init")]
    public static partial int AttributesInit(void* attributes);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int AttributesDestroy(void* attributes);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int AttributesSetFlags(void* attributes, short flags);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setpgroup")]
    public static partial int AttributesSetProcessGroup(void* attributes, int processGroup);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int AttributesSetSignalDefault(void* attributes, void* signals);

    [LibraryImport(Libc, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int AttributesSetSignalMask(void* attributes, void* signals);

    [LibraryImport(Libc, EntryPoint = "sigemptyset", SetLastError = true)]
    public static partial int SignalSetEmpty(void* signals);

    [LibraryImport(Libc, EntryPoint = "sigfillset", SetLastError = true)]
    public static partial int SignalSetFill(void* signals);

    [LibraryImport(Libc, EntryPoint = "posix_spawnp")]
    public static partial int SpawnSearchingPath(
        int* pid,
        byte* file,
        void* fileActions,
        void* attributes,
        byte** argv,
        byte** envp);

    [LibraryImport(Libc, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe(int* fds, int flags);

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int FileControl(int fd, int command, int argument);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* pollFds, nuint count, int timeout);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    public static partial nint Syscall(nint number, nint first, nint second);

    [LibraryImport(Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate(int flags);

    [LibraryImport(Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollControl(int epoll, int operation, int fd, void* epollEvent);

    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epoll, void* events, int capacity, int timeout);

    [LibraryImport(Libc, EntryPoint = "wait4", SetLastError = true)]
    public static partial int Wait4(int pid, int* status, int options, void* resourceUsage);

    /// <summary>struct pollfd, the same on every Linux architecture.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }
}
