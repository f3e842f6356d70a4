using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Tests.Common.Fuzzing;
using static Updraft.Tests.Common.Fuzzing.RouteModels;

namespace Updraft.Interceptor.Tests.Fuzzing;

/// <summary>
/// Route matching (<see cref="RouteTable.Match"/>) agrees with a naive reference written here from the documented
/// precedence: exact host, then wildcards from the longest suffix, then the catch-all; within a host level the longest
/// path prefix at a segment boundary, then the candidates under it in the add-on's order, the first whose headers
/// hold; a miss falls through to the next level. Route sets come from generated routes files through the real parser,
/// requests from variations of their hosts, paths and headers.
/// </summary>
public sealed class RouteTableFuzzTests
{
    private sealed record Request(string Host, string Path, (string Name, string[] Values)[] Headers)
    {
        public override string ToString() => $"Host {Fuzz.Show(Host)} path {Fuzz.Show(Path)} headers [{string.Join(", ", Headers.Select(h => h.Name + ": " + string.Join(" | ", h.Values)))}]";
    }

    [Fact]
    public void Match_AnyRequest_AgreesWithTheReference()
    {
        var cases = Files.SelectMany(file => Requests(file).Array[1, 12].Select(requests => (File: file, Requests: requests)));
        Fuzz.Check(cases, c =>
        {
            var table = StandaloneRouteTables.Build(c.File.Yaml());
            foreach (var request in c.Requests)
            {
                var headers = new HeaderDictionary();
                foreach (var (name, values) in request.Headers)
                {
                    headers[name] = new StringValues(values);
                }

                var actual = table.Match(request.Host, request.Path, headers)?.Key;
                var expected = Reference(c.File, request);
                if (actual != expected)
                {
                    throw new FuzzFailure($"{request} matched {actual ?? "nothing"}; the reference says {expected ?? "nothing"}");
                }
            }
        }, iterations: 250, print: c => c.File.Yaml() + "\n" + string.Join("\n", c.Requests.Select(r => r.ToString())));
    }

    /// <summary>Requests near the file's routes: their hosts in other spellings or under a wildcard, their paths deeper, their headers.</summary>
    private static Gen<Request> Requests(RoutesFile file)
    {
        var names = file.Routes.SelectMany(r => r.Rules).SelectMany(rule => rule.Hosts).Select(h => h.Normalized).Append("example.com").Append("a.b.example.com").Distinct().ToArray();
        var prefixes = file.Routes.SelectMany(r => r.Rules).SelectMany(rule => rule.Paths).Select(p => p.Trim('/')).Append("").Distinct().ToArray();
        var headerNames = file.Routes.SelectMany(r => r.Rules).SelectMany(rule => rule.Headers).Select(h => h.Name).Append("X-Other").Distinct().ToArray();
        var headerValues = file.Routes.SelectMany(r => r.Rules).SelectMany(rule => rule.Headers).Select(h => h.Value ?? "").Append("other").Distinct().ToArray();

        var host = Gen.Frequency(
            (6, Gen.Select(Gen.OneOf(names), Label, Gen.Int[0, 15], Gen.Int[0, int.MaxValue], (name, label, decoration, casing) => Spell(name, label, decoration, casing))),
            (1, Gen.OneOf("", "localhost", "[::1]:8080", "example.com.", ".", "a..b", "[::1", "x:y:z")));
        var path = Gen.Select(Gen.OneOf(prefixes), Gen.OneOf("", "/", "/x", "x", "/x/y", "//", "/Case"), Gen.Int[0, 2], (prefix, tail, slashes) => new string('/', slashes) + prefix + tail);
        var header = Gen.Select(Gen.OneOf(headerNames), Gen.Bool, Gen.OneOf(headerValues).Array[0, 3], (name, upper, values) => (upper ? name.ToUpperInvariant() : name.ToLowerInvariant(), values));
        return Gen.Select(host, path, header.Array[0, 4], (h, p, hs) => new Request(h, p, hs.DistinctBy(x => x.Item1, StringComparer.OrdinalIgnoreCase).ToArray()));
    }

    /// <summary>A request Host for <paramref name="name"/>: under a wildcard, in other case, with a port or a trailing dot.</summary>
    private static string Spell(string name, string label, int decoration, int casing)
    {
        if (name == "*")
        {
            name = label + ".test";
        }
        else if (name.StartsWith("*.", StringComparison.Ordinal))
        {
            name = ((decoration & 8) == 8 ? label + "." + label : label) + name[1..];
        }

        var spelled = string.Concat(name.Select((c, i) => ((casing >> (i % 31)) & 1) == 1 ? char.ToUpperInvariant(c) : c));
        if (spelled.Contains(':', StringComparison.Ordinal))
        {
            return (decoration & 2) == 2 ? "[" + spelled + "]:8080" : spelled;
        }

        return spelled + ((decoration & 1) == 1 ? "." : "") + ((decoration & 2) == 2 ? ":8080" : "");
    }

    private sealed record Entry(RouteModel Route, int Order, string Host, string Prefix, HeaderModel[] Headers);

    private static string? Reference(RoutesFile file, Request request)
    {
        // An InterceptorRoute wins over an HTTPScaledObject of the same key, which is then gone entirely.
        var routes = file.Routes.Select((route, order) => (Route: route, Order: order))
            .Where(r => r.Route.IsInterceptorRoute || !file.Routes.Any(other => other.IsInterceptorRoute && other.Key == r.Route.Key))
            .ToList();
        var entries = new List<Entry>();
        foreach (var (route, order) in routes)
        {
            var rules = route.IsInterceptorRoute || route.Rules.Length > 0 ? route.Rules : [new RuleModel([], [], [])];
            foreach (var rule in rules)
            {
                var hosts = rule.Hosts.Length == 0 ? ["*"] : rule.Hosts.Select(h => h.Normalized).Distinct();
                var prefixes = rule.Paths.Length == 0 ? [""] : rule.Paths.Select(p => p.Trim('/')).Distinct();
                foreach (var host in hosts)
                {
                    foreach (var prefix in prefixes)
                    {
                        entries.Add(new Entry(route, order, host, prefix, rule.Headers));
                    }
                }
            }
        }

        var name = HostAsCompared(request.Host);
        var levels = new List<List<Entry>>();
        if (name.Length > 0)
        {
            levels.Add(entries.Where(e => e.Host != "*" && !e.Host.StartsWith("*.", StringComparison.Ordinal) && AsciiEqualsIgnoreCase(e.Host, name)).ToList());
            for (var dot = name.IndexOf('.', StringComparison.Ordinal); dot >= 0 && dot + 1 < name.Length; dot = name.IndexOf('.', dot + 1))
            {
                var suffix = name[(dot + 1)..];
                levels.Add(entries.Where(e => e.Host.StartsWith("*.", StringComparison.Ordinal) && AsciiEqualsIgnoreCase(e.Host[2..], suffix)).ToList());
            }
        }

        levels.Add(entries.Where(e => e.Host == "*").ToList());
        var path = request.Path.Trim('/');
        foreach (var level in levels)
        {
            var under = level.Where(e => e.Prefix.Length == 0 || path == e.Prefix || path.StartsWith(e.Prefix + "/", StringComparison.Ordinal)).ToList();
            if (under.Count == 0)
            {
                continue;
            }

            var longest = under.Max(e => e.Prefix.Length);
            var winner = under.Where(e => e.Prefix.Length == longest)
                .OrderByDescending(e => e.Headers.Length)
                .ThenByDescending(e => e.Headers.Count(h => h.Value is not null))
                .ThenBy(e => e.Route.CreatedSeconds ?? long.MaxValue)
                .ThenBy(e => e.Route.CreatedSeconds is null ? e.Order : 0)
                .ThenByDescending(e => NamespaceOf(e.Route), StringComparer.Ordinal)
                .ThenByDescending(e => e.Route.Name, StringComparer.Ordinal)
                .FirstOrDefault(e => e.Headers.All(h => request.Headers.Any(r => AsciiEqualsIgnoreCase(r.Name, h.Name) && r.Values.Length > 0 && (h.Value is null || r.Values.Contains(h.Value)))));
            if (winner is not null)
            {
                return winner.Route.Key;
            }
        }

        return null;
    }

    private static string NamespaceOf(RouteModel route) => route.Namespace.Length == 0 ? "default" : route.Namespace;

    /// <summary>The Host as routing reads it: brackets or a port (after a single colon) dropped, then one trailing dot.</summary>
    private static string HostAsCompared(string host)
    {
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']', StringComparison.Ordinal);
            host = close > 0 ? host[1..close] : host[1..];
        }
        else if (host.Count(c => c == ':') == 1)
        {
            host = host.Split(':')[0];
        }

        return host.Length > 1 && host.EndsWith('.') ? host[..^1] : host;
    }

    private static bool AsciiEqualsIgnoreCase(string a, string b) =>
        a.Length == b.Length && a.Zip(b).All(pair => (pair.First is >= 'A' and <= 'Z' ? (char)(pair.First + 32) : pair.First) == (pair.Second is >= 'A' and <= 'Z' ? (char)(pair.Second + 32) : pair.Second));
}
