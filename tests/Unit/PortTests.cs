using System.Collections;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using WorktreeTools.Engine;
using WorktreeTools.Engine.Configuration;
using WorktreeTools.Engine.Ports;
using Xunit;

namespace WorktreeTools.Tests;

public sealed class PortTests : IDisposable
{
    private const string File = "/repo/.worktreetools.psd1";

    private const int Timeout = 30_000;

    private readonly string _state =
        Path.Combine(Path.GetTempPath(), "wt-ports-" + Guid.NewGuid().ToString("N")[..8]);

    public PortTests() => Directory.CreateDirectory(_state);

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public void I_get_blocks_of_10_between_20000_and_29999_by_default()
    {
        var config = FeatureConfig.Default;

        Assert.Equal(new PortRange(20000, 29999, 10), PortRange.Default);
        Assert.Equal(PortRange.Default, config.Ports);
        Assert.Equal("default", config.SourceOf("Ports"));
        Assert.Contains("Ports", FeatureConfig.Keys);
        Assert.Equal(PortRange.Default, PortRange.FromData(new Hashtable(), File));
    }

    [Fact]
    public void I_can_set_part_of_the_range_and_keep_the_defaults_of_the_rest()
    {
        var data = new Hashtable { ["first"] = 21000, ["BLOCKSIZE"] = 5 };

        var range = PortRange.FromData(data, File);

        Assert.Equal(new PortRange(21000, 29999, 5), range);
    }

    [Fact]
    public void I_can_turn_ports_off_with_null_and_see_where_that_came_from()
    {
        var config = FeatureConfig.FromData(new Hashtable { ["Ports"] = null }, File);

        Assert.Null(config.Ports);
        Assert.Null(config.ValueOf("Ports"));
        Assert.Equal(File, config.SourceOf("Ports"));
    }

    public static TheoryData<object?, string> BadValues => new()
    {
        { new Hashtable { ["First"] = 30000, ["Last"] = 20000 }, "Ports" },
        { new Hashtable { ["First"] = 20000, ["Last"] = 20004, ["BlockSize"] = 10 }, "Ports" },
        { new Hashtable { ["BlockSize"] = 0 }, "Ports.BlockSize" },
        { new Hashtable { ["Last"] = 70000 }, "Ports.Last" },
        { new Hashtable { ["First"] = "20000" }, "Ports.First" },
        { new Hashtable { ["Step"] = 5 }, "Ports.Step" },
        { "20000-29999", "Ports" },
        { true, "Ports" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void I_can_try_a_bad_ports_value_and_get_an_error_naming_key_and_file(
        object? value,
        string named)
    {
        var error = Assert.Throws<WorktreeToolsException>(
            () => FeatureConfig.FromData(new Hashtable { ["Ports"] = value }, File));

        Assert.Equal("InvalidConfiguration", error.ErrorId);
        Assert.Equal(FailureKind.InvalidData, error.Kind);
        Assert.Contains($"'{named}'", error.Message);
        Assert.Contains(File, error.Message);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_lease_blocks_in_order_from_the_first_port()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 3, blockSize: 10);
        var leases = new PortLeases(_state);

        var ports = new[] { "A-1", "A-2", "A-3" }.Select(t => leases.Lease(t, range)).ToArray();

        Assert.Equal([range.First, range.First + 10, range.First + 20], ports);
        Assert.Equal("A-2", System.IO.File.ReadAllText(LeaseFile(range.First + 10)));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_skip_a_block_that_another_process_leased()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 2, blockSize: 10);
        Assert.Equal(range.First, new PortLeases(_state).Lease("OTHER-1", range));

        var port = new PortLeases(_state).Lease("MINE-1", range);

        Assert.Equal(range.First + 10, port);
        Assert.Equal("OTHER-1", System.IO.File.ReadAllText(LeaseFile(range.First)));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_skip_a_block_with_a_port_a_server_listens_on()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 2, blockSize: 10);
        using var server =
            new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, range.First + 3));
        server.Listen();

        var port = new PortLeases(_state).Lease("BUSY-1", range);

        Assert.Equal(range.First + 10, port);
        Assert.False(System.IO.File.Exists(LeaseFile(range.First)));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_skip_a_block_with_a_port_a_server_listens_on_with_IPv6_only()
    {
        await Task.Yield();
        if (!Socket.OSSupportsIPv6)
        {
            // Nothing can listen on ::1 here, so there is nothing to skip.
            return;
        }
        var range = FreeRange(blocks: 2, blockSize: 10);
        using var server =
            new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.IPv6Loopback, range.First + 3));
        server.Listen();

        var port = new PortLeases(_state).Lease("BUSY-6", range);

        Assert.Equal(range.First + 10, port);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_release_a_block_and_get_it_again_as_the_lowest_free_one()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 3, blockSize: 10);
        var leases = new PortLeases(_state);
        leases.Lease("R-1", range);
        var middle = leases.Lease("R-2", range);
        leases.Lease("R-3", range);

        leases.Release(middle);

        Assert.False(System.IO.File.Exists(LeaseFile(middle)));
        Assert.Equal(middle, leases.Lease("R-4", range));
    }

    [Fact(Timeout = Timeout)]
    public async Task I_can_release_a_block_that_was_never_leased()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 2, blockSize: 10);
        var leases = new PortLeases(_state);
        var held = leases.Lease("H-1", range);

        var error = Record.Exception(() => leases.Release(held + 10));

        Assert.Null(error);
        Assert.True(System.IO.File.Exists(LeaseFile(held)));
    }

    [Fact]
    public void I_can_release_a_block_before_any_block_was_ever_leased()
    {
        var leases = new PortLeases(_state);

        var error = Record.Exception(() => leases.Release(20000));

        Assert.Null(error);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_never_get_the_same_block_twice_when_leasing_in_parallel()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 30, blockSize: 2);
        var ports = new ConcurrentBag<int>();

        // One PortLeases per lease, as separate processes would have.
        Parallel.For(
            0,
            20,
            new ParallelOptions { MaxDegreeOfParallelism = 20 },
            i => ports.Add(new PortLeases(_state).Lease($"P-{i}", range)));

        Assert.Equal(20, ports.Count);
        Assert.Equal(20, ports.Distinct().Count());
        Assert.All(ports, p => Assert.Equal(0, (p - range.First) % range.BlockSize));
        Assert.All(ports, p => Assert.InRange(p, range.First, range.Last - range.BlockSize + 1));
        Assert.Equal(20, Directory.GetFiles(Path.Combine(_state, "ports"), "*.lease").Length);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_get_NoFreePorts_when_every_block_is_leased()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 2, blockSize: 5);
        var leases = new PortLeases(_state);
        leases.Lease("F-1", range);
        leases.Lease("F-2", range);

        var error = Assert.Throws<WorktreeToolsException>(() => leases.Lease("F-3", range));

        Assert.Equal("NoFreePorts", error.ErrorId);
        Assert.Equal(FailureKind.ResourceUnavailable, error.Kind);
        Assert.Equal("F-3", error.Target);
        Assert.Contains($"{range.First}-{range.Last}", error.Message);
    }

    [Fact(Timeout = Timeout)]
    public async Task I_get_NoFreePorts_when_the_only_block_has_a_port_in_use()
    {
        await Task.Yield();
        var range = FreeRange(blocks: 1, blockSize: 4);
        using var server = new TcpListener(IPAddress.Loopback, range.Last);
        server.Start();

        var error = Assert.Throws<WorktreeToolsException>(
            () => new PortLeases(_state).Lease("ONE-1", range));

        Assert.Equal("NoFreePorts", error.ErrorId);
        Assert.Empty(Directory.GetFiles(Path.Combine(_state, "ports")));
    }

    private string LeaseFile(int first) => Path.Combine(_state, "ports", $"{first}.lease");

    /// <summary>
    /// A range of free ports, searched from a random hundred between 10000 and 19900: below the
    /// kernel's ephemeral ports and outside the default range other tests lease from.
    /// </summary>
    private static PortRange FreeRange(int blocks, int blockSize)
    {
        var count = blocks * blockSize;
        var start = Random.Shared.Next(99) * 100;
        for (var offset = 0; offset < 9900; offset += 100)
        {
            var first = 10000 + ((start + offset) % 9900);
            if (PortLeases.AllFree(first, count))
            {
                return new PortRange(first, first + count - 1, blockSize);
            }
        }
        throw new InvalidOperationException(
            $"No {count} free ports in a row between 10000 and 19999.");
    }
}
