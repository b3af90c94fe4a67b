using System.Globalization;
using Microsoft.Data.Sqlite;

namespace WorktreeTools.Engine.Queue;

/// <summary>A job to queue in one feature.</summary>
/// <param name="Ticket">The feature's ticket.</param>
/// <param name="Job">The job's name.</param>
/// <param name="Command">The job's command line.</param>
/// <param name="Priority">Higher runs first.</param>
/// <param name="NotBefore">The earliest time it may run; null for now.</param>
public sealed record QueueRequest(
    string Ticket,
    string Job,
    string Command,
    int Priority = 0,
    DateTimeOffset? NotBefore = null);

/// <summary>What a stop request did to an entry.</summary>
public enum StopOutcome
{
    /// <summary>The entry was queued and is now cancelled.</summary>
    Cancelled,

    /// <summary>The entry runs; its runner was asked to stop it.</summary>
    Requested,

    /// <summary>The entry had already finished; nothing changed.</summary>
    AlreadyFinished,

    /// <summary>There is no such entry.</summary>
    NotFound,
}

/// <summary>
/// The durable job queue: one SQLite database in the state folder, shared by every shell and
/// every runner of the repository. Every change is one transaction; claims take the write
/// lock first (<c>BEGIN IMMEDIATE</c>), so two runners never take the same entry.
/// </summary>
/// <remarks>
/// One instance holds one connection and is used from one thread. A database that cannot be
/// read is reported with the id <c>QueueDatabaseUnreadable</c> and never touched.
/// </remarks>
public sealed class JobQueue : IDisposable
{
    /// <summary>The database's file name in the state folder.</summary>
    public const string FileName = "queue.db";

    private const int SchemaVersion = 1;

    private static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private const string Columns =
        "id, ticket, job, command, state, priority, not_before, enqueued, attempts, started, "
        + "finished, exit_code, reason, log_path, seq, runner_host, runner_pid, process_group, "
        + "cancel_requested";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS entries (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket           TEXT    NOT NULL,
            job              TEXT    NOT NULL,
            command          TEXT    NOT NULL,
            state            TEXT    NOT NULL,
            priority         INTEGER NOT NULL DEFAULT 0,
            not_before       INTEGER NOT NULL,
            enqueued         INTEGER NOT NULL,
            attempts         INTEGER NOT NULL DEFAULT 0,
            started          INTEGER,
            finished         INTEGER,
            exit_code        INTEGER,
            reason           TEXT,
            log_path         TEXT,
            seq              INTEGER,
            runner_host      TEXT,
            runner_pid       INTEGER,
            runner_start     INTEGER,
            process_group    INTEGER,
            group_start      INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS entries_ready ON entries (state, priority DESC, not_before, id);
        CREATE INDEX IF NOT EXISTS entries_pair ON entries (ticket, job, state);
        """;

    private readonly SqliteConnection connection;

    private JobQueue(string path, SqliteConnection connection)
    {
        Path = path;
        this.connection = connection;
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>The database file of a state folder.</summary>
    public static string PathIn(string stateDirectory) =>
        System.IO.Path.Combine(stateDirectory, FileName);

    /// <summary>
    /// Opens the queue of a state folder, creating the database when there is none, and checks
    /// that it can be read.
    /// </summary>
    public static JobQueue Open(string stateDirectory)
    {
        var path = PathIn(stateDirectory);
        if (Directory.Exists(path))
        {
            throw Unreadable(path, "it is a folder, not a database file", null);
        }
        Directory.CreateDirectory(stateDirectory);

        // No pooling: disposing closes the file, so no handle outlives the invocation.
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
        };
        var connection = new SqliteConnection(builder.ToString());
        var queue = new JobQueue(path, connection);
        try
        {
            connection.Open();
            queue.Prepare();
            return queue;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw Failure(path, ex);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Queues jobs in one transaction and returns the new entries.</summary>
    public List<QueuedJob> Add(IReadOnlyCollection<QueueRequest> requests, DateTimeOffset now) =>
        Guard(() =>
        {
            var added = new List<QueuedJob>(requests.Count);
            using var transaction = connection.BeginTransaction(deferred: false);
            using var insert = Command(
                $"""
                INSERT INTO entries (ticket, job, command, state, priority, not_before, enqueued)
                VALUES ($ticket, $job, $command, 'Queued', $priority, $notBefore, $now)
                RETURNING {Columns}
                """,
                transaction);
            var ticket = insert.Parameters.Add("$ticket", SqliteType.Text);
            var job = insert.Parameters.Add("$job", SqliteType.Text);
            var command = insert.Parameters.Add("$command", SqliteType.Text);
            var priority = insert.Parameters.Add("$priority", SqliteType.Integer);
            var notBefore = insert.Parameters.Add("$notBefore", SqliteType.Integer);
            insert.Parameters.AddWithValue("$now", Milliseconds(now));
            foreach (var request in requests)
            {
                ticket.Value = request.Ticket;
                job.Value = request.Job;
                command.Value = request.Command;
                priority.Value = request.Priority;
                notBefore.Value = Milliseconds(request.NotBefore ?? now);
                added.AddRange(ReadAll(insert));
            }
            transaction.Commit();
            return added;
        });

    /// <summary>
    /// The entries in the given states (all when none) and with the given ids (all when null;
    /// none for an empty list), by id.
    /// </summary>
    public List<QueuedJob> List(
        IReadOnlyCollection<QueuedJobState>? states = null,
        IReadOnlyCollection<long>? ids = null) =>
        Guard(() =>
        {
            if (ids is { Count: 0 })
            {
                return [];
            }
            var conditions = new List<string>();
            if (states is { Count: > 0 })
            {
                conditions.Add($"state IN ({string.Join(", ", states.Select(s => $"'{s}'"))})");
            }
            if (ids is { Count: > 0 })
            {
                conditions.Add($"id IN ({string.Join(", ", ids.Select(Invariant))})");
            }
            var where = conditions.Count == 0
                ? string.Empty
                : "WHERE " + string.Join(" AND ", conditions);
            using var select = Command($"SELECT {Columns} FROM entries {where} ORDER BY id", null);
            return ReadAll(select);
        });

    /// <summary>One entry, or null.</summary>
    public QueuedJob? Find(long id) => Guard(() => Read(id, null));

    /// <summary>How many entries are in each state.</summary>
    public Dictionary<QueuedJobState, int> Count() =>
        Guard(() =>
        {
            var counts = Enum.GetValues<QueuedJobState>().ToDictionary(s => s, _ => 0);
            using var select = Command("SELECT state, count(*) FROM entries GROUP BY state", null);
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                if (Enum.TryParse<QueuedJobState>(reader.GetString(0), out var state))
                {
                    counts[state] = reader.GetInt32(1);
                }
            }
            return counts;
        });

    /// <summary>Which of the given entries are queued, waiting for a runner.</summary>
    public HashSet<long> StillQueued(IReadOnlyCollection<long> ids) =>
        Guard(() =>
        {
            if (ids.Count == 0)
            {
                return [];
            }
            var list = string.Join(", ", ids.Select(Invariant));
            using var select = Command(
                $"SELECT id FROM entries WHERE state = 'Queued' AND id IN ({list})", null);
            return ReadIds(select);
        });

    /// <summary>
    /// Takes up to <paramref name="count"/> entries that may run now, highest priority first,
    /// and marks them running for the given runner. An entry whose job already runs in the same
    /// feature waits: one feature's job has one log and one last-run record.
    /// </summary>
    public List<QueuedJob> Claim(int count, RunnerIdentity runner, DateTimeOffset now) =>
        Guard(() =>
        {
            if (count <= 0)
            {
                return [];
            }
            using var transaction = connection.BeginTransaction(deferred: false);
            var picked = new List<long>();
            var pairs = new HashSet<(string, string)>();
            using (var select = Command(
                """
                SELECT id, ticket, job FROM entries AS e
                WHERE state = 'Queued' AND not_before <= $now
                  AND NOT EXISTS (SELECT 1 FROM entries AS r
                                  WHERE r.ticket = e.ticket AND r.job = e.job
                                    AND r.state = 'Running')
                ORDER BY priority DESC, not_before, id
                """,
                transaction))
            {
                select.Parameters.AddWithValue("$now", Milliseconds(now));
                using var reader = select.ExecuteReader();
                while (picked.Count < count && reader.Read())
                {
                    if (pairs.Add((reader.GetString(1), reader.GetString(2))))
                    {
                        picked.Add(reader.GetInt64(0));
                    }
                }
            }

            var claimed = new List<QueuedJob>(picked.Count);
            using var update = Command(
                $"""
                UPDATE entries SET state = 'Running', attempts = attempts + 1, started = NULL,
                    finished = NULL, exit_code = NULL, seq = NULL, reason = NULL,
                    runner_host = $host, runner_pid = $pid, runner_start = $start,
                    process_group = NULL, group_start = NULL
                WHERE id = $id
                RETURNING {Columns}
                """,
                transaction);
            AddRunner(update, runner);
            update.Parameters.AddWithValue("$now", Milliseconds(now));
            var id = update.Parameters.Add("$id", SqliteType.Integer);
            foreach (var entry in picked)
            {
                id.Value = entry;
                claimed.AddRange(ReadAll(update));
            }
            transaction.Commit();
            return claimed;
        });

    /// <summary>Records the process group and log of an entry's job once it started.</summary>
    public void MarkStarted(
        long id,
        RunnerIdentity runner,
        int processGroup,
        long? groupStart,
        string? logPath,
        DateTimeOffset now) =>
        Guard(() =>
        {
            using var update = Command(
                """
                UPDATE entries SET process_group = $group, group_start = $groupStart,
                    log_path = coalesce($log, log_path), started = $now
                WHERE id = $id AND state = 'Running' AND runner_host = $host
                  AND runner_pid = $pid AND runner_start = $start
                """,
                null);
            AddRunner(update, runner);
            update.Parameters.AddWithValue("$id", id);
            update.Parameters.AddWithValue("$group", processGroup);
            update.Parameters.AddWithValue("$groupStart", (object?)groupStart ?? DBNull.Value);
            update.Parameters.AddWithValue("$log", (object?)logPath ?? DBNull.Value);
            update.Parameters.AddWithValue("$now", Milliseconds(now));
            return update.ExecuteNonQuery();
        });

    /// <summary>
    /// Records how an entry's attempt ended and decides, by the policy, whether it runs again.
    /// Returns the entry as it is now, or null when the runner no longer owns it.
    /// </summary>
    /// <param name="id">The entry.</param>
    /// <param name="runner">The runner that claimed it.</param>
    /// <param name="result">The attempt's result.</param>
    /// <param name="policy">The retry policy.</param>
    /// <param name="now">The time of the end.</param>
    /// <param name="runnerStopped">Why the runner stopped the job, if it stopped it itself.</param>
    public QueuedJob? Finish(
        long id,
        RunnerIdentity runner,
        FeatureJobResult result,
        QueuePolicy policy,
        DateTimeOffset now,
        string? runnerStopped = null) =>
        Guard(() =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var entry = Read(id, transaction);
            if (entry is null || entry.State != QueuedJobState.Running
                || !Owns(id, runner, transaction))
            {
                return null;
            }

            var change = Decide(entry, result, policy, now, runnerStopped);
            using var update = Command(
                $"""
                UPDATE entries SET state = $state, attempts = $attempts, not_before = $notBefore,
                    started = coalesce($started, started), finished = $finished,
                    exit_code = $exit, reason = $reason,
                    log_path = coalesce($log, log_path), seq = coalesce($seq, seq)
                WHERE id = $id
                RETURNING {Columns}
                """,
                transaction);
            update.Parameters.AddWithValue("$id", id);
            update.Parameters.AddWithValue("$state", change.State.ToString());
            update.Parameters.AddWithValue("$attempts", change.Attempts);
            update.Parameters.AddWithValue("$notBefore", Milliseconds(change.NotBefore));
            var neverStarted = change.State == QueuedJobState.Queued
                && change.Attempts < entry.Attempts;
            update.Parameters.AddWithValue(
                "$finished", neverStarted ? DBNull.Value : Milliseconds(result.End ?? now));
            update.Parameters.AddWithValue(
                "$started", result.Start is { } start ? Milliseconds(start) : DBNull.Value);
            update.Parameters.AddWithValue("$exit", (object?)result.ExitCode ?? DBNull.Value);
            update.Parameters.AddWithValue("$reason", change.Reason);
            update.Parameters.AddWithValue("$log", (object?)result.LogPath ?? DBNull.Value);
            update.Parameters.AddWithValue("$seq", (object?)result.Seq ?? DBNull.Value);
            var updated = ReadAll(update).Single();
            transaction.Commit();
            return updated;
        });

    /// <summary>
    /// Takes over the running entries whose runner is dead (all, or only <paramref name="onlyId"/>)
    /// so that this runner can clean up after them. They stay running, now owned by
    /// <paramref name="runner"/>, with their process group kept.
    /// </summary>
    public List<AdoptedEntry> AdoptOrphans(RunnerIdentity runner, long? onlyId = null) =>
        Guard(() =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var orphans = new List<AdoptedEntry>();
            using (var select = Command(
                """
                SELECT id, runner_host, runner_pid, runner_start, process_group, group_start
                FROM entries WHERE state = 'Running' AND ($only IS NULL OR id = $only)
                """,
                transaction))
            {
                select.Parameters.AddWithValue("$only", (object?)onlyId ?? DBNull.Value);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    var owner = new RunnerIdentity(
                        reader.IsDBNull(1) ? string.Empty : reader.GetString(1),
                        reader.IsDBNull(2) ? 0 : reader.GetInt32(2),
                        reader.IsDBNull(3) ? 0 : reader.GetInt64(3));
                    if (owner.IsAlive())
                    {
                        continue;
                    }
                    orphans.Add(new AdoptedEntry(
                        reader.GetInt64(0),
                        owner,
                        reader.IsDBNull(4) ? null : reader.GetInt32(4),
                        reader.IsDBNull(5) ? null : reader.GetInt64(5)));
                }
            }

            using var update = Command(
                """
                UPDATE entries SET runner_host = $host, runner_pid = $pid, runner_start = $start
                WHERE id = $id
                """,
                transaction);
            AddRunner(update, runner);
            var id = update.Parameters.Add("$id", SqliteType.Integer);
            foreach (var orphan in orphans)
            {
                id.Value = orphan.Id;
                update.ExecuteNonQuery();
            }
            transaction.Commit();
            return orphans;
        });

    /// <summary>
    /// Ends an attempt that its runner could not finish: the entry is interrupted, or cancelled
    /// when a stop was requested, and queued again when the policy allows another attempt.
    /// </summary>
    public QueuedJob? Interrupt(
        long id,
        RunnerIdentity runner,
        string why,
        QueuePolicy policy,
        DateTimeOffset now)
    {
        var interrupted = new FeatureJobResult(string.Empty, string.Empty, string.Empty)
        {
            Status = JobStatus.Cancelled,
            Reason = why,
            End = now,
        };
        return Finish(id, runner, interrupted, policy, now, why);
    }

    /// <summary>Puts a claimed entry that never started back in the queue, untouched.</summary>
    public QueuedJob? Release(long id, RunnerIdentity runner, string why, DateTimeOffset now)
    {
        var unstarted = new FeatureJobResult(string.Empty, string.Empty, string.Empty)
        {
            Status = JobStatus.NotStarted,
            Reason = why,
        };
        return Finish(id, runner, unstarted, QueuePolicy.Default, now);
    }

    /// <summary>
    /// Stops an entry: a queued one is cancelled at once, a running one gets a stop request
    /// for its runner. A finished entry is left as it is.
    /// </summary>
    public (StopOutcome Outcome, QueuedJob? Entry) RequestStop(long id, DateTimeOffset now) =>
        Guard(() =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var entry = Read(id, transaction);
            var outcome = entry?.State switch
            {
                null => StopOutcome.NotFound,
                QueuedJobState.Queued => StopOutcome.Cancelled,
                QueuedJobState.Running => StopOutcome.Requested,
                _ => StopOutcome.AlreadyFinished,
            };
            var sql = outcome switch
            {
                StopOutcome.Cancelled =>
                    "UPDATE entries SET state = 'Cancelled', finished = $now, "
                    + "reason = 'cancelled with Stop-FeatureJob before it ran' WHERE id = $id",
                StopOutcome.Requested => "UPDATE entries SET cancel_requested = 1 WHERE id = $id",
                _ => null,
            };
            if (sql is not null)
            {
                using var update = Command(sql, transaction);
                update.Parameters.AddWithValue("$id", id);
                update.Parameters.AddWithValue("$now", Milliseconds(now));
                update.ExecuteNonQuery();
                entry = Read(id, transaction);
            }
            transaction.Commit();
            return (outcome, entry);
        });

    /// <summary>The running entries of this runner that someone asked to stop.</summary>
    public HashSet<long> CancelRequests(RunnerIdentity runner) =>
        Guard(() =>
        {
            using var select = Command(
                """
                SELECT id FROM entries
                WHERE state = 'Running' AND cancel_requested = 1 AND runner_host = $host
                  AND runner_pid = $pid AND runner_start = $start
                """,
                null);
            AddRunner(select, runner);
            return ReadIds(select);
        });

    /// <summary>The runner that owns a running entry, or null when it does not run.</summary>
    public RunnerIdentity? OwnerOf(long id) =>
        Guard(() =>
        {
            using var select = Command(
                "SELECT runner_host, runner_pid, runner_start FROM entries "
                + "WHERE id = $id AND state = 'Running'",
                null);
            select.Parameters.AddWithValue("$id", id);
            using var reader = select.ExecuteReader();
            return reader.Read() && !reader.IsDBNull(0)
                ? new RunnerIdentity(reader.GetString(0), reader.GetInt32(1), reader.GetInt64(2))
                : null;
        });

    /// <summary>
    /// Deletes a finished entry. Returns false, deleting nothing, when the entry is queued or
    /// running (or gone).
    /// </summary>
    public bool Remove(long id) =>
        Guard(() =>
        {
            using var delete = Command(
                "DELETE FROM entries WHERE id = $id AND state NOT IN ('Queued', 'Running')", null);
            delete.Parameters.AddWithValue("$id", id);
            return delete.ExecuteNonQuery() == 1;
        });

    /// <inheritdoc />
    public void Dispose() => connection.Dispose();

    private void Prepare()
    {
        Execute($"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds}");

        // A corrupt or foreign file fails here, on its first read, before anything is written.
        var check = Scalar("PRAGMA quick_check(1)") as string;
        if (!"ok".Equals(check, StringComparison.Ordinal))
        {
            throw Unreadable(Path, $"SQLite's integrity check says: {check}", null);
        }
        var version = Convert.ToInt64(Scalar("PRAGMA user_version"), CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw Unreadable(
                Path,
                $"it was made by a newer WorktreeTools (schema {version}, this one knows "
                + $"{SchemaVersion})",
                null);
        }

        // WAL lets readers work while a runner writes. With synchronous=NORMAL a commit is
        // safe when a process dies; only a power cut may lose the last commits.
        Execute("PRAGMA journal_mode = WAL");
        Execute("PRAGMA synchronous = NORMAL");
        if (version < SchemaVersion)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var sql = Schema + $"\nPRAGMA user_version = {SchemaVersion};";
            using var create = Command(sql, transaction);
            create.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    private static QueueChange Decide(
        QueuedJob entry,
        FeatureJobResult result,
        QueuePolicy policy,
        DateTimeOffset now,
        string? runnerStopped)
    {
        var attempts = entry.Attempts;
        var left = attempts < policy.MaxAttempts;
        var count = $"attempt {attempts} of {policy.MaxAttempts}";
        if (entry.CancelRequested && result.Status != JobStatus.Succeeded)
        {
            return new(QueuedJobState.Cancelled, attempts, entry.NotBefore,
                $"cancelled with Stop-FeatureJob while it ran ({count})");
        }
        if (result.StoppedWithFeature)
        {
            // Its feature was stopped on purpose: running it again would undo that.
            return new(QueuedJobState.Cancelled, attempts, entry.NotBefore,
                $"stopped by Stop-Feature while it ran ({count})");
        }
        switch (result.Status)
        {
            case JobStatus.Succeeded:
            case JobStatus.Skipped:
                return new(QueuedJobState.Succeeded, attempts, entry.NotBefore,
                    result.Reason ?? "exit code 0");

            case JobStatus.NotStarted:
                return new(QueuedJobState.Queued, Math.Max(0, attempts - 1), entry.NotBefore,
                    $"taken back before it started: {result.Reason}");

            case JobStatus.Cancelled:
                var why = runnerStopped ?? result.Reason ?? "its runner stopped it";
                return left
                    ? new(QueuedJobState.Queued, attempts, now,
                        $"{count} interrupted ({why}); queued again")
                    : new(QueuedJobState.Interrupted, attempts, entry.NotBefore,
                        $"{count} interrupted ({why}); no attempts left");

            default:
                var what = result.Status == JobStatus.TimedOut ? "timed out" : "failed";
                if (!left)
                {
                    return new(QueuedJobState.Failed, attempts, entry.NotBefore,
                        $"{count} {what}: {result.Reason}");
                }
                var next = now + policy.RetryDelay;
                return new(QueuedJobState.Queued, attempts, next,
                    $"{count} {what}: {result.Reason}; "
                    + $"runs again from {next.ToLocalTime():HH:mm:ss}");
        }
    }

    private bool Owns(long id, RunnerIdentity runner, SqliteTransaction transaction)
    {
        using var select = Command(
            "SELECT count(*) FROM entries WHERE id = $id AND runner_host = $host "
            + "AND runner_pid = $pid AND runner_start = $start",
            transaction);
        AddRunner(select, runner);
        select.Parameters.AddWithValue("$id", id);
        return Convert.ToInt64(select.ExecuteScalar(), CultureInfo.InvariantCulture) == 1;
    }

    private QueuedJob? Read(long id, SqliteTransaction? transaction)
    {
        using var select = Command($"SELECT {Columns} FROM entries WHERE id = $id", transaction);
        select.Parameters.AddWithValue("$id", id);
        return ReadAll(select).SingleOrDefault();
    }

    private static List<QueuedJob> ReadAll(SqliteCommand command)
    {
        var entries = new List<QueuedJob>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            entries.Add(Map(reader));
        }
        return entries;
    }

    private static HashSet<long> ReadIds(SqliteCommand command)
    {
        var ids = new HashSet<long>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            ids.Add(reader.GetInt64(0));
        }
        return ids;
    }

    private static QueuedJob Map(SqliteDataReader r)
    {
        // Columns: id 0, ticket 1, job 2, command 3, state 4, priority 5, not_before 6,
        // enqueued 7, attempts 8, started 9, finished 10, exit_code 11, reason 12,
        // log_path 13, seq 14, runner_host 15, runner_pid 16, process_group 17,
        // cancel_requested 18.
        return new QueuedJob(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3))
        {
            State = Enum.TryParse<QueuedJobState>(r.GetString(4), out var state)
                ? state
                : QueuedJobState.Failed,
            Priority = r.GetInt32(5),
            NotBefore = Time(r.GetInt64(6)),
            Enqueued = Time(r.GetInt64(7)),
            Attempts = r.GetInt32(8),
            Started = r.IsDBNull(9) ? null : Time(r.GetInt64(9)),
            Finished = r.IsDBNull(10) ? null : Time(r.GetInt64(10)),
            ExitCode = r.IsDBNull(11) ? null : r.GetInt32(11),
            Reason = r.IsDBNull(12) ? null : r.GetString(12),
            LogPath = r.IsDBNull(13) ? null : r.GetString(13),
            Seq = r.IsDBNull(14) ? null : r.GetInt64(14),
            Runner = r.IsDBNull(15) ? null : $"{r.GetString(15)}:{r.GetInt32(16)}",
            ProcessGroup = r.IsDBNull(17) ? null : r.GetInt32(17),
            CancelRequested = r.GetInt32(18) != 0,
        };
    }

    private static void AddRunner(SqliteCommand command, RunnerIdentity runner)
    {
        command.Parameters.AddWithValue("$host", runner.Host);
        command.Parameters.AddWithValue("$pid", runner.Pid);
        command.Parameters.AddWithValue("$start", runner.StartTicks);
    }

    private SqliteCommand Command(string sql, SqliteTransaction? transaction)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private void Execute(string sql)
    {
        using var command = Command(sql, null);
        command.ExecuteNonQuery();
    }

    private object? Scalar(string sql)
    {
        using var command = Command(sql, null);
        return command.ExecuteScalar();
    }

    private T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SqliteException ex)
        {
            throw Failure(Path, ex);
        }
    }

    private static long Milliseconds(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static DateTimeOffset Time(long milliseconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds(milliseconds).ToLocalTime();

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static WorktreeToolsException Failure(string path, SqliteException ex) =>
        ex.SqliteErrorCode switch
        {
            // SQLITE_BUSY, SQLITE_LOCKED: another process held the lock past the timeout.
            5 or 6 => new WorktreeToolsException(
                "QueueDatabaseBusy",
                FailureKind.ResourceUnavailable,
                $"The job queue database '{path}' stayed locked by another process for "
                + $"{BusyTimeout.TotalSeconds:0} s ({ex.Message}). Try again.",
                path,
                ex),

            // SQLITE_READONLY, SQLITE_FULL: it can be read but not written.
            8 or 13 => new WorktreeToolsException(
                "QueueDatabaseNotWritable",
                FailureKind.WriteError,
                $"The job queue database '{path}' cannot be written ({ex.Message}). Make room "
                + "on the disk or fix the file's permissions, then try again.",
                path,
                ex),
            _ => Unreadable(path, ex.Message, ex),
        };

    private static WorktreeToolsException Unreadable(
        string path,
        string problem,
        Exception? inner) =>
        new(
            "QueueDatabaseUnreadable",
            FailureKind.InvalidData,
            $"The job queue database '{path}' cannot be read: {Sentences.Inner(problem)}. "
            + "Nothing was changed. "
            + $"Move it aside (for example: mv '{path}' '{path}.broken'; also move any "
            + $"'{FileName}-wal' and '{FileName}-shm' beside it) to start an empty queue, or "
            + "restore it from a backup.",
            path,
            inner);

    private sealed record QueueChange(
        QueuedJobState State,
        int Attempts,
        DateTimeOffset NotBefore,
        string Reason);
}

/// <summary>A running entry whose runner died, now owned by the runner that cleans up.</summary>
/// <param name="Id">The entry.</param>
/// <param name="DeadRunner">The runner that died.</param>
/// <param name="ProcessGroup">The process group of its job, when the job had started.</param>
/// <param name="GroupStart">The start time of the group's leader, when it was seen.</param>
public sealed record AdoptedEntry(
    long Id,
    RunnerIdentity DeadRunner,
    int? ProcessGroup,
    long? GroupStart);
