using System.Globalization;
using System.Text;
using CsCheck;
using Updraft.Shared.Routes;

namespace Updraft.Tests.Common.Fuzzing;

/// <summary>
/// Routes files generated from a model: <c>InterceptorRoute</c> and <c>HTTPScaledObject</c> documents with hosts written
/// every way a user may write them (case, port, trailing dot, brackets, blanks, wildcards), paths with stray slashes,
/// headers and targets; and what the parser must make of them, worked out here from the documented rules.
/// </summary>
internal static class RouteModels
{
    private const string LabelChars = "abcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>A host as written in a route and its normal form (lower case, no port or trailing dot, "" → "*").</summary>
    public sealed record HostModel(string Written, string Normalized);

    public sealed record HeaderModel(string Name, string? Value);

    public sealed record RuleModel(HostModel[] Hosts, string[] Paths, HeaderModel[] Headers);

    public sealed record RouteModel(bool IsInterceptorRoute, string Namespace, string Name, string Service, int Port, RuleModel[] Rules, int Target, int? CreatedSeconds)
    {
        public string Key => RouteKeys.Format(Namespace.Length == 0 ? RouteKeys.DefaultNamespace : Namespace, Name);
    }

    public sealed record RoutesFile(RouteModel[] Routes)
    {
        public List<YamlMap> Documents() => Routes.Select(Document).ToList();

        public string Yaml() => Join(Documents());

        /// <summary>The routes the parser must return, as <see cref="Describe(RouteDefinition)"/> writes them: by key, an InterceptorRoute winning over an HTTPScaledObject.</summary>
        public List<string> Expected()
        {
            var byKey = new SortedDictionary<string, (RouteModel Route, int Order)>(StringComparer.Ordinal);
            for (var i = 0; i < Routes.Length; i++)
            {
                var route = Routes[i];
                if (!byKey.TryGetValue(route.Key, out var existing) || (!existing.Route.IsInterceptorRoute && route.IsInterceptorRoute))
                {
                    byKey[route.Key] = (route, i);
                }
            }

            return byKey.Values.Select(entry => Describe(entry.Route, entry.Order)).ToList();
        }
    }

    public static string Join(IEnumerable<object?> documents) => string.Concat(documents.Select(document => "---\n" + YamlText.Write(document) + "\n"));

    public static readonly Gen<string> Label = Gen.String[Gen.Char[LabelChars], 1, 12];

    public static readonly Gen<string> DnsName = Gen.Select(Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"], Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-."], 0, 10], Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"], (first, middle, last) => first + middle.Replace("..", ".", StringComparison.Ordinal).Replace(".-", ".a", StringComparison.Ordinal).Replace("-.", "a.", StringComparison.Ordinal) + last);

    /// <summary>A host in any of its written forms, with its normal form.</summary>
    public static readonly Gen<HostModel> Host = Gen.Frequency(
        (8, Gen.Select(Label.Array[1, 4], Gen.Bool, Gen.Int[0, 3], Gen.Int[0, 70_000], Gen.Int[0, int.MaxValue], (labels, wildcard, decoration, port, casing) =>
        {
            var name = string.Join(".", labels);
            var normalized = (wildcard ? "*." : "") + name;
            var written = new StringBuilder(wildcard ? "*." : "");
            for (var i = 0; i < name.Length; i++)
            {
                written.Append(((casing >> (i % 31)) & 1) == 1 ? char.ToUpperInvariant(name[i]) : name[i]);
            }

            if ((decoration & 1) == 1)
            {
                written.Append('.');
            }

            if ((decoration & 2) == 2)
            {
                written.Append(':').Append(port.ToString(CultureInfo.InvariantCulture));
            }

            return new HostModel(written.ToString(), normalized);
        })),
        (1, Gen.OneOf(new HostModel("", "*"), new HostModel("*", "*"), new HostModel("[::1]", "::1"), new HostModel("[::1]:8080", "::1"), new HostModel("10.0.0.1:80", "10.0.0.1"), new HostModel("  App.Test  ", "app.test"))));

    /// <summary>A path prefix as written (leading slash, stray slashes) with its normal form (slashes trimmed).</summary>
    public static readonly Gen<(string Written, string Trimmed)> Path = Gen.Select(
        Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyzABC0123456789-._~%!$&'()*+,;=:@é"], 1, 8].Array[0, 4],
        Gen.Int[1, 3],
        Gen.Int[0, 2],
        (segments, leading, trailing) =>
        {
            var trimmed = string.Join("/", segments);
            return (new string('/', leading) + trimmed + new string('/', segments.Length == 0 ? 0 : trailing), trimmed);
        });

    public static readonly Gen<HeaderModel[]> Headers = Gen.Select(
        Gen.String[Gen.Char["!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"], 1, 12],
        Gen.Frequency((1, Gen.Const<string?>((string?)null)), (2, Gen.String[Gen.Char[' ', '~'], 0, 12].Select(v => (string?)v))),
        (name, value) => new HeaderModel(name, value)).Array[0, 3]
        .Select(headers => headers.DistinctBy(h => h.Name.ToLowerInvariant()).ToArray());

    public static readonly Gen<RuleModel> Rule = Gen.Select(Host.Array[0, 3], Path.Array[0, 3], Headers, (hosts, paths, headers) => new RuleModel(hosts, paths.Select(p => p.Written).ToArray(), headers));

    public static readonly Gen<RouteModel> Route = Gen.Select(
        Gen.Bool,
        Gen.Frequency((1, Gen.Const("")), (3, DnsName)),
        DnsName,
        Gen.OneOf("127.0.0.1", "svc", "svc.ns.svc.cluster.local", "::1", "[::1]"),
        Gen.Int[1, 65_535],
        Rule.Array[0, 3],
        Gen.Int[1, int.MaxValue],
        Gen.Frequency((1, Gen.Const<int?>((int?)null)), (1, Gen.Int[0, 1_000_000_000].Select(s => (int?)s))),
        (ir, ns, name, service, port, rules, target, created) => new RouteModel(ir, ns, name, service, port, ir ? rules : rules.Take(1).ToArray(), target, created));

    /// <summary>Files of up to 6 routes, no key twice within a kind.</summary>
    public static readonly Gen<RoutesFile> Files = Route.Array[1, 6].Select(routes => new RoutesFile(routes.DistinctBy(r => (r.IsInterceptorRoute, r.Key)).ToArray()));

    private static YamlMap Document(RouteModel route)
    {
        var metadata = new YamlMap { { "name", route.Name } };
        if (route.Namespace.Length > 0)
        {
            metadata.Add("namespace", route.Namespace);
        }

        if (route.CreatedSeconds is { } seconds)
        {
            metadata.Add("creationTimestamp", Created(seconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }

        static List<object?> HeaderList(HeaderModel[] headers) => headers.Select(h => (object?)(h.Value is null ? new YamlMap { { "name", h.Name } } : new YamlMap { { "name", h.Name }, { "value", h.Value } })).ToList();

        if (route.IsInterceptorRoute)
        {
            return new YamlMap
            {
                { "apiVersion", "http.keda.sh/v1beta1" },
                { "kind", "InterceptorRoute" },
                { "metadata", metadata },
                {
                    "spec", new YamlMap
                    {
                        { "target", new YamlMap { { "service", route.Service }, { "port", route.Port } } },
                        { "scalingMetric", new YamlMap { { "concurrency", new YamlMap { { "targetValue", route.Target } } } } },
                        {
                            "rules", route.Rules.Select(rule => (object?)new YamlMap
                            {
                                { "hosts", rule.Hosts.Select(h => (object?)h.Written).ToList() },
                                { "paths", rule.Paths.Select(p => (object?)new YamlMap { { "value", p } }).ToList() },
                                { "headers", HeaderList(rule.Headers) },
                            }).ToList()
                        },
                    }
                },
            };
        }

        var spec = new YamlMap
        {
            { "scaleTargetRef", new YamlMap { { "name", route.Name }, { "service", route.Service }, { "port", route.Port } } },
            { "targetPendingRequests", route.Target },
        };
        if (route.Rules is [var only])
        {
            spec.Add("hosts", only.Hosts.Select(h => (object?)h.Written).ToList());
            spec.Add("pathPrefixes", only.Paths.Select(p => (object?)p).ToList());
            spec.Add("headers", HeaderList(only.Headers));
        }

        return new YamlMap { { "apiVersion", "http.keda.sh/v1alpha1" }, { "kind", "HTTPScaledObject" }, { "metadata", metadata }, { "spec", spec } };
    }

    private static DateTimeOffset Created(int seconds) => DateTimeOffset.UnixEpoch.AddSeconds(seconds);

    /// <summary>The model's route as <see cref="Describe(RouteDefinition)"/> writes a parsed one.</summary>
    private static string Describe(RouteModel route, int order)
    {
        var rules = route.Rules.Select(rule => new RouteRule(
            rule.Hosts.Select(h => h.Normalized).Distinct(StringComparer.Ordinal).DefaultIfEmpty(HostNames.CatchAll).ToList(),
            rule.Paths.Select(p => p.Trim('/')).Distinct(StringComparer.Ordinal).DefaultIfEmpty("").ToList(),
            rule.Headers.Select(h => new HeaderRequirement(h.Name, h.Value)).ToList()));
        if (!route.IsInterceptorRoute && route.Rules.Length == 0)
        {
            rules = [new RouteRule([HostNames.CatchAll], [""], [])];
        }

        var ns = route.Namespace.Length == 0 ? RouteKeys.DefaultNamespace : route.Namespace;
        return Describe(
            RouteKeys.Format(ns, route.Name),
            route.IsInterceptorRoute ? RouteSourceKind.InterceptorRoute : RouteSourceKind.HttpScaledObject,
            route.Service.Trim(),
            route.Port,
            rules,
            route.Target,
            route.CreatedSeconds is { } seconds ? Created(seconds) : null,
            order);
    }

    /// <summary>One line with everything a route's model decides.</summary>
    public static string Describe(RouteDefinition route) =>
        Describe(route.Key, route.Source, route.Target.Service, route.Target.Port ?? -1, route.Rules, route.ScalingMetric.Concurrency?.TargetValue ?? -1, route.CreationTimestamp, route.SourceOrder);

    private static string Describe(string key, RouteSourceKind source, string service, int port, IEnumerable<RouteRule> rules, int target, DateTimeOffset? created, int order) =>
        $"{key} {source} -> {service}:{port} target {target} created {created?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) ?? "-"} order {order} rules ["
        + string.Join("; ", rules.Select(rule => $"hosts {string.Join(",", rule.Hosts)} paths {string.Join(",", rule.Paths.Select(p => "/" + p))} headers {string.Join(",", rule.Headers.Select(h => h.Name + "=" + (h.Value ?? "*")))}"))
        + "]";
}
