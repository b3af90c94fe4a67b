using System.Globalization;
using System.Text;

namespace WorktreeTools.Engine.Jobs;

/// <summary>
/// The joblog: one tab-separated row per run, in GNU parallel's --joblog columns (Seq, Host,
/// Starttime, JobRuntime, Send, Receive, Exitval, Signal, Command) followed by this module's
/// own (Ticket, Job, Status, Attempt, Commit, Clean, CpuTime, PeakMemory, LogPath, Waited,
/// Reason), so tools that read parallel's joblog by column read this one too. JobRuntime is
/// right-aligned in ten characters, as parallel writes it.
/// </summary>
public sealed class JobLog
{
    /// <summary>The header row.</summary>
    public const string Header =
        "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"
        + "\tTicket\tJob\tStatus\tAttempt\tCommit\tClean\tCpuTime\tPeakMemory\tLogPath"
        + "\tWaited\tReason";

    // Rows written before Waited and Reason were added have 18 columns; they still read.
    private const int OldColumns = 18;

    // The file's length and last sequence number after this object's own last write: when
    // the length is unchanged, no other writer came in between and the tail need not be read.
    private long knownLength = -1;
    private long knownSeq;

    // Workers of one invocation share this object; they take turns here before the file lock.
    private readonly object gate = new();

    /// <summary>Uses the joblog file at the given path.</summary>
    public JobLog(string path)
    {
        Path = path;
    }

    /// <summary>The joblog file.</summary>
    public string Path { get; }

    /// <summary>
    /// Appends a row with the next sequence number and returns it. Writers in other processes
    /// are kept out by an exclusive lock file for the moment of the write.
    /// </summary>
    public JobLogEntry Append(JobLogEntry entry)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        lock (gate)
        {
            return AppendLocked(entry);
        }
    }

    private JobLogEntry AppendLocked(JobLogEntry entry)
    {
        using var fileLock = AcquireLock();
        using var stream = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite);
        var seq = (stream.Length == knownLength ? knownSeq : LastSeq(stream)) + 1;
        var numbered = entry with { Seq = seq };
        stream.Seek(0, SeekOrigin.End);
        var text = (stream.Length == 0 ? Header + "\n" : string.Empty) + Format(numbered) + "\n";
        stream.Write(Encoding.UTF8.GetBytes(text));
        knownLength = stream.Length;
        knownSeq = seq;
        return numbered;
    }

    /// <summary>Every row, oldest first; rows that cannot be read are skipped.</summary>
    public IEnumerable<JobLogEntry> Read()
    {
        if (!File.Exists(Path))
        {
            yield break;
        }
        using var reader = new StreamReader(
            new FileStream(
                Path,
                FileMode.Open,
                FileAccess.Read,
                FileShare.ReadWrite | FileShare.Delete),
            Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            if (TryParse(line, out var entry))
            {
                yield return entry;
            }
        }
    }

    /// <summary>Formats one row; tabs and line breaks in text become spaces.</summary>
    public static string Format(JobLogEntry e)
    {
        var invariant = CultureInfo.InvariantCulture;
        string[] fields =
        [
            e.Seq.ToString(invariant),
            e.Host,
            e.StartTime.ToUnixTimeMilliseconds() / 1000.0 is var start
                ? start.ToString("0.000", invariant)
                : string.Empty,
            e.Runtime.TotalSeconds.ToString("0.000", invariant).PadLeft(10),
            e.Send.ToString(invariant),
            e.Receive.ToString(invariant),
            e.ExitCode.ToString(invariant),
            e.Signal.ToString(invariant),
            Flat(e.Command),
            e.Ticket,
            e.Job,
            e.Status.ToString(),
            e.Attempt.ToString(invariant),
            e.Commit ?? string.Empty,
            e.Clean switch { true => "1", false => "0", null => string.Empty },
            e.CpuTime?.TotalSeconds.ToString("0.000", invariant) ?? string.Empty,
            e.PeakMemory?.ToString(invariant) ?? string.Empty,
            Flat(e.LogPath ?? string.Empty),
            e.AdmissionWait.TotalSeconds.ToString("0.000", invariant),
            Flat(e.Reason ?? string.Empty),
        ];
        return string.Join('\t', fields);
    }

    /// <summary>Reads one row; false for the header or a damaged row.</summary>
    public static bool TryParse(string line, out JobLogEntry entry)
    {
        entry = null!;
        var f = line.Split('\t');
        var invariant = CultureInfo.InvariantCulture;
        if (f.Length < OldColumns
            || !long.TryParse(f[0], invariant, out var seq)
            || !double.TryParse(f[2], invariant, out var start)
            || !double.TryParse(f[3], invariant, out var runtime)
            || !Enum.TryParse<JobStatus>(f[11], out var status))
        {
            return false;
        }
        entry = new JobLogEntry(
            seq,
            f[1],
            DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(start * 1000)).ToLocalTime(),
            TimeSpan.FromSeconds(runtime),
            long.TryParse(f[4], invariant, out var send) ? send : 0,
            long.TryParse(f[5], invariant, out var receive) ? receive : 0,
            int.TryParse(f[6], invariant, out var exit) ? exit : -1,
            int.TryParse(f[7], invariant, out var signal) ? signal : 0,
            f[8],
            f[9],
            f[10],
            status,
            int.TryParse(f[12], invariant, out var attempt) ? attempt : 1,
            f[13].Length == 0 ? null : f[13],
            f[14] switch { "1" => true, "0" => false, _ => null },
            double.TryParse(f[15], invariant, out var cpu) ? TimeSpan.FromSeconds(cpu) : null,
            long.TryParse(f[16], invariant, out var peak) ? peak : null,
            f[17].Length == 0 ? null : f[17],
            f.Length > 18 && double.TryParse(f[18], invariant, out var waited)
                ? TimeSpan.FromSeconds(waited)
                : TimeSpan.Zero,
            f.Length > 19 && f[19].Length > 0 ? f[19] : null);
        return true;
    }

    private static string Flat(string text) =>
        text.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');

    /// <summary>The last row's sequence number, read from the end of the file.</summary>
    private static long LastSeq(FileStream stream)
    {
        if (stream.Length == 0)
        {
            return 0;
        }
        var size = (int)Math.Min(stream.Length, 16 * 1024);
        var buffer = new byte[size];
        stream.Seek(-size, SeekOrigin.End);
        stream.ReadExactly(buffer);
        var lines = Encoding.UTF8.GetString(buffer)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            var tab = lines[i].IndexOf('\t');
            if (tab > 0
                && long.TryParse(lines[i][..tab], CultureInfo.InvariantCulture, out var seq))
            {
                return seq;
            }
        }
        return 0;
    }

    private FileStream AcquireLock()
    {
        var lockPath = Path + ".lock";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                return new FileStream(
                    lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(2);
            }
        }
    }
}
