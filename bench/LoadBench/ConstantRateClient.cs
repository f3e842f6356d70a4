using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Updraft.Bench.Load;

/// <summary>The outcome of one constant-rate run; latencies in nanoseconds, sorted.</summary>
internal sealed record RateRun(double Rate, double AchievedRate, long[] Latencies, long[] ServiceTimes, long Errors, long NotSent);

/// <summary>
/// An open-loop, constant-rate HTTP/1.1 load client (what wrk2 does; wrk2 is not packaged in Debian).
/// <para>
/// Request <c>i</c> of the run is due at <c>start + i / rate</c>. The requests are dealt round-robin over a fixed
/// number of keep-alive connections, each served by its own thread with blocking sockets: the thread sleeps until its
/// next request is due (clock_nanosleep on an absolute CLOCK_MONOTONIC deadline, 1 µs timer slack), sends it, reads
/// the response and records the latency <b>from the time the request was due</b>, not from when it was sent. A slow
/// response therefore delays that connection's later requests and they are charged the wait, so the client cannot
/// hide a stall by sending less (coordinated omission). The service time from the actual send is kept as well;
/// the difference between the two shows how much of a latency was queueing in front of the target.
/// </para>
/// <para>
/// Responses are parsed just enough for keep-alive: the status line, then a Content-Length body or a chunked body.
/// Requests due in the first <c>warmup</c> seconds are sent but not recorded.
/// </para>
/// </summary>
internal static class ConstantRateClient
{
    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>A connection more than this far behind its schedule stops sending (the target cannot keep up).</summary>
    private static readonly long LagLimit = 2 * NanosecondsPerSecond;

    private const int ErrorLimitPerConnection = 1000;

    /// <param name="measuring">
    /// Called once, on the calling thread, when the measured window starts (after the warm-up): where a caller reads
    /// counters that should cover the window only, such as CPU times.
    /// </param>
    public static RateRun Run(IPEndPoint endpoint, byte[] request, double rate, double warmupSeconds, double seconds, int connections, Action? measuring = null)
    {
        var total = (long)(rate * (warmupSeconds + seconds));
        var nanosecondsPerRequest = NanosecondsPerSecond / rate;
        var workers = new Worker[connections];
        for (var c = 0; c < connections; c++)
        {
            workers[c] = new Worker(endpoint, request, (total / connections) + 1);
            workers[c].Connect();
        }

        var start = Native.Now() + (NanosecondsPerSecond / 10);
        var measureFrom = start + (long)(warmupSeconds * NanosecondsPerSecond);
        var threads = new Thread[connections];
        for (var c = 0; c < connections; c++)
        {
            var worker = workers[c];
            var first = c;
            threads[c] = new Thread(() => worker.Run(first, connections, total, start, nanosecondsPerRequest, measureFrom), maxStackSize: 256 * 1024)
            {
                IsBackground = true,
                Name = $"rate-{first}",
            };
            threads[c].Start();
        }

        if (measuring is not null)
        {
            Native.SleepUntil(measureFrom);
            measuring();
        }

        // Every worker ends by its schedule, its lag limit, its error limit or its sockets' 10 s timeouts.
        var joinBy = DateTime.UtcNow.AddSeconds(warmupSeconds + seconds + 60);
        foreach (var thread in threads)
        {
            var left = joinBy - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !thread.Join(left))
            {
                throw new TimeoutException("the constant-rate client did not finish");
            }
        }

        var latencies = workers.SelectMany(w => w.Latencies.Take(w.Recorded)).ToArray();
        var serviceTimes = workers.SelectMany(w => w.ServiceTimes.Take(w.Recorded)).ToArray();
        Array.Sort(latencies);
        Array.Sort(serviceTimes);
        var lastDone = workers.Max(w => w.LastDone);
        var achieved = lastDone > measureFrom ? latencies.Length / ((lastDone - measureFrom) / (double)NanosecondsPerSecond) : 0;
        foreach (var worker in workers)
        {
            worker.Dispose();
        }

        return new RateRun(rate, achieved, latencies, serviceTimes, workers.Sum(w => w.Errors), workers.Sum(w => w.NotSent));
    }

    private sealed class Worker(IPEndPoint endpoint, byte[] request, long capacity) : IDisposable
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private Socket? _socket;

        public long[] Latencies { get; } = new long[capacity];

        public long[] ServiceTimes { get; } = new long[capacity];

        public int Recorded { get; private set; }

        public long Errors { get; private set; }

        public long NotSent { get; private set; }

        public long LastDone { get; private set; }

        public void Connect()
        {
            _socket?.Dispose();
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                NoDelay = true,
                ReceiveTimeout = 10_000,
                SendTimeout = 10_000,
            };
            _socket.Connect(endpoint);
        }

        public void Run(long first, int step, long total, long start, double nanosecondsPerRequest, long measureFrom)
        {
            Native.UseFineTimerSlack();
            for (var i = first; i < total; i += step)
            {
                var due = start + (long)(i * nanosecondsPerRequest);
                var now = Native.Now();
                if (now < due)
                {
                    Native.SleepUntil(due);
                }
                else if (now - due > LagLimit || Errors >= ErrorLimitPerConnection)
                {
                    NotSent = ((total - i) + step - 1) / step;
                    return;
                }

                var sent = Native.Now();
                var ok = false;
                try
                {
                    ok = Exchange();
                }
                catch (SocketException)
                {
                }

                var done = Native.Now();
                LastDone = done;
                if (!ok)
                {
                    Errors++;
                    TryReconnect();
                    continue;
                }

                if (due >= measureFrom)
                {
                    Latencies[Recorded] = done - due;
                    ServiceTimes[Recorded] = done - sent;
                    Recorded++;
                }
            }
        }

        public void Dispose() => _socket?.Dispose();

        private void TryReconnect()
        {
            try
            {
                Connect();
            }
            catch (SocketException)
            {
            }
        }

        /// <summary>
        /// Sends the request and reads one response without allocating; true when it was a 2xx and the connection
        /// stays usable.
        /// </summary>
        private bool Exchange()
        {
            var socket = _socket!;
            socket.Send(request);
            var length = 0;
            var headerEnd = -1;
            while (headerEnd < 0)
            {
                if (!Receive(socket, ref length))
                {
                    return false;
                }

                headerEnd = _buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            }

            ReadOnlySpan<byte> head = _buffer.AsSpan(0, headerEnd + 2);
            var success = head.Length > 12 && head[9] == (byte)'2';
            var bodyStart = headerEnd + 4;
            var close = false;
            var chunked = false;
            var contentLength = -1;
            foreach (var range in head.Split("\r\n"u8))
            {
                var line = head[range];
                var colon = line.IndexOf((byte)':');
                if (colon <= 0)
                {
                    continue;
                }

                var name = line[..colon];
                var value = line[(colon + 1)..].Trim((byte)' ');
                if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
                {
                    if (!Utf8Parser.TryParse(value, out contentLength, out _))
                    {
                        return false;
                    }
                }
                else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
                {
                    chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
                }
                else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
                {
                    close = Ascii.EqualsIgnoreCase(value, "close"u8);
                }
            }

            if (contentLength >= 0)
            {
                while (length < bodyStart + contentLength)
                {
                    if (!Receive(socket, ref length))
                    {
                        return false;
                    }
                }
            }
            else if (chunked)
            {
                // Small bodies only: the last chunk ends the response.
                while (!_buffer.AsSpan(bodyStart, length - bodyStart).EndsWith("0\r\n\r\n"u8))
                {
                    if (!Receive(socket, ref length))
                    {
                        return false;
                    }
                }
            }
            else
            {
                return false;
            }

            if (close)
            {
                Connect();
            }

            return success;
        }

        private bool Receive(Socket socket, ref int length)
        {
            if (length == _buffer.Length)
            {
                return false;
            }

            var read = socket.Receive(_buffer, length, _buffer.Length - length, SocketFlags.None);
            length += read;
            return read > 0;
        }
    }
}
