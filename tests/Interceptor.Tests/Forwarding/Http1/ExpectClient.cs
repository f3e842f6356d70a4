using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding.Http1;

/// <summary>
/// A client that sends <c>Expect: 100-continue</c> as curl does, but waits as long as it takes: the head first, the
/// body only after a <c>100 Continue</c>, and no body at all when a final response comes first.
/// </summary>
internal static class ExpectClient
{
    /// <summary>Every status line, in order, then the final response's headers (but <c>Date</c>, sorted) and body.</summary>
    public static async Task<string> SendAsync(int port, string head, string body)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head), timeout.Token);
        var reader = new ByteReader(stream, timeout.Token);
        var statuses = new List<string>();
        var bodySent = false;
        try
        {
            while (true)
            {
                var lines = Encoding.Latin1.GetString(await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray())).Split("\r\n");
                statuses.Add(lines[0]);
                var code = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
                if (code == 100 && !bodySent)
                {
                    await stream.WriteAsync(Encoding.Latin1.GetBytes(body), timeout.Token);
                    bodySent = true;
                }

                if (code < 200)
                {
                    continue;
                }

                var headers = lines.Skip(1).Where(l => !l.StartsWith("Date:", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.OrdinalIgnoreCase).ToList();
                var length = headers.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                var content = length is null
                    ? await reader.ReadChunkedAsync()
                    : await reader.ReadExactlyAsync(int.Parse(length["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture));
                return $"{string.Join(" / ", statuses)}; body sent: {bodySent}; {string.Join(", ", headers)}; {Encoding.Latin1.GetString(content)}";
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException && !timeout.IsCancellationRequested)
        {
            return $"{string.Join(" / ", statuses)}; body sent: {bodySent}; closed";
        }
    }
}
