using System.Collections.Frozen;
using Updraft.Shared.Crds;
using Updraft.Shared.Durations;

namespace Updraft.Shared.Routes;

/// <summary>Where routes come from, which decides what a target may name.</summary>
public enum RouteEnvironment
{
    /// <summary><c>target.service</c> is a host name or IP reached directly; only numeric ports.</summary>
    Standalone,

    /// <summary><c>target.service</c> is a Service in the route's namespace; named ports resolve through it.</summary>
    Kubernetes,
}

/// <summary>
/// Validates <c>InterceptorRoute</c> and <c>HTTPScaledObject</c> objects and converts both to
/// <see cref="RouteDefinition"/>. Enforces what the CRD schema and its CEL rules say, so that standalone files
/// and clusters without CEL get the same checks. Every problem is reported, not only the first.
/// </summary>
public static class RouteConversion
{
    public const int MaxInlineBodyBytes = 32 * 1024;
    public const string AppProtocolAnnotation = "updraft.dev/app-protocol";

    /// <summary>Standalone mode: the route's target is this <c>LocalWorkload</c> (same namespace) instead of <c>spec.target</c>.</summary>
    public const string LocalWorkloadAnnotation = "updraft.dev/local-workload";
    private const string H2cAppProtocol = "kubernetes.io/h2c";

    private static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan DefaultGranularity = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultFailoverTimeout = TimeSpan.FromSeconds(30);
    private const int HttpScaledObjectDefaultTarget = 100;

    public static RouteDefinition? FromInterceptorRoute(InterceptorRoute route, RouteEnvironment environment, RouteProblemCollector problems, int sourceOrder = 0)
    {
        var (ns, name) = ReadMetadata(route.Metadata, problems);
        var spec = route.Spec;
        if (spec is null)
        {
            problems.Add("spec", "is required");
            return null;
        }

        var target = route.Metadata?.Annotations?.ContainsKey(LocalWorkloadAnnotation) == true
            ? ReadLocalWorkload(route.Metadata.Annotations[LocalWorkloadAnnotation], spec.Target is not null, "spec.target", environment, problems)
            : ReadTarget(spec.Target, "spec.target", environment, problems, route.Metadata?.Annotations);
        var rules = ReadRules(spec.Rules, "spec.rules", problems);
        var metric = ReadScalingMetric(spec.ScalingMetric, "spec.scalingMetric", problems, required: true);
        var timeouts = new RouteTimeouts(
            ReadDuration(spec.Timeouts?.Request, "spec.timeouts.request", problems),
            ReadDuration(spec.Timeouts?.ResponseHeader, "spec.timeouts.responseHeader", problems),
            ReadDuration(spec.Timeouts?.Readiness, "spec.timeouts.readiness", problems));
        var coldStart = ReadColdStart(spec.ColdStart, environment, problems);
        var staticRoutes = ReadStaticRoutes(spec.StaticRoutes, problems);

        if (problems.HasProblems || target is null || metric is null || ns is null || name is null)
        {
            return null;
        }

        return new RouteDefinition(ns, name)
        {
            Source = RouteSourceKind.InterceptorRoute,
            CreationTimestamp = route.Metadata?.CreationTimestamp,
            SourceOrder = sourceOrder,
            Target = target,
            Rules = rules,
            ScalingMetric = metric,
            Timeouts = timeouts,
            ColdStart = coldStart,
            StaticRoutes = staticRoutes,
        };
    }

    /// <summary>Converts the add-on's older API the way its interceptor does (same namespace/name, one rule).</summary>
    public static RouteDefinition? FromHttpScaledObject(HttpScaledObject scaledObject, RouteEnvironment environment, RouteProblemCollector problems, int sourceOrder = 0)
    {
        var (ns, name) = ReadMetadata(scaledObject.Metadata, problems);
        var spec = scaledObject.Spec;
        if (spec is null)
        {
            problems.Add("spec", "is required");
            return null;
        }

        UpstreamRef? target = null;
        if (scaledObject.Metadata?.Annotations?.ContainsKey(LocalWorkloadAnnotation) == true)
        {
            var reference = spec.ScaleTargetRef;
            target = ReadLocalWorkload(scaledObject.Metadata.Annotations[LocalWorkloadAnnotation], reference?.Service is not null || reference?.Port is not null || reference?.PortName is not null, "spec.scaleTargetRef", environment, problems);
        }
        else if (spec.ScaleTargetRef is null)
        {
            problems.Add("spec.scaleTargetRef", "is required");
        }
        else
        {
            var reference = spec.ScaleTargetRef;
            target = ReadUpstream(reference.Service, reference.Port, reference.PortName, "spec.scaleTargetRef", "service", "must define either the 'portName' or the 'port'", environment, problems, scaledObject.Metadata?.Annotations);
        }

        var hosts = new List<string>();
        ReadHosts(spec.Hosts, "spec.hosts", hosts, problems);
        var paths = ReadPaths(spec.PathPrefixes, "spec.pathPrefixes", problems);
        var headers = ReadHeaders(spec.Headers, "spec.headers", problems);
        var rules = new[] { new RouteRule(hosts.Count == 0 ? [HostNames.CatchAll] : hosts, paths, headers) };

        ScalingMetricDefinition? metric;
        if (spec.ScalingMetric is null)
        {
            var target0 = spec.TargetPendingRequests ?? HttpScaledObjectDefaultTarget;
            if (target0 < 1)
            {
                problems.Add("spec.targetPendingRequests", "must be at least 1");
            }

            metric = new ScalingMetricDefinition(new ConcurrencyTarget(target0), null);
        }
        else
        {
            if (spec.ScalingMetric.Concurrency is not null && spec.ScalingMetric.RequestRate is not null)
            {
                problems.Add("spec.scalingMetric", "set either concurrency or requestRate, not both");
            }

            metric = ReadScalingMetric(spec.ScalingMetric, "spec.scalingMetric", problems, required: false, defaultTarget: HttpScaledObjectDefaultTarget);
        }

        var readiness = Positive(ReadDuration(spec.Timeouts?.ConditionWait, "spec.timeouts.conditionWait", problems));
        var responseHeader = Positive(ReadDuration(spec.Timeouts?.ResponseHeader, "spec.timeouts.responseHeader", problems));
        ColdStartDefinition? coldStart = null;
        if (spec.ColdStartTimeoutFailoverRef is { } failover)
        {
            var fallback = ReadUpstream(failover.Service, failover.Port, failover.PortName, "spec.coldStartTimeoutFailoverRef", "service", "must define either the 'portName' or the 'port'", environment, problems, annotations: null);
            var seconds = failover.TimeoutSeconds ?? (int)DefaultFailoverTimeout.TotalSeconds;
            if (seconds < 0)
            {
                problems.Add("spec.coldStartTimeoutFailoverRef.timeoutSeconds", "must not be negative");
            }
            else if (seconds > 0)
            {
                readiness = TimeSpan.FromSeconds(seconds);
            }

            coldStart = new ColdStartDefinition(fallback, null, null, ColdStartOverflow.Reject);
        }

        if (problems.HasProblems || target is null || metric is null || ns is null || name is null)
        {
            return null;
        }

        return new RouteDefinition(ns, name)
        {
            Source = RouteSourceKind.HttpScaledObject,
            CreationTimestamp = scaledObject.Metadata?.CreationTimestamp,
            SourceOrder = sourceOrder,
            Target = target,
            Rules = rules,
            ScalingMetric = metric,
            Timeouts = new RouteTimeouts(null, responseHeader, readiness),
            ColdStart = coldStart,
        };
    }

    private static TimeSpan? Positive(TimeSpan? value) => value > TimeSpan.Zero ? value : null;

    private static (string? Namespace, string? Name) ReadMetadata(ObjectMeta? metadata, RouteProblemCollector problems)
    {
        var ns = string.IsNullOrEmpty(metadata?.Namespace) ? RouteKeys.DefaultNamespace : metadata.Namespace;
        var name = metadata?.Name;
        if (string.IsNullOrEmpty(name))
        {
            problems.Add("metadata.name", "is required");
            return (ns, null);
        }

        problems.ObjectName = RouteKeys.Format(ns, name);
        CheckDnsName(ns, "metadata.namespace", problems);
        CheckDnsName(name, "metadata.name", problems);
        return (ns, name);
    }

    internal static void CheckDnsName(string value, string field, RouteProblemCollector problems)
    {
        if (value.Length > 253 || value.AsSpan().IndexOfAnyExcept(DnsNameChars) >= 0 || !char.IsAsciiLetterOrDigit(value[0]) || !char.IsAsciiLetterOrDigit(value[^1]))
        {
            problems.Add(field, $"\"{value}\" is not a valid Kubernetes name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)");
        }
    }

    private static readonly System.Buffers.SearchValues<char> DnsNameChars = System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-.");

    private static UpstreamRef? ReadTarget(TargetRef? target, string field, RouteEnvironment environment, RouteProblemCollector problems, Dictionary<string, string>? annotations)
    {
        if (target is null)
        {
            problems.Add(field, "is required");
            return null;
        }

        var upstream = ReadUpstream(target.Service, target.Port, target.PortName, field, "service", "exactly one of 'port' or 'portName' must be set", environment, problems, annotations);
        if (upstream is null || target.AppProtocol is null)
        {
            return upstream;
        }

        var protocol = ParseAppProtocol(target.AppProtocol);
        if (protocol is null)
        {
            problems.Add(field + ".appProtocol", $"\"{target.AppProtocol}\" is not supported; use http1 or h2c");
            return null;
        }

        return upstream with { Protocol = protocol.Value };
    }

    /// <summary>The annotation's target: a LocalWorkload in the route's namespace (its existence is checked with the whole file).</summary>
    private static UpstreamRef? ReadLocalWorkload(string? workload, bool hasTarget, string targetField, RouteEnvironment environment, RouteProblemCollector problems)
    {
        const string field = "metadata.annotations." + LocalWorkloadAnnotation;
        if (environment == RouteEnvironment.Kubernetes)
        {
            problems.Add(field, "names a LocalWorkload, which only the local autoscaler runs (standalone mode); in a cluster, remove the annotation and set spec.target to the workload's Service");
            return null;
        }

        if (hasTarget)
        {
            problems.Add(targetField, "leave out the service and port: the route's target is the LocalWorkload named by " + LocalWorkloadAnnotation);
        }

        if (string.IsNullOrEmpty(workload))
        {
            problems.Add(field, "must name a LocalWorkload in the route's namespace");
            return null;
        }

        CheckDnsName(workload, field, problems);
        return new UpstreamRef(workload, null, null) { Workload = workload };
    }

    private static UpstreamProtocol? ParseAppProtocol(string value) => value.ToLowerInvariant() switch
    {
        "http1" or "http" or "http/1.1" => UpstreamProtocol.Http1,
        "h2c" or H2cAppProtocol => UpstreamProtocol.H2c,
        _ => null,
    };

    private static UpstreamRef? ReadUpstream(string? service, int? port, string? portName, string field, string serviceField, string exactlyOneMessage, RouteEnvironment environment, RouteProblemCollector problems, Dictionary<string, string>? annotations)
    {
        var ok = true;
        if (string.IsNullOrWhiteSpace(service))
        {
            problems.Add(field + "." + serviceField, "is required");
            ok = false;
        }
        else if (service.AsSpan().IndexOfAny(" /?#@") >= 0)
        {
            problems.Add(field + "." + serviceField, $"\"{service}\" is not a host name, IP address or Service name");
            ok = false;
        }

        if (port.HasValue == !string.IsNullOrEmpty(portName))
        {
            problems.Add(field, exactlyOneMessage);
            ok = false;
        }
        else if (port is < 1 or > 65535)
        {
            problems.Add(field + ".port", $"{port} is out of range; use 1-65535");
            ok = false;
        }
        else if (portName is not null && environment == RouteEnvironment.Standalone)
        {
            problems.Add(field + ".portName", "named ports resolve through a Kubernetes Service and are not available in standalone mode; set port instead");
            ok = false;
        }

        var protocol = UpstreamProtocol.Http1;
        if (annotations is not null && annotations.TryGetValue(AppProtocolAnnotation, out var annotated))
        {
            var parsed = ParseAppProtocol(annotated ?? ""); // null: "key: ~" in a file
            if (parsed is null)
            {
                problems.Add("metadata.annotations." + AppProtocolAnnotation, $"\"{annotated}\" is not supported; use http1 or h2c");
                ok = false;
            }
            else
            {
                protocol = parsed.Value;
            }
        }

        return ok ? new UpstreamRef(service!.Trim(), port, string.IsNullOrEmpty(portName) ? null : portName, protocol) : null;
    }

    private static List<RouteRule> ReadRules(List<RoutingRule>? rules, string field, RouteProblemCollector problems)
    {
        var result = new List<RouteRule>();
        if (rules is null)
        {
            return result;
        }

        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            var ruleField = $"{field}[{i}]";
            if (rule is null)
            {
                problems.Add(ruleField, "must be an object");
                continue;
            }

            var hosts = new List<string>();
            ReadHosts(rule.Hosts, ruleField + ".hosts", hosts, problems);
            result.Add(new RouteRule(
                hosts.Count == 0 ? [HostNames.CatchAll] : hosts,
                ReadPaths(rule.Paths?.ConvertAll(p => p?.Value!), ruleField + ".paths", problems, valueSuffix: ".value", requireLeadingSlash: true),
                ReadHeaders(rule.Headers, ruleField + ".headers", problems)));
        }

        return result;
    }

    private static void ReadHosts(List<string>? hosts, string field, List<string> into, RouteProblemCollector problems)
    {
        if (hosts is null)
        {
            return;
        }

        for (var i = 0; i < hosts.Count; i++)
        {
            var error = HostNames.TryNormalizeRouteHost(hosts[i], out var normalized);
            if (error is not null)
            {
                problems.Add($"{field}[{i}]", $"\"{hosts[i]}\" is not a valid host: {error}");
            }
            else if (!into.Contains(normalized))
            {
                into.Add(normalized);
            }
        }
    }

    /// <param name="paths">The prefixes as written.</param>
    /// <param name="field">Where they are, for problems.</param>
    /// <param name="problems">Receives what is wrong.</param>
    /// <param name="valueSuffix">Appended to each item's field (<c>.value</c> for InterceptorRoute path objects).</param>
    /// <param name="requireLeadingSlash">InterceptorRoute paths must be absolute (<c>/api</c>), as Gateway API paths are;
    /// HTTPScaledObject keeps the add-on's leniency, where <c>api</c> means <c>/api</c>.</param>
    private static List<string> ReadPaths(List<string>? paths, string field, RouteProblemCollector problems, string valueSuffix = "", bool requireLeadingSlash = false)
    {
        var result = new List<string>();
        if (paths is null || paths.Count == 0)
        {
            result.Add("");
            return result;
        }

        for (var i = 0; i < paths.Count; i++)
        {
            var path = paths[i];
            if (string.IsNullOrEmpty(path))
            {
                problems.Add($"{field}[{i}]{valueSuffix}", "must not be empty; use \"/\" for every path");
                continue;
            }

            if (path.AsSpan().IndexOfAny(" ?#") >= 0)
            {
                problems.Add($"{field}[{i}]{valueSuffix}", $"\"{path}\" is not a path prefix (no spaces, query or fragment)");
                continue;
            }

            if (requireLeadingSlash && path[0] != '/')
            {
                problems.Add($"{field}[{i}]{valueSuffix}", $"\"{path}\" must start with '/' (for example \"/{path}\")");
                continue;
            }

            var trimmed = path.Trim('/');
            if (!result.Contains(trimmed))
            {
                result.Add(trimmed);
            }
        }

        return result;
    }

    private static List<HeaderRequirement> ReadHeaders(List<HeaderMatch>? headers, string field, RouteProblemCollector problems)
    {
        var result = new List<HeaderRequirement>();
        if (headers is null)
        {
            return result;
        }

        for (var i = 0; i < headers.Count; i++)
        {
            var name = headers[i]?.Name;
            if (string.IsNullOrEmpty(name))
            {
                problems.Add($"{field}[{i}].name", "is required");
                continue;
            }

            if (name.AsSpan().IndexOfAnyExcept(HeaderTokenChars) >= 0)
            {
                problems.Add($"{field}[{i}].name", $"\"{name}\" is not a valid header name");
                continue;
            }

            if (result.Exists(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                problems.Add($"{field}[{i}].name", $"\"{name}\" is listed twice (header names are case-insensitive)");
                continue;
            }

            result.Add(new HeaderRequirement(name, headers[i].Value));
        }

        return result;
    }

    private static readonly System.Buffers.SearchValues<char> HeaderTokenChars =
        System.Buffers.SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    private static ScalingMetricDefinition? ReadScalingMetric(ScalingMetricSpec? spec, string field, RouteProblemCollector problems, bool required, int? defaultTarget = null)
    {
        if (spec is null || (spec.Concurrency is null && spec.RequestRate is null))
        {
            if (required)
            {
                problems.Add(field, "is required and must set concurrency, requestRate or both");
                return null;
            }

            return new ScalingMetricDefinition(new ConcurrencyTarget(defaultTarget ?? HttpScaledObjectDefaultTarget), null);
        }

        ConcurrencyTarget? concurrency = null;
        if (spec.Concurrency is not null)
        {
            var value = ReadTargetValue(spec.Concurrency.TargetValue, field + ".concurrency.targetValue", problems, defaultTarget);
            concurrency = value is null ? null : new ConcurrencyTarget(value.Value);
        }

        RequestRateTarget? rate = null;
        if (spec.RequestRate is not null)
        {
            var rateField = field + ".requestRate";
            var value = ReadTargetValue(spec.RequestRate.TargetValue, rateField + ".targetValue", problems, defaultTarget);
            var window = ReadDuration(spec.RequestRate.Window, rateField + ".window", problems) ?? DefaultWindow;
            var granularity = ReadDuration(spec.RequestRate.Granularity, rateField + ".granularity", problems) ?? DefaultGranularity;
            if (RequestRateRules.Check(window, granularity) is { Message: { } message, Parameter: var parameter })
            {
                problems.Add(rateField + "." + parameter, message);
            }

            rate = value is null ? null : new RequestRateTarget(value.Value, window, granularity);
        }

        return new ScalingMetricDefinition(concurrency, rate);
    }

    private static int? ReadTargetValue(int? value, string field, RouteProblemCollector problems, int? defaultTarget)
    {
        value ??= defaultTarget;
        if (value is null)
        {
            problems.Add(field, "is required");
            return null;
        }

        if (value < 1)
        {
            problems.Add(field, $"{value} must be at least 1");
            return null;
        }

        return value;
    }

    private static TimeSpan? ReadDuration(string? text, string field, RouteProblemCollector problems)
    {
        if (text is null)
        {
            return null;
        }

        if (!GoDuration.TryParse(text, out var value) || value < TimeSpan.Zero)
        {
            problems.Add(field, $"\"{text}\" is not valid; use {GoDuration.AllowedForm}");
            return null;
        }

        return value;
    }

    private static ColdStartDefinition? ReadColdStart(ColdStartSpec? spec, RouteEnvironment environment, RouteProblemCollector problems)
    {
        if (spec is null)
        {
            return null;
        }

        const string field = "spec.coldStart";
        if (spec.Fallback is null && spec.Placeholder is null && spec.MaxPendingRequests is null)
        {
            problems.Add(field, "must set fallback, placeholder or maxPendingRequests");
        }

        UpstreamRef? fallback = null;
        if (spec.Fallback is not null)
        {
            var service = spec.Fallback.Service;
            if (service is null)
            {
                problems.Add(field + ".fallback.service", "is required");
            }
            else
            {
                fallback = ReadUpstream(service.Name, service.Port, service.PortName, field + ".fallback.service", "name", "exactly one of 'port' or 'portName' must be set", environment, problems, annotations: null);
            }
        }

        StaticResponseDefinition? placeholder = null;
        if (spec.Placeholder is not null)
        {
            if (spec.Placeholder.Response is null)
            {
                problems.Add(field + ".placeholder.response", "is required");
            }
            else
            {
                placeholder = ReadStaticResponse(spec.Placeholder.Response, field + ".placeholder.response", problems);
            }
        }

        if (spec.MaxPendingRequests is < 0)
        {
            problems.Add(field + ".maxPendingRequests", $"{spec.MaxPendingRequests} must be 0 (unlimited) or more");
        }

        var overflow = ColdStartOverflow.Reject;
        if (spec.Overflow is not null && !Enum.TryParse(spec.Overflow, ignoreCase: false, out overflow))
        {
            problems.Add(field + ".overflow", $"\"{spec.Overflow}\" is not supported; use Reject or Placeholder");
        }
        else if (overflow == ColdStartOverflow.Placeholder && spec.Placeholder is null)
        {
            problems.Add(field + ".overflow", "Placeholder needs coldStart.placeholder.response");
        }

        return new ColdStartDefinition(fallback, placeholder, spec.MaxPendingRequests, overflow);
    }

    private static List<StaticRouteDefinition> ReadStaticRoutes(List<StaticRouteSpec>? specs, RouteProblemCollector problems)
    {
        var result = new List<StaticRouteDefinition>();
        if (specs is null)
        {
            return result;
        }

        for (var i = 0; i < specs.Count; i++)
        {
            var field = $"spec.staticRoutes[{i}]";
            var spec = specs[i];
            if (spec is null)
            {
                problems.Add(field, "must be an object");
                continue;
            }

            if (spec.Rules is null || spec.Rules.Count == 0)
            {
                problems.Add(field + ".rules", "needs at least one rule");
            }

            if (spec.Response is null)
            {
                problems.Add(field + ".response", "is required");
            }

            var mode = StaticResponseMode.WhenUnavailable;
            if (spec.ResponseMode is not null && !Enum.TryParse(spec.ResponseMode, ignoreCase: false, out mode))
            {
                problems.Add(field + ".responseMode", $"\"{spec.ResponseMode}\" is not supported; use Always or WhenUnavailable");
            }

            var rules = ReadStaticRules(spec.Rules, field + ".rules", problems);
            var response = spec.Response is null ? null : ReadStaticResponse(spec.Response, field + ".response", problems);
            if (response is not null)
            {
                result.Add(new StaticRouteDefinition(rules, response, mode));
            }
        }

        return result;
    }

    // Static-route rules are filters: an empty host list matches every host, not only the catch-all.
    private static List<RouteRule> ReadStaticRules(List<RoutingRule>? rules, string field, RouteProblemCollector problems)
    {
        var converted = ReadRules(rules, field, problems);
        for (var i = 0; i < converted.Count; i++)
        {
            if (rules![i]?.Hosts is null or { Count: 0 })
            {
                converted[i] = converted[i] with { Hosts = [] };
            }
        }

        return converted;
    }

    private static StaticResponseDefinition? ReadStaticResponse(StaticResponseSpec spec, string field, RouteProblemCollector problems)
    {
        var ok = true;
        if (spec.StatusCode is not null and not 0 and (< 100 or > 599))
        {
            problems.Add(field + ".statusCode", $"{spec.StatusCode} is not an HTTP status; use 100-599");
            ok = false;
        }

        if (spec.Body is not null && spec.BodyFromConfigMap is not null)
        {
            problems.Add(field, "set body or bodyFromConfigMap, not both");
            ok = false;
        }

        if (spec.Body is not null && System.Text.Encoding.UTF8.GetByteCount(spec.Body) > MaxInlineBodyBytes)
        {
            problems.Add(field + ".body", $"is longer than {MaxInlineBodyBytes} bytes; use bodyFromConfigMap");
            ok = false;
        }

        if (spec.BodyFromConfigMap is not null && string.IsNullOrEmpty(spec.BodyFromConfigMap.Name))
        {
            problems.Add(field + ".bodyFromConfigMap.name", "is required");
            ok = false;
        }

        if (!ok)
        {
            return null;
        }

        var headers = spec.Headers is null
            ? FrozenDictionary<string, string>.Empty
            : spec.Headers.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        return new StaticResponseDefinition(spec.StatusCode is 0 ? null : spec.StatusCode, spec.Body, spec.BodyFromConfigMap?.Name, spec.BodyFromConfigMap?.Key, headers);
    }
}
