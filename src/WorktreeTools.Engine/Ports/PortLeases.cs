using System.Net;
using System.Net.Sockets;

namespace WorktreeTools.Engine.Ports;

/// <summary>
/// Blocks of ports leased to features: one file per block in the state folder, made with
/// create-new so that two processes can never lease the same block.
/// </summary>
public sealed class PortLeases
{
    private readonly string folder;

    /// <summary>Uses <c>ports</c> under the given state folder.</summary>
    public PortLeases(string stateDirectory)
    {
        folder = Path.Combine(stateDirectory, "ports");
    }

    /// <summary>
    /// Leases the lowest free block of the range to a ticket and returns its first port. A
    /// block is free when no feature holds it and every port of it can be bound now.
    /// </summary>
    public int Lease(string ticket, PortRange range)
    {
        Directory.CreateDirectory(folder);
        for (var first = range.First;
            first + range.BlockSize - 1 <= range.Last;
            first += range.BlockSize)
        {
            var lease = LeaseFile(first);
            if (File.Exists(lease) || !AllFree(first, range.BlockSize))
            {
                continue;
            }
            try
            {
                using var stream = new FileStream(lease, FileMode.CreateNew, FileAccess.Write);
                stream.Write(System.Text.Encoding.UTF8.GetBytes(ticket));
                return first;
            }
            catch (IOException) when (File.Exists(lease))
            {
                // Another process leased this block a moment ago: try the next one.
            }
        }
        throw new WorktreeToolsException(
            "NoFreePorts",
            FailureKind.ResourceUnavailable,
            $"No free block of {range.BlockSize} ports is left in {range.First}-{range.Last}. "
            + "Remove features you no longer need, or widen Ports in .worktreetools.psd1.",
            ticket);
    }

    // Limitation: only Stop-Feature -Remove (and a failed New-Feature) gives a block back. A
    // feature whose state file was deleted by hand keeps its block until its file under
    // ports/ in the state folder is deleted too.
    /// <summary>Gives a block back; nothing happens when it was not leased.</summary>
    public void Release(int first)
    {
        var lease = LeaseFile(first);
        if (File.Exists(lease))
        {
            File.Delete(lease);
        }
    }

    private string LeaseFile(int first) => Path.Combine(folder, $"{first}.lease");

    /// <summary>
    /// True when every port of the block can be bound on all addresses, IPv4 and IPv6, right
    /// now.
    /// </summary>
    internal static bool AllFree(int first, int count)
    {
        for (var port = first; port < first + count; port++)
        {
            // A server on "localhost" often listens on ::1 alone (Node does), which binding
            // 0.0.0.0 does not see; binding :: alone does.
            if (!CanBind(IPAddress.Any, port)
                || (Socket.OSSupportsIPv6 && !CanBind(IPAddress.IPv6Any, port)))
            {
                return false;
            }
        }
        return true;
    }

    private static bool CanBind(IPAddress address, int port)
    {
        try
        {
            using var listener = new Socket(
                address.AddressFamily,
                SocketType.Stream,
                ProtocolType.Tcp);
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                listener.DualMode = false;
            }
            listener.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
