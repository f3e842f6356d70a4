using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Tests.Routing;

/// <summary>
/// The add-on's routing precedence (§4.1–4.2 of the reference) and Updraft's documented differences (README,
/// "Routing"), checked on tables built from routes-file YAML through the real parser and publisher.
/// </summary>
public sealed class RouteTableTests
{
    private const string Older = "2020-01-01T00:00:00Z";
    private const string Newer = "2024-06-01T12:00:00Z";


    /// <summary>One table with every host and path rule side by side, so rules also prove they do not interfere.</summary>
    private static readonly RouteTable Shared = Build(
        Ir("exact-root", hosts: ["app.example.com"]),
        Ir("exact-api", hosts: ["app.example.com"], paths: ["/api"]),
        Ir("exact-api-v1", hosts: ["app.example.com"], paths: ["/api/v1/"]),
        Ir("exact-slashes", hosts: ["app.example.com"], paths: ["//docs//"]),
        Ir("exact-case", hosts: ["app.example.com"], paths: ["/Case"]),
        Ir("tenant-blue", hosts: ["app.example.com"], paths: ["/tenant"], headers: [("X-Tenant", "blue")]),
        Ir("tenant-any", hosts: ["app.example.com"], paths: ["/tenant"], headers: [("X-Tenant", null)]),
        Ir("api-only", hosts: ["api-only.example.com"], paths: ["/api"]),
        Ir("wild-b", hosts: ["*.b.example.com"]),
        Ir("wild", hosts: ["*.example.com"]),
        Ir("wild-deep", hosts: ["*.example.com"], paths: ["/deep"]),
        Ir("wild-internal", hosts: ["*.internal"]),
        Ir("gated", hosts: ["solo.test"], paths: ["/api"], headers: [("X-Tenant", "blue")]),
        Ir("solo-root", hosts: ["solo.test"]),
        Ir("catchall-public", paths: ["/public"]),
        Ir("star-status", hosts: ["*"], paths: ["/status"]),
        Ir("empty-host-health", hosts: [""], paths: ["/health"]),
        Ir("single-label", hosts: ["localhost"]),
        Ir("port-host", hosts: ["ported.test:8080"]),
        Ir("ipv6", hosts: ["[::1]"]),
        Ir("upper", hosts: ["Mixed.Example.NET"]),
        Ir("dotted", hosts: ["dotted.test."]));

    [Theory]
    // Exact host; longest prefix at a segment boundary; //x// equals /x; paths are case-sensitive; no paths = root.
    [InlineData("app.example.com", "/", "exact-root")]
    [InlineData("app.example.com", "", "exact-root")]
    [InlineData("app.example.com", "/api", "exact-api")]
    [InlineData("app.example.com", "/api/", "exact-api")]
    [InlineData("app.example.com", "/api/x", "exact-api")]
    [InlineData("app.example.com", "/api/v1", "exact-api-v1")]
    [InlineData("app.example.com", "/api/v1/", "exact-api-v1")]
    [InlineData("app.example.com", "/api/v1/users/7", "exact-api-v1")]
    [InlineData("app.example.com", "/api/v1x", "exact-api")]
    [InlineData("app.example.com", "/api//v1", "exact-api")]
    [InlineData("app.example.com", "/apix", "exact-root")]
    [InlineData("app.example.com", "//api//", "exact-api")]
    [InlineData("app.example.com", "//api/v1//", "exact-api-v1")]
    [InlineData("app.example.com", "/docs", "exact-slashes")]
    [InlineData("app.example.com", "/docs/x", "exact-slashes")]
    [InlineData("app.example.com", "/Case/x", "exact-case")]
    [InlineData("app.example.com", "/case/x", "exact-root")]
    [InlineData("app.example.com", "/API", "exact-root")]
    // The exact host wins even over a longer path prefix on a wildcard or the catch-all.
    [InlineData("app.example.com", "/deep/x", "exact-root")]
    [InlineData("app.example.com", "/public", "exact-root")]
    [InlineData("solo.test", "/public", "solo-root")]
    // Wildcards: most specific first, any depth, never the bare domain; a single label has no wildcard candidates.
    [InlineData("x.example.com", "/", "wild")]
    [InlineData("x.example.com", "/deep/x", "wild-deep")]
    [InlineData("a.b.c.example.com", "/", "wild")]
    [InlineData("x.b.example.com", "/", "wild-b")]
    [InlineData("a.x.b.example.com", "/deep", "wild-b")]
    [InlineData("b.example.com", "/", "wild")]
    [InlineData("example.com", "/", null)]
    [InlineData("svc.internal", "/", "wild-internal")]
    [InlineData("internal", "/", null)]
    [InlineData("localhost", "/", "single-label")]
    // An exact-host miss on the path falls through to the wildcards, then to the catch-all.
    [InlineData("api-only.example.com", "/api/x", "api-only")]
    [InlineData("api-only.example.com", "/other", "wild")]
    [InlineData("example.com", "/public/x", "catchall-public")]
    [InlineData("solo.test", "/apix", "solo-root")]
    // Catch-all: no hosts, "*" and "" are the same; an empty Host only reaches the catch-all.
    [InlineData("nowhere.test", "/public/a", "catchall-public")]
    [InlineData("nowhere.test", "/status", "star-status")]
    [InlineData("nowhere.test", "/health", "empty-host-health")]
    [InlineData("nowhere.test", "/", null)]
    [InlineData("nowhere.test", "/publicx", null)]
    [InlineData("", "/public", "catchall-public")]
    [InlineData("", "/", null)]
    // Host normalisation: port and IPv6 brackets stripped; case and one trailing dot ignored (documented differences).
    [InlineData("app.example.com:8080", "/api", "exact-api")]
    [InlineData("APP.Example.Com", "/api", "exact-api")]
    [InlineData("app.example.com.", "/api", "exact-api")]
    [InlineData("App.Example.Com.:443", "/api", "exact-api")]
    [InlineData("X.B.EXAMPLE.COM", "/", "wild-b")]
    [InlineData("x.b.example.com.", "/", "wild-b")]
    [InlineData("LOCALHOST:5000", "/", "single-label")]
    [InlineData("ported.test", "/", "port-host")]
    [InlineData("ported.test:9999", "/", "port-host")]
    [InlineData("[::1]:8080", "/", "ipv6")]
    [InlineData("[::1]", "/", "ipv6")]
    [InlineData("::1", "/", "ipv6")]
    [InlineData("mixed.example.net", "/", "upper")]
    [InlineData("dotted.test", "/", "dotted")]
    [InlineData("dotted.test.", "/", "dotted")]
    public void Match_HostAndPath_FollowsHostThenPathPrecedence(string host, string path, string? expected)
    {
        Assert.Equal(Key(expected), Shared.Match(host, path, new HeaderDictionary())?.Key);
    }

    [Theory]
    // Names ignore case; values are exact and case-sensitive; any one of repeated values; no comma splitting.
    [InlineData("app.example.com", "/tenant", "tenant-blue", "X-Tenant: blue")]
    [InlineData("app.example.com", "/tenant/x", "tenant-blue", "x-tenant: blue")]
    [InlineData("app.example.com", "/tenant", "tenant-blue", "X-Tenant: green", "X-Tenant: blue")]
    [InlineData("app.example.com", "/tenant", "tenant-any", "X-Tenant: Blue")]
    [InlineData("app.example.com", "/tenant", "tenant-any", "X-Tenant: blue, green")]
    [InlineData("app.example.com", "/tenant", "tenant-any", "X-Tenant: ")]
    [InlineData("app.example.com", "/tenant", "tenant-any", "X-TENANT: red")]
    // No fallback to a shorter prefix (the host's root) on a header mismatch: on to the wildcard, else 404.
    [InlineData("app.example.com", "/tenant", "wild")]
    [InlineData("app.example.com", "/tenant", "wild", "X-Other: blue")]
    [InlineData("solo.test", "/api/x", "gated", "X-Tenant: blue")]
    [InlineData("solo.test", "/api/x", null)]
    [InlineData("solo.test", "/api/x", null, "X-Tenant: green")]
    [InlineData("solo.test", "/other", "solo-root", "X-Tenant: green")]
    public void Match_Headers_SelectAmongRoutesOfTheLongestPrefix(string host, string path, string? expected, params string[] headers)
    {
        Assert.Equal(Key(expected), Shared.Match(host, path, Headers(headers))?.Key);
    }

    [Theory]
    [InlineData("X-A: 1", "X-B: 2", "two")]
    [InlineData("X-A: 1", null, "one")]
    [InlineData(null, null, "none")]
    [InlineData("X-B: 2", null, "none")]
    public void Match_SameKey_MoreHeaderMatchersFirst(string? first, string? second, string expected)
    {
        string[] documents =
        [
            Ir("none", hosts: ["h.test"]),
            Ir("one", hosts: ["h.test"], headers: [("X-A", "1")]),
            Ir("two", hosts: ["h.test"], headers: [("X-A", "1"), ("X-B", "2")]),
        ];

        AssertWinsInAnyDocumentOrder(documents, "h.test", "/", Headers([.. new[] { first, second }.OfType<string>()]), expected);
    }

    [Theory]
    [InlineData("X-A: 1", "value")]
    [InlineData("X-A: 2", "presence")]
    public void Match_SameKey_ValueMatchersBeforePresenceMatchers(string header, string expected)
    {
        string[] documents =
        [
            Ir("presence", hosts: ["h.test"], paths: ["/p"], headers: [("X-A", null)]),
            Ir("value", hosts: ["h.test"], paths: ["/p"], headers: [("X-A", "1")]),
        ];

        AssertWinsInAnyDocumentOrder(documents, "h.test", "/p/q", Headers(header), expected);
    }

    [Fact]
    public void Match_SameKey_HeaderCountBeforeValueMatchers()
    {
        string[] documents =
        [
            Ir("two-presence", hosts: ["h.test"], headers: [("X-A", null), ("X-B", null)]),
            Ir("one-value", hosts: ["h.test"], headers: [("X-A", "1")]),
        ];

        AssertWinsInAnyDocumentOrder(documents, "h.test", "/", Headers("X-A: 1", "X-B: x"), "two-presence");
    }

    [Fact]
    public void Match_SameKeyAndHeaders_OldestCreationTimestampWins()
    {
        string[] documents =
        [
            Ir("aaa-new", hosts: ["h.test"], created: Newer),
            Ir("zzz-old", hosts: ["h.test"], created: Older),
            Ir("mmm-new", hosts: ["h.test"], created: Newer),
        ];

        AssertWinsInAnyDocumentOrder(documents, "h.test", "/", new HeaderDictionary(), "zzz-old");
    }

    [Fact]
    public void Match_SameKey_HeaderMatchersBeforeAge()
    {
        string[] documents =
        [
            Ir("old-default", hosts: ["h.test"], created: Older),
            Ir("new-blue", hosts: ["h.test"], headers: [("X-Tenant", "blue")], created: Newer),
        ];

        AssertWinsInAnyDocumentOrder(documents, "h.test", "/", Headers("X-Tenant: blue"), "new-blue");
        AssertWinsInAnyDocumentOrder(documents, "h.test", "/", Headers("X-Tenant: red"), "old-default");
    }

    [Theory]
    [InlineData("aaa", "zzz", "aaa")]
    [InlineData("zzz", "aaa", "zzz")]
    public void Match_SameKeyWithoutTimestamps_FirstDocumentWins(string first, string second, string expected)
    {
        var table = Build(Ir(first, hosts: ["h.test"]), Ir(second, hosts: ["h.test"]));

        Assert.Equal(Key(expected), table.Match("h.test", "/", new HeaderDictionary())?.Key);
    }

    [Theory]
    // §4.2: equal age → namespace, then name, both descending.
    [InlineData("default", "aaa", "default", "zzz", "default/zzz")]
    [InlineData("alpha", "zzz", "beta", "aaa", "beta/aaa")]
    [InlineData("beta", "aaa", "alpha", "zzz", "beta/aaa")]
    public void Match_SameKeyAndTimestamp_NamespaceThenNameDescending(string ns1, string name1, string ns2, string name2, string expected)
    {
        string[] documents =
        [
            Ir(name1, hosts: ["h.test"], created: Older, ns: ns1),
            Ir(name2, hosts: ["h.test"], created: Older, ns: ns2),
        ];

        foreach (var order in new[] { documents, [.. documents.Reverse()] })
        {
            Assert.Equal(expected, Build(order).Match("h.test", "/", new HeaderDictionary())?.Key);
        }
    }

    [Fact]
    public void Match_RulesEmpty_NeverMatchesButRouteExists()
    {
        var table = Build(
            """
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: scale-only, namespace: default}
            spec:
              target: {service: 127.0.0.1, port: 1}
              scalingMetric: {concurrency: {targetValue: 10}}
              rules: []

            """,
            Ir("other", hosts: ["other.test"]));

        Assert.True(table.ByKey.ContainsKey("default/scale-only"));
        Assert.Null(table.Match("scale-only", "/", new HeaderDictionary()));
        Assert.Null(table.Match("anything.test", "/x", Headers("X-A: 1")));
        Assert.Equal("default/other", table.Match("other.test", "/", new HeaderDictionary())?.Key);
    }

    [Fact]
    public void Match_RouteWithSeveralRules_MatchesAnyRule()
    {
        var table = Build(
            """
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: multi, namespace: default}
            spec:
              target: {service: 127.0.0.1, port: 1}
              scalingMetric: {concurrency: {targetValue: 10}}
              rules:
                - hosts: [one.test]
                  paths: [{value: /a}]
                - hosts: [two.test]
                  headers: [{name: X-A, value: "1"}]

            """);

        Assert.Equal("default/multi", table.Match("one.test", "/a/b", new HeaderDictionary())?.Key);
        Assert.Null(table.Match("one.test", "/b", new HeaderDictionary()));
        Assert.Equal("default/multi", table.Match("two.test", "/b", Headers("X-A: 1"))?.Key);
        Assert.Null(table.Match("two.test", "/b", new HeaderDictionary()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Match_HttpScaledObjectAndInterceptorRouteWithSameName_InterceptorRouteWins(bool scaledObjectFirst)
    {
        var scaledObject = So("app", hosts: ["legacy.test"]);
        var route = Ir("app", hosts: ["new.test"]);
        var table = Build(scaledObjectFirst ? [scaledObject, route] : [route, scaledObject]);

        var matched = table.Match("new.test", "/", new HeaderDictionary());
        Assert.Equal("default/app", matched?.Key);
        Assert.Equal(RouteSourceKind.InterceptorRoute, matched!.Definition.Source);
        Assert.Null(table.Match("legacy.test", "/", new HeaderDictionary()));
        Assert.Single(table.Routes);
    }

    [Fact]
    public void Match_HttpScaledObjectWithOtherName_IsAnIndependentRoute()
    {
        var table = Build(
            Ir("app", hosts: ["new.test"]),
            So("app", hosts: ["legacy.test"], ns: "other"),
            So("legacy", hosts: ["legacy.test"], paths: ["/v1"], headers: [("X-Tenant", "blue")]),
            So("catch", paths: ["/so-only"]));

        Assert.Equal(4, table.Routes.Count);
        Assert.Equal("default/app", table.Match("new.test", "/", new HeaderDictionary())?.Key);
        Assert.Equal("other/app", table.Match("legacy.test", "/", new HeaderDictionary())?.Key);
        Assert.Equal("default/legacy", table.Match("legacy.test", "/v1/x", Headers("x-tenant: blue"))?.Key);
        Assert.Equal(RouteSourceKind.HttpScaledObject, table.Match("legacy.test", "/v1/x", Headers("X-Tenant: blue"))!.Definition.Source);
        // A header mismatch under /v1 does not fall back to other/app's root on the same host; the catch-all has no /v1.
        Assert.Null(table.Match("legacy.test", "/v1/x", new HeaderDictionary()));
        // An HTTPScaledObject without hosts is a catch-all.
        Assert.Equal("default/catch", table.Match("any.test", "/so-only/x", new HeaderDictionary())?.Key);
    }

    [Fact]
    public void Match_ManyRoutes_AllocatesNothing()
    {
        var documents = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            documents.Add(Ir($"exact-{i}", hosts: [$"app{i}.example.com"], paths: ["/", $"/api/v{i}", "/api/v1/deep/er"]));
            documents.Add(Ir($"tenant-{i}", hosts: [$"app{i}.example.com"], paths: ["/api"], headers: [("X-Tenant", "blue"), ("X-Region", null)]));
            documents.Add(Ir($"wild-{i}", hosts: [$"*.zone{i}.example.org"], paths: [$"/w{i}"]));
        }

        documents.Add(Ir("catch-all", paths: ["/status"]));
        var table = Build([.. documents]);
        var none = new HeaderDictionary();
        var tenant = new HeaderDictionary { ["X-Tenant"] = new StringValues(["red", "blue"]), ["X-Region"] = "eu" };
        var lookups = new (string Host, string Path, IHeaderDictionary Headers, string Expected)[]
        {
            ("app150.example.com", "/api/v150/items/42", none, "default/exact-150"),
            ("APP7.example.com:8080", "/api/v1/deep/er/still", none, "default/exact-7"),
            ("a.b.zone42.example.org", "/w42/x", none, "default/wild-42"),
            ("unknown.example.net", "/status/ok", none, "default/catch-all"),
            ("app99.example.com", "/api/items", tenant, "default/tenant-99"),
            ("[::1]:8080", "/nothing/here", none, ""),
        };

        // Warm up (JIT, tiering) and check the answers, then measure the same lookups.
        for (var round = 0; round < 50; round++)
        {
            foreach (var (host, path, headers, expected) in lookups)
            {
                Assert.Equal(expected, table.Match(host, path, headers)?.Key ?? "");
            }
        }

        // Measured up to three times: on a loaded machine the runtime may still be tiering this code up during the
        // first pass, and that work allocates on this thread too. A lookup that allocates does so in every pass.
        var matched = 0;
        var allocated = 0L;
        for (var attempt = 0; attempt < 3 && (attempt == 0 || allocated != 0); attempt++)
        {
            matched = 0;
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var round = 0; round < 2_000; round++)
            {
                foreach (var (host, path, headers, _) in lookups)
                {
                    if (table.Match(host, path, headers) is not null)
                    {
                        matched++;
                    }
                }
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(2_000 * 5, matched);
        Assert.Equal(0, allocated);
    }

    private static void AssertWinsInAnyDocumentOrder(string[] documents, string host, string path, IHeaderDictionary headers, string expected)
    {
        foreach (var order in new[] { documents, [.. documents.Reverse()] })
        {
            Assert.Equal(Key(expected), Build(order).Match(host, path, headers)?.Key);
        }
    }

    private static RouteTable Build(params string[] documents)
    {
        return StandaloneRouteTables.Build(Routes.Documents(documents));
    }

    private static string Ir(
        string name,
        string[]? hosts = null,
        string[]? paths = null,
        (string Name, string? Value)[]? headers = null,
        string? created = null,
        string ns = "default") =>
        Routes.InterceptorRoute(name, 1, hosts, paths, headers, ns: ns, creationTimestamp: created);

    private static string So(string name, string[]? hosts = null, string[]? paths = null, (string Name, string Value)[]? headers = null, string ns = "default")
    {
        var yaml = $$"""
            apiVersion: http.keda.sh/v1alpha1
            kind: HTTPScaledObject
            metadata: {name: {{name}}, namespace: {{ns}}}
            spec:
              scaleTargetRef: {name: {{name}}, service: 127.0.0.1, port: 2}

            """;
        if (hosts is not null)
        {
            yaml += "  hosts: [" + string.Join(", ", hosts.Select(h => $"\"{h}\"")) + "]\n";
        }

        if (paths is not null)
        {
            yaml += "  pathPrefixes: [" + string.Join(", ", paths.Select(p => $"\"{p}\"")) + "]\n";
        }

        if (headers is not null)
        {
            yaml += "  headers: [" + string.Join(", ", headers.Select(h => $"{{name: \"{h.Name}\", value: \"{h.Value}\"}}")) + "]\n";
        }

        return yaml;
    }

    private static string? Key(string? name) => name is null || name.Contains('/', StringComparison.Ordinal) ? name : RouteKeys.Format("default", name);

    /// <summary>"Name: value" lines; a name given twice gets two values, as separate header lines do.</summary>
    private static HeaderDictionary Headers(params string[] lines)
    {
        var headers = new HeaderDictionary();
        foreach (var line in lines)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim();
            headers[name] = StringValues.Concat(headers[name], value);
        }

        return headers;
    }
}
