using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Microbenchmarks;

/// <summary>
/// <see cref="RouteTable.Match"/> on tables of 1, 100 and 10,000 routes, each time hitting one target route of the
/// given kind. The other routes are a mix (70 % exact hosts with two paths, 10 % wildcard hosts, 10 % header-matched,
/// 10 % catch-all paths). Tables are built as the interceptor builds them: routes-file YAML through the real parser
/// and publisher. Target: at most 200 ns and 0 B per lookup with 10,000 routes.
/// </summary>
[MemoryDiagnoser]
public class RouteLookupBenchmarks
{
    private RouteTable _table = RouteTable.Empty;
    private string _host = "";
    private string _path = "";
    private IHeaderDictionary _headers = new HeaderDictionary();

    public enum Lookup
    {
        /// <summary><c>shop.example.com</c>, longest prefix <c>/api/v1</c> of <c>/api/v1/items/42</c>.</summary>
        ExactHost,

        /// <summary><c>customer-42.tenants.example.net</c> → <c>*.tenants.example.net</c>, prefix <c>/app</c>.</summary>
        WildcardHost,

        /// <summary>An unknown host falls through exact and wildcard hosts to the catch-all prefix <c>/healthz</c>.</summary>
        CatchAll,

        /// <summary><c>shop.example.com/api</c> with <c>X-Tenant: blue</c>, the request carrying five other headers.</summary>
        Header,
    }

    [Params(1, 100, 10_000)]
    public int Routes { get; set; }

    [ParamsAllValues]
    public Lookup Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var documents = new List<string> { Target(Kind) };
        for (var i = 0; documents.Count < Routes; i++)
        {
            documents.Add(Filler(i));
        }

        _table = RouteTables.Build(documents);
        (_host, _path, _headers) = Request(Kind);
        var matched = _table.Match(_host, _path, _headers)?.Key;
        if (matched != "default/target" || _table.Routes.Count != Routes)
        {
            throw new InvalidOperationException($"{Kind} with {Routes} routes matched {matched ?? "nothing"} in a table of {_table.Routes.Count}");
        }
    }

    [Benchmark]
    public object? Match() => _table.Match(_host, _path, _headers);

    private static string Target(Lookup kind) => kind switch
    {
        Lookup.ExactHost => Ir("target", hosts: ["shop.example.com"], paths: ["/api/v1"]),
        Lookup.WildcardHost => Ir("target", hosts: ["*.tenants.example.net"], paths: ["/app"]),
        Lookup.CatchAll => Ir("target", paths: ["/healthz"]),
        _ => Ir("target", hosts: ["shop.example.com"], paths: ["/api"], headers: [("X-Tenant", "blue")]),
    };

    private static (string Host, string Path, IHeaderDictionary Headers) Request(Lookup kind)
    {
        var headers = new HeaderDictionary
        {
            ["Accept"] = "application/json",
            ["Accept-Encoding"] = "gzip, br",
            ["User-Agent"] = "benchmark/1.0",
            ["X-Request-Id"] = "5b0d7c1e-4f1a-4a57-9b0e-3f5d2f0c9a11",
            ["Traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        };
        switch (kind)
        {
            case Lookup.ExactHost:
                return ("shop.example.com", "/api/v1/items/42", headers);
            case Lookup.WildcardHost:
                return ("customer-42.tenants.example.net", "/app/dashboard", headers);
            case Lookup.CatchAll:
                return ("unknown.example.io", "/healthz/ready", headers);
            default:
                headers["X-Tenant"] = "blue";
                return ("shop.example.com", "/api/orders", headers);
        }
    }

    private static string Filler(int i) => (i % 10) switch
    {
        0 => Ir($"wild-{i}", hosts: [$"*.zone{i}.example.org"], paths: [$"/w{i}"]),
        1 => Ir($"tenant-{i}", hosts: [$"app{i}.example.com"], paths: ["/api"], headers: [("X-Tenant", "blue")]),
        2 => Ir($"catch-{i}", paths: [$"/c{i}"]),
        _ => Ir($"exact-{i}", hosts: [$"app{i}.example.com"], paths: ["/", $"/api/v{i}"]),
    };

    private static string Ir(string name, string[]? hosts = null, string[]? paths = null, (string Name, string? Value)[]? headers = null) =>
        Interceptor.Tests.Infrastructure.Routes.InterceptorRoute(name, 1, hosts, paths, headers);
}

/// <summary>Routing tables built the way <c>RouteTableTests</c> builds them.</summary>
internal static class RouteTables
{
    public static RouteTable Build(IEnumerable<string> documents) => StandaloneRouteTables.Build(Routes.Documents([.. documents]));
}
