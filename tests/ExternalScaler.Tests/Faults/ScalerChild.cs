using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Updraft.Interceptor.Tests.Faults;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Faults;

/// <summary>
/// The scaler binary as a child process on a fixed loopback gRPC port (a restarted process is the same address to
/// KEDA), with a gRPC client used the way KEDA uses it.
/// </summary>
internal sealed class ScalerChild : IAsyncDisposable
{
    private const string Program = "Updraft.ExternalScaler.dll";

    private readonly TempDirectory _directory = new();
    private readonly Dictionary<string, string> _settings;
    private readonly GrpcChannel _channel;
    private string? _lastError;

    private ScalerChild(Dictionary<string, string> settings, int port)
    {
        _settings = settings;
        Port = port;
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        Client = new Scaler.ExternalScalerClient(_channel);
    }

    public InterceptorProcess Process { get; private set; } = null!;

    public int Port { get; }

    public Scaler.ExternalScalerClient Client { get; }

    /// <param name="routesYaml">The routes file (standalone mode), or null for backlog triggers only.</param>
    /// <param name="settings">Environment variables.</param>
    public static ScalerChild Start(string? routesYaml, Dictionary<string, string>? settings = null)
    {
        // The default tick and stream interval: faster ones give a cold process on a busy machine too little time for
        // its first count snapshot, and the scaler then polls /queue for 30 s before it tries the stream again.
        var all = new Dictionary<string, string>(settings ?? [], StringComparer.Ordinal);

        var child = new ScalerChild(all, InterceptorChild.FreePort());
        if (routesYaml is not null)
        {
            child._directory.Write("routes.yaml", routesYaml);
            all["UPDRAFT_ROUTES_FILE"] = Path.Combine(child._directory.Path, "routes.yaml");
        }

        child.StartProcess();
        return child;
    }

    /// <summary>SIGKILL, then the same binary again on the same port with the same settings.</summary>
    public async Task RestartAsync()
    {
        await Process.KillAsync();
        await Process.DisposeAsync();
        StartProcess();
    }

    /// <summary>How many times the scaler logged that a replica's push stream is open.</summary>
    public int StreamsOpened => Process.StdoutLines.Count(line => line.Contains("receiving counts over the push stream", StringComparison.Ordinal));

    /// <summary>Waits until the scaler has logged <paramref name="count"/> push streams opening; a timeout shows its output.</summary>
    public async Task WaitForStreamsOpenedAsync(int count, string what)
    {
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(StreamsOpened >= count), what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} {Output()}", e);
        }
    }

    /// <summary><c>GetMetrics</c> for one metric (the trigger's only one when empty), or NaN while the scaler answers with an error or is not up.</summary>
    public async Task<double> MetricAsync(ScaledObjectRef reference, string metricName = "")
    {
        try
        {
            var response = await Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = metricName }, deadline: DateTime.UtcNow.AddSeconds(5));
            return response.MetricValues.Single().MetricValueFloat;
        }
        catch (RpcException e)
        {
            _lastError = $"{e.StatusCode}: {e.Status.Detail}";
            return double.NaN;
        }
    }

    /// <summary>Waits until <c>GetMetrics</c> answers <paramref name="expected"/>; a timeout names the last answer and the scaler's log.</summary>
    public async Task WaitForMetricAsync(ScaledObjectRef reference, string metricName, double expected, string what)
    {
        var last = double.NaN;
        try
        {
            await Poll.UntilAsync(async () => (last = await MetricAsync(reference, metricName)) == expected, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last answer: {(double.IsNaN(last) ? _lastError : last)}; {Output()}", e);
        }
    }

    public static ScaledObjectRef Ref(string name, params (string Key, string Value)[] metadata)
    {
        var reference = new ScaledObjectRef { Name = name, Namespace = "default" };
        foreach (var (key, value) in metadata)
        {
            reference.ScalerMetadata[key] = value;
        }

        return reference;
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }

        _directory.Dispose();
    }

    private string Output() =>
        $"scaler {(Process.HasExited ? "exited" : "running")}; stdout:\n{string.Join("\n", Process.StdoutLines.TakeLast(40))}\nstderr:\n{string.Join("\n", Process.StderrLines)}";

    private void StartProcess()
    {
        var settings = new Dictionary<string, string>(_settings, StringComparer.Ordinal)
        {
            ["KEDA_HTTP_SCALER_PORT"] = Port.ToString(CultureInfo.InvariantCulture),
        };
        Process = InterceptorProcess.Start(_directory.Path, [], settings, Program);
    }
}
