using Updraft.Shared.Settings;

namespace Updraft.Local.Options;

/// <summary>The local autoscaler's settings: command-line flags, or the environment variables they stand for.</summary>
internal sealed class LocalOptions
{
    public const string RoutesFileVariable = "UPDRAFT_ROUTES_FILE";
    public const string ScalerVariable = "UPDRAFT_LOCAL_SCALER";
    public const string PortVariable = "UPDRAFT_LOCAL_PORT";
    public const string BindAddressVariable = "UPDRAFT_BIND_ADDRESS";
    public const int DefaultPort = 9092;

    /// <summary>The demo's scaler (KEDA_HTTP_SCALER_PORT=9091 next to an interceptor on 9090).</summary>
    public const string DefaultScaler = "127.0.0.1:9091";

    public required string RoutesFile { get; init; }

    /// <summary><c>host:port</c> of the external scaler's gRPC port.</summary>
    public required string Scaler { get; init; }

    /// <summary>The replicas feed's port (gRPC, h2c); 0 picks a free one.</summary>
    public int Port { get; init; } = DefaultPort;

    public string BindAddress { get; init; } = "127.0.0.1";

    public static LocalOptions Read(Func<string, string?> lookup, List<string> problems)
    {
        var reader = new SettingReader(lookup, problems);
        var routes = reader.Text(RoutesFileVariable);
        if (routes is null)
        {
            problems.Add($"{RoutesFileVariable} (--routes) is required: the routes file with the LocalWorkload documents to run");
        }
        else if (!File.Exists(routes))
        {
            problems.Add($"{RoutesFileVariable}=\"{routes}\" (--routes) is not a file");
        }

        var scaler = reader.Text(ScalerVariable) ?? DefaultScaler;
        if (!HostPortSetting.IsValid(scaler))
        {
            problems.Add($"{ScalerVariable}=\"{scaler}\" (--scaler) is not a valid scaler address; {HostPortSetting.AllowedForm}");
        }

        return new LocalOptions
        {
            RoutesFile = routes ?? "",
            Scaler = scaler,
            Port = reader.Port(PortVariable, DefaultPort),
            BindAddress = reader.BindAddress(BindAddressVariable, "127.0.0.1"),
        };
    }
}
