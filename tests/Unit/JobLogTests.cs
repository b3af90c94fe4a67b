using WorktreeTools.Engine.Jobs;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class JobLogTests
{
    private static JobLogEntry Sample(TimeSpan runtime) => new(
        7,
        ":",
        DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123),
        runtime,
        0,
        42,
        3,
        0,
        "make test",
        "ABC-1",
        "test",
        JobStatus.Failed,
        1,
        "abc123",
        true,
        TimeSpan.FromSeconds(0.5),
        1024,
        "/logs/ABC-1/test.log",
        TimeSpan.FromSeconds(1.25),
        "exit code 3");

    [Fact]
    public void I_can_write_the_first_nine_columns_as_GNU_parallel_does()
    {
        var fields = JobLog.Format(Sample(TimeSpan.FromSeconds(0.003))).Split('\t');

        Assert.Equal(
            ["7", ":", "1700000000.123", "     0.003", "0", "42", "3", "0", "make test"],
            fields[..9]);
        Assert.Equal(JobLog.Header.Split('\t').Length, fields.Length);
    }

    [Fact]
    public void I_can_read_back_a_row_with_the_time_held_back_and_the_reason()
    {
        var written = Sample(TimeSpan.FromSeconds(12.5));

        Assert.True(JobLog.TryParse(JobLog.Format(written), out var read));

        Assert.Equal(TimeSpan.FromSeconds(12.5), read.Runtime);
        Assert.Equal(TimeSpan.FromSeconds(1.25), read.AdmissionWait);
        Assert.Equal("exit code 3", read.Reason);
        Assert.Equal(written.StartTime, read.StartTime);
        Assert.Equal("ABC-1", read.Ticket);
    }

    [Fact]
    public void I_can_read_a_row_written_before_the_waited_and_reason_columns()
    {
        var old = "3\t:\t1700000000.000\t0.250\t0\t5\t0\t0\ttrue\tABC-2\tpass\tSucceeded\t1"
            + "\t\t\t0.010\t\t/logs/ABC-2/pass.log";

        Assert.True(JobLog.TryParse(old, out var read));

        Assert.Equal(3, read.Seq);
        Assert.Equal(TimeSpan.FromSeconds(0.25), read.Runtime);
        Assert.Equal(TimeSpan.Zero, read.AdmissionWait);
        Assert.Null(read.Reason);
    }
}
