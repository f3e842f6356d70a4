using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Updraft.Bench.Load;

/// <summary>
/// <c>Updraft.Bench.Load rate PORT RATE SECONDS [CONNECTIONS]</c>: the low-load bench's open-loop client alone, against
/// 127.0.0.1:PORT with the bench's request, for a profiler to sample a proxy at a fixed rate (bench/profile.sh with
/// UPDRAFT_PROFILE_RATE). Prints one line: the requests answered, the achieved rate, errors and latency percentiles.
/// </summary>
internal static class RateCommand
{
    private const string Usage = "usage: Updraft.Bench.Load rate PORT RATE SECONDS [CONNECTIONS] (port 1-65535, rate 1-100000 req/s, 1-3600 seconds, 1-256 connections, default 8)";

    public static int Run(string[] args)
    {
        if (args.Length is < 4 or > 5
            || !Parse(args[1], 1, 65_535, out var port)
            || !Parse(args[2], 1, 100_000, out var rate)
            || !Parse(args[3], 1, 3_600, out var seconds))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var connections = 8;
        if (args.Length == 5 && !Parse(args[4], 1, 256, out connections))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var request = Encoding.ASCII.GetBytes($"GET {Targets.Path} HTTP/1.1\r\nHost: {Targets.Host}\r\n\r\n");
        RateRun run;
        try
        {
            run = ConstantRateClient.Run(new IPEndPoint(IPAddress.Loopback, port), request, rate, 0, seconds, Math.Min(connections, rate));
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"rate: cannot connect to 127.0.0.1:{port}: {e.Message}");
            return 1;
        }

        double Ms(double quantile) => Report.Percentile(run.Latencies, quantile) / 1e6;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{run.Latencies.Length} requests answered, {run.AchievedRate:F0} req/s (offered {rate}), errors {run.Errors}, not sent {run.NotSent}, latency p50 {Ms(0.5):F3} p99 {Ms(0.99):F3} p99.9 {Ms(0.999):F3} ms"));
        return run.Errors + run.NotSent == 0 ? 0 : 1;
    }

    private static bool Parse(string text, int min, int max, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
}
