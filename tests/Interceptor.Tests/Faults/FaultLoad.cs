using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;

namespace Updraft.Interceptor.Tests.Faults;

/// <summary>
/// A bounded load for the fault matrix: <c>total</c> requests shared by a few concurrent loops that stop by themselves.
/// Each request ends in exactly one outcome: its status code (<c>"502"</c>), a status whose body was then cut
/// (<c>"200 cut"</c>), <see cref="ConnectionError"/> (no status at all), or <see cref="NoAnswer"/> when nothing came
/// back within the per-request limit, which no fault may cause.
/// </summary>
internal sealed class FaultLoad
{
    public const string ConnectionError = "connection error";
    public const string NoAnswer = "no answer";
    public const string CutSuffix = " cut";

    private static readonly TimeSpan PerRequestLimit = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<string, int> _outcomes = new(StringComparer.Ordinal);
    private readonly int _total;
    private int _next;
    private int _completed;

    private FaultLoad(int total)
    {
        _total = total;
    }

    public Task Finished { get; private set; } = Task.CompletedTask;

    public int Completed => Volatile.Read(ref _completed);

    public int Total => _total;

    /// <summary>How many requests ended with <paramref name="outcome"/>.</summary>
    public int Count(string outcome) => _outcomes.GetValueOrDefault(outcome);

    /// <summary>How many requests ended with an outcome matching <paramref name="match"/>.</summary>
    public int Count(Func<string, bool> match) => _outcomes.Where(o => match(o.Key)).Sum(o => o.Value);

    public IReadOnlyDictionary<string, int> Outcomes => new SortedDictionary<string, int>(_outcomes, StringComparer.Ordinal);

    /// <summary>Starts <paramref name="loops"/> loops that together send <paramref name="total"/> requests with <paramref name="send"/>.</summary>
    /// <param name="send">Sends request number i and returns its outcome (see <see cref="SendAsync"/>).</param>
    public static FaultLoad Start(int total, int loops, Func<int, CancellationToken, Task<string>> send)
    {
        var load = new FaultLoad(total);
        load.Finished = Task.WhenAll(Enumerable.Range(0, loops).Select(_ => Task.Run(() => load.LoopAsync(send))));
        return load;
    }

    /// <summary>
    /// Sends one request and reads the whole response: its status, with <see cref="CutSuffix"/> when the body broke
    /// off after the status arrived, or <see cref="ConnectionError"/> when no status arrived.
    /// </summary>
    public static async Task<string> SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException)
        {
            return ConnectionError;
        }

        using (response)
        {
            var status = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            try
            {
                await response.Content.CopyToAsync(Stream.Null, cancellationToken);
                return status;
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                return status + CutSuffix;
            }
        }
    }

    /// <summary>A client for loopback load: no proxy, no pool limit, no client-side timeout (the load has its own).</summary>
    public static HttpClient Client(string address, int port) =>
        new(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = int.MaxValue, ConnectTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = new Uri($"http://{address}:{port}"),
            Timeout = Timeout.InfiniteTimeSpan,
        };

    /// <summary>A GET for <paramref name="host"/>.</summary>
    public static HttpRequestMessage Get(string host, string path = "/") => new(HttpMethod.Get, path) { Headers = { Host = host } };

    /// <summary>Waits for the loops, at most <paramref name="limit"/> (they stop by themselves well before).</summary>
    public async Task WaitAsync(TimeSpan limit)
    {
        await Finished.WaitAsync(limit);
        Assert.Equal(_total, Completed);
    }

    public override string ToString() => string.Join(", ", Outcomes.Select(o => $"{o.Key} ×{o.Value}"));

    private async Task LoopAsync(Func<int, CancellationToken, Task<string>> send)
    {
        int i;
        while ((i = Interlocked.Increment(ref _next)) <= _total)
        {
            using var limit = new CancellationTokenSource(PerRequestLimit);
            string outcome;
            try
            {
                outcome = await send(i, limit.Token);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested)
            {
                outcome = NoAnswer;
            }
            catch (SocketException)
            {
                outcome = ConnectionError;
            }

            _outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
            Interlocked.Increment(ref _completed);
        }
    }
}

/// <summary>Polling with a deadline: the matrix never asserts on speed, only on what eventually holds.</summary>
internal static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(25);
        }
    }
}
