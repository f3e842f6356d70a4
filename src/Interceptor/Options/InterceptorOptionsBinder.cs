using Updraft.Shared.Durations;

namespace Updraft.Interceptor.Options;

/// <summary>Reads the add-on's flat environment variable names into <see cref="InterceptorOptions"/>.</summary>
internal static class InterceptorOptionsBinder
{
    public const string RoutesFileVariable = "UPDRAFT_ROUTES_FILE";

    public static void Bind(IConfiguration configuration, InterceptorOptions options)
    {
        var reader = new SettingReader(configuration, options.BindingProblems);
        options.ProxyPort = reader.Port("KEDA_HTTP_PROXY_PORT", options.ProxyPort);
        options.AdminPort = reader.Port("KEDA_HTTP_ADMIN_PORT", options.AdminPort);
        options.MetricsPort = reader.Port("OTEL_PROM_EXPORTER_PORT", options.MetricsPort);
        options.MetricsEnabled = reader.Boolean("OTEL_PROM_EXPORTER_ENABLED", options.MetricsEnabled);
        options.BindAddress = reader.String("UPDRAFT_BIND_ADDRESS") ?? options.BindAddress;
        options.RoutesFile = reader.String(RoutesFileVariable) ?? options.RoutesFile;
        options.RequestTimeout = reader.Duration("KEDA_HTTP_REQUEST_TIMEOUT", options.RequestTimeout);
        options.ResponseHeaderTimeout = reader.Duration("KEDA_HTTP_RESPONSE_HEADER_TIMEOUT", options.ResponseHeaderTimeout);
        options.ReadinessTimeout = reader.Duration("KEDA_HTTP_READINESS_TIMEOUT", options.ReadinessTimeout);
        options.ConnectTimeout = reader.Duration("KEDA_HTTP_CONNECT_TIMEOUT", options.ConnectTimeout);
        options.MaxIdleConnections = reader.NonNegativeInteger("KEDA_HTTP_MAX_IDLE_CONNS", options.MaxIdleConnections);
        options.MaxIdleConnectionsPerHost = reader.NonNegativeInteger("KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST", options.MaxIdleConnectionsPerHost);
        options.EnableColdStartHeader = reader.Boolean("KEDA_HTTP_ENABLE_COLD_START_HEADER", options.EnableColdStartHeader);
        options.DrainTimeout = reader.Duration("KEDA_HTTP_DRAIN_TIMEOUT", options.DrainTimeout);
        options.ShutdownDelay = reader.Duration("KEDA_HTTP_SHUTDOWN_DELAY", options.ShutdownDelay);

        // The add-on's deprecated names still win when set above zero, as they do there.
        var conditionWait = reader.Duration("KEDA_CONDITION_WAIT_TIMEOUT", TimeSpan.Zero);
        if (conditionWait > TimeSpan.Zero)
        {
            options.ReadinessTimeout = conditionWait;
        }

        var legacyResponseHeader = reader.Duration("KEDA_RESPONSE_HEADER_TIMEOUT", TimeSpan.Zero);
        if (legacyResponseHeader > TimeSpan.Zero)
        {
            options.ResponseHeaderTimeout = legacyResponseHeader;
        }
    }

    private readonly struct SettingReader(IConfiguration configuration, List<string> problems)
    {
        public string? String(string name) => configuration[name] is { Length: > 0 } value ? value.Trim() : null;

        public int Port(string name, int fallback)
        {
            var text = String(name);
            if (text is null)
            {
                return fallback;
            }

            if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535)
            {
                return port;
            }

            problems.Add($"{name}=\"{text}\" is not a valid port; use a number from 1 to 65535, or 0 to pick a free port");
            return fallback;
        }

        public int NonNegativeInteger(string name, int fallback)
        {
            var text = String(name);
            if (text is null)
            {
                return fallback;
            }

            if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }

            problems.Add($"{name}=\"{text}\" is not valid; use a whole number, 0 or more");
            return fallback;
        }

        public TimeSpan Duration(string name, TimeSpan fallback)
        {
            var text = String(name);
            if (text is null)
            {
                return fallback;
            }

            if (GoDuration.TryParse(text, out var value) && value >= TimeSpan.Zero)
            {
                return value;
            }

            problems.Add($"{name}=\"{text}\" is not valid; use {GoDuration.AllowedForm}");
            return fallback;
        }

        // Go's strconv.ParseBool, which the add-on's env parser uses.
        public bool Boolean(string name, bool fallback)
        {
            var text = String(name);
            switch (text)
            {
                case null:
                    return fallback;
                case "1" or "t" or "T" or "true" or "TRUE" or "True":
                    return true;
                case "0" or "f" or "F" or "false" or "FALSE" or "False":
                    return false;
                default:
                    problems.Add($"{name}=\"{text}\" is not valid; use true or false");
                    return fallback;
            }
        }
    }
}
