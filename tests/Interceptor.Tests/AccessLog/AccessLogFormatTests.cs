using System.Diagnostics;
using System.Net;
using System.Text;
using Updraft.Interceptor.AccessLog;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.Tests.AccessLog;

/// <summary>The access-log line format and the queue between the request path and stdout.</summary>
public sealed class AccessLogFormatTests
{
    public static TheoryData<string, string, string> Hostile => new()
    {
        { "/plain?x=1", "ref", "curl/8.0" },
        { "/a\"b\\c", "a \"quoted\" referer", "agent\\with\\backslashes\"" },
        { "/new\nline", "cr\rlf\r\n", "line1\nline2\n127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 0 \"-\" \"-\" 0.000001" },
        { "/ctl\u0001\u001b[31m\u007f", "nul\0byte", "tab\there" },
        { "/sp ace", "\u0085nel", "\u2028line sep\u2029para sep" },
        { "/ünïcode/日本", "é", "\ud83d\ude00 emoji" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Append_HostileValues_OneLineThatParsesBackToThem(string target, string referer, string userAgent)
    {
        var started = new DateTimeOffset(2026, 12, 3, 16, 40, 5, TimeSpan.FromHours(2));
        var entry = new AccessLogEntry(IPAddress.Parse("::ffff:10.1.2.3"), started, "GET", target, "HTTP/1.1", 200, 1234, referer, userAgent, Stopwatch.Frequency / 500);
        var line = new StringBuilder();

        AccessLogFormat.Append(line, entry);

        var text = line.ToString();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        text = text[..^1];
        Assert.DoesNotContain(text, c => c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029' || char.IsControl(c));
        Assert.True(AccessLogLine.TryParse(text, out var parsed), text);
        Assert.Equal(new AccessLogLine("10.1.2.3", started, "GET", target, "HTTP/1.1", 200, 1234, referer, userAgent, 0.002), parsed);
        Assert.StartsWith("10.1.2.3 - - [03/Dec/2026:14:40:05 +0000] \"GET ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Append_NoRefererNoAgentNoAddress_WritesDashes()
    {
        var entry = new AccessLogEntry(null, DateTimeOffset.UnixEpoch, "POST", "/", "HTTP/2", 404, 0, null, null, 0);
        var line = new StringBuilder();

        AccessLogFormat.Append(line, entry);

        Assert.Equal("- - - [01/Jan/1970:00:00:00 +0000] \"POST / HTTP/2\" 404 0 \"-\" \"-\" 0.000000\n", line.ToString());
    }

    [Fact]
    public async Task Writer_OutputBlocked_QueueFills_FurtherEntriesAreDroppedAndCounted_NothingWaits()
    {
        using var output = new BlockingWriter();
        var metrics = new InterceptorMetrics();
        var writer = new AccessLogWriter(output, metrics);
        await writer.StartAsync(CancellationToken.None);
        var entry = new AccessLogEntry(IPAddress.Loopback, DateTimeOffset.UnixEpoch, "GET", "/", "HTTP/1.1", 200, 0, null, null, 0);

        writer.Add(entry);
        await output.Entered.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the first batch is being written, and stuck
        for (var i = 0; i < AccessLogWriter.Capacity + 25; i++)
        {
            writer.Add(entry);
        }

        Assert.Equal(25, metrics.AccessLogDropped.Value);
        output.Release.Set();
        await writer.StopAsync(CancellationToken.None);
        Assert.Equal(AccessLogWriter.Capacity + 1, output.Lines);
    }

    /// <summary>Stdout that cannot keep up: the first write waits until released.</summary>
    private sealed class BlockingWriter : TextWriter
    {
        private readonly StringBuilder _written = new();

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Release { get; } = new();

        public int Lines
        {
            get
            {
                lock (_written)
                {
                    return _written.ToString().Count(c => c == '\n');
                }
            }
        }

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => Write(value.ToString());

        public override void Write(StringBuilder? value) => Write(value?.ToString());

        public override void Write(string? value)
        {
            Entered.TrySetResult();
            Release.Wait(TimeSpan.FromSeconds(30));
            lock (_written)
            {
                _written.Append(value);
            }
        }

        protected override void Dispose(bool disposing)
        {
            Release.Dispose();
            base.Dispose(disposing);
        }
    }
}
