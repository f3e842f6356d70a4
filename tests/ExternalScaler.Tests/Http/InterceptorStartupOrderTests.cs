using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Hosting;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Http;

/// <summary>
/// The scaler started before the interceptor, as <c>./updraft.sh demo</c> and any pod restart do: that is normal, so it
/// is not logged as a failure, and the push stream connects as soon as the interceptor listens.
/// </summary>
public sealed class InterceptorStartupOrderTests
{
    [Fact]
    public async Task ScalerStartsFirst_InterceptorComesUpLater_NoWarningAndStreamConnectsWithinSeconds()
    {
        var directory = Directory.CreateTempSubdirectory("updraft-scaler-test-");
        try
        {
            var routesFile = Path.Combine(directory.FullName, "routes.yaml");
            await File.WriteAllTextAsync(routesFile, RoutesYaml.InterceptorRoute("app", FreePort(), "app.example.com"));
            var adminPort = FreePort();
            var logs = new CapturedLogs();
            await using var scaler = BuildScaler(routesFile, adminPort, logs);
            await scaler.StartAsync();
            var fleet = scaler.Services.GetRequiredService<InterceptorFleet>();

            // Long enough for several refused attempts, so the retry interval has grown to its cap.
            await WaitUntilAsync(() => Task.FromResult(logs.Has(13)), "the scaler notes that the interceptor is not reachable yet");
            await Task.Delay(TimeSpan.FromSeconds(3));
            await using var interceptor = BuildInterceptor(routesFile, adminPort);
            await interceptor.StartAsync();
            var up = Stopwatch.StartNew();
            await WaitUntilAsync(() => Task.FromResult(fleet.Replicas.Single().Streaming), "the scaler streams the interceptor's counts");
            var connectedAfter = up.Elapsed;
            await interceptor.StopAsync();
            await scaler.StopAsync();

            // The retry interval is capped at a second; before, the scaler polled a missing /queue for 30 s first.
            Assert.True(connectedAfter < InterceptorReplica.UnreachableRetryMax + TimeSpan.FromSeconds(3), $"the stream connected {connectedAfter} after the interceptor listened");
            Assert.Empty(logs.AtLeast(LogLevel.Warning));
            Assert.Single(logs.WithId(13));
            Assert.Single(logs.WithId(10));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task InterceptorShutsDown_ItsPortStillAcceptsAndDrops_NoWarning()
    {
        var directory = Directory.CreateTempSubdirectory("updraft-scaler-test-");
        try
        {
            var routesFile = Path.Combine(directory.FullName, "routes.yaml");
            await File.WriteAllTextAsync(routesFile, RoutesYaml.InterceptorRoute("app", FreePort(), "app.example.com"));
            var adminPort = FreePort();
            var logs = new CapturedLogs();
            await using var interceptor = BuildInterceptor(routesFile, adminPort);
            await interceptor.StartAsync();
            await using var scaler = BuildScaler(routesFile, adminPort, logs);
            await scaler.StartAsync();
            var fleet = scaler.Services.GetRequiredService<InterceptorFleet>();
            await WaitUntilAsync(() => Task.FromResult(fleet.Replicas.Any(r => r.Streaming)), "the scaler streams the interceptor's counts");

            // The interceptor ends its stream as it shuts down; its port then takes connections and drops them at once,
            // as a process on its way out can, which gRPC reports as UNAVAILABLE without a refused socket.
            await interceptor.StopAsync();
            using var dropper = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, adminPort);
            dropper.Start();
            using var stopDropping = new CancellationTokenSource();
            var dropping = Task.Run(async () =>
            {
                var dropped = 0;
                try
                {
                    while (true)
                    {
                        using var connection = await dropper.AcceptTcpClientAsync(stopDropping.Token);
                        dropped++;
                    }
                }
                catch (OperationCanceledException)
                {
                    return dropped;
                }
            });
            await WaitUntilAsync(() => Task.FromResult(logs.Has(14)), "the scaler notes that the stream ended");
            await WaitUntilAsync(() => Task.FromResult(logs.Has(13)), "the scaler notes that the interceptor is not reachable");
            await Task.Delay(TimeSpan.FromSeconds(2));
            await stopDropping.CancelAsync();
            var dropped = await dropping;
            await scaler.StopAsync();

            Assert.True(dropped > 0, "no connection reached the dropping port");
            Assert.Empty(logs.AtLeast(LogLevel.Warning));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task InterceptorNeverComesUp_WarnsOnceAfterTheGracePeriodNotBefore()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logs = new CapturedLogs();
        using var loggers = new LoggerFactory([logs]);
        using var queueClient = new HttpClient();
        await using var replica = new InterceptorReplica($"127.0.0.1:{FreePort()}", queueClient, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(200), time, () => { }, loggers.CreateLogger("test"));
        replica.Start();
        await WaitUntilAsync(() => Task.FromResult(logs.Has(13)), "the first refused connection is noted");

        // Just before the grace period: still information only.
        await AdvanceAsync(time, InterceptorReplica.UnreachableWarningAfter - TimeSpan.FromSeconds(2));
        var before = logs.AtLeast(LogLevel.Warning);
        await AdvanceAsync(time, TimeSpan.FromSeconds(10));
        await WaitUntilAsync(() => Task.FromResult(logs.AtLeast(LogLevel.Warning).Count > 0), "the lasting outage is a warning");
        await AdvanceAsync(time, TimeSpan.FromSeconds(10));

        Assert.Empty(before);
        Assert.Single(logs.AtLeast(LogLevel.Warning));
        Assert.Single(logs.WithId(13));
        Assert.Contains("not reachable", logs.AtLeast(LogLevel.Warning)[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DrainingDetail_SameOnBothSides() =>
        Assert.Equal(CountsStreamService.DrainingDetail, InterceptorReplica.DrainingDetail);

    /// <summary>The scaler in standalone mode, following the one interceptor at <paramref name="adminPort"/>.</summary>
    private static WebApplication BuildScaler(string routesFile, int adminPort, CapturedLogs logs)
    {
        var scaler = ScalerApplication.Build([], new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_INTERCEPTORS"] = $"127.0.0.1:{adminPort}",
            ["UPDRAFT_LOG_LEVEL"] = "Information",
        });
        scaler.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        return scaler;
    }

    /// <summary>An interceptor with its admin listener (the count stream) on <paramref name="adminPort"/>, no shutdown delay.</summary>
    private static WebApplication BuildInterceptor(string routesFile, int adminPort) => InterceptorApplication.Build([], new Dictionary<string, string?>
    {
        ["KEDA_HTTP_PROXY_PORT"] = "0",
        ["KEDA_HTTP_ADMIN_PORT"] = adminPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
        ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
        ["UPDRAFT_ROUTES_FILE"] = routesFile,
        ["UPDRAFT_LOG_LEVEL"] = "Warning",
        ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
    });

    /// <summary>Advances fake time in steps of 100 ms, letting the replica's loop (real connects) run between them.</summary>
    private static async Task AdvanceAsync(FakeTimeProvider time, TimeSpan by)
    {
        for (var done = TimeSpan.Zero; done < by; done += TimeSpan.FromMilliseconds(100))
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(2);
        }
    }

    private sealed record Entry(string Category, LogLevel Level, int EventId, string Message);

    /// <summary>Every log entry of the process under test, at any level.</summary>
    private sealed class CapturedLogs : ILoggerProvider
    {
        private readonly ConcurrentQueue<Entry> _entries = new();

        public bool Has(int eventId) => _entries.Any(e => e.EventId == eventId);

        public IReadOnlyList<Entry> WithId(int eventId) => [.. _entries.Where(e => e.EventId == eventId)];

        public IReadOnlyList<Entry> AtLeast(LogLevel level) => [.. _entries.Where(e => e.Level >= level)];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<Entry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue(new Entry(category, logLevel, eventId.Id, formatter(state, exception)));
        }
    }
}
