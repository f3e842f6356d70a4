using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Differential;

/// <summary>Sends an <see cref="OddRequest"/> to a proxy over one connection and reads the statuses it answers with.</summary>
internal static class RawExchange
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Every status line the proxy wrote (interim ones included), in order, until it has answered every request of
    /// <paramref name="request"/> with a final status or closed the connection (then <c>closed</c> ends the list).
    /// </summary>
    public static async Task<IReadOnlyList<string>> SendAsync(int port, OddRequest request)
    {
        using var timeout = new CancellationTokenSource(Bound);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        var reader = new ByteReader(stream, timeout.Token);
        var statuses = new List<string>();
        try
        {
            for (var i = 0; i < request.Parts.Count; i++)
            {
                await stream.WriteAsync(request.Parts[i], timeout.Token);
                if (i < request.Parts.Count - 1)
                {
                    // The next part (a body after Expect: 100-continue) only once the proxy asked for it.
                    statuses.Add(await ReadResponseAsync(reader, head: false));
                }
            }

            var finals = 0;
            while (finals < request.Responses)
            {
                var status = await ReadResponseAsync(reader, request.Head);
                statuses.Add(status);
                if (status[0] != '1')
                {
                    finals++;
                }
            }
        }
        catch (IOException) when (!timeout.IsCancellationRequested)
        {
            statuses.Add("closed");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"no complete answer to {request.Name} on port {port} within {Bound.TotalSeconds} s; so far: {string.Join(", ", statuses)}");
        }

        return statuses;
    }

    /// <summary>One response, body included; returns its status code.</summary>
    private static async Task<string> ReadResponseAsync(ByteReader reader, bool head)
    {
        var lines = Encoding.Latin1.GetString(await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray())).Split("\r\n");
        var status = lines[0].Split(' ')[1];
        var code = int.Parse(status, CultureInfo.InvariantCulture);
        string? length = null;
        var chunked = false;
        var close = false;
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (name, value) = (line[..colon].Trim(), line[(colon + 1)..].Trim());
            length = name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ? value : length;
            chunked |= name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase);
            close |= name.Equals("Connection", StringComparison.OrdinalIgnoreCase) && value.Contains("close", StringComparison.OrdinalIgnoreCase);
        }

        if (head || code < 200 || code is 204 or 304)
        {
            return status;
        }

        if (chunked)
        {
            await reader.ReadChunkedAsync();
        }
        else if (length is not null)
        {
            await reader.ReadExactlyAsync(int.Parse(length, CultureInfo.InvariantCulture));
        }
        else if (close || lines[0].StartsWith("HTTP/1.0", StringComparison.Ordinal))
        {
            await reader.ReadToEndAsync();
        }

        return status;
    }
}
