using Updraft.Shared.Routes;
using Updraft.Tests.Common;

namespace Updraft.Shared.Tests.Routes;

public sealed class RouteFileParserTests
{
    private const string Source = "routes.yaml";
    private const string NotSupported = "is not supported; use http.keda.sh/v1beta1 InterceptorRoute, http.keda.sh/v1alpha1 HTTPScaledObject or (standalone mode) local.updraft.dev/v1alpha1 LocalWorkload";
    private const string NamedPortsMessage = "named ports resolve through a Kubernetes Service and are not available in standalone mode; set port instead";
    private const string WildcardMessage = "is not a valid host: '*' is only allowed as the whole leftmost label (*.example.com) or alone (*)";

    /// <summary>An InterceptorRoute <c>shop/app</c>; each part can be replaced to break one thing.</summary>
    private static string Ir(
        string metadata = "{name: app, namespace: shop}",
        string target = "{service: 127.0.0.1, port: 8080}",
        string scalingMetric = "{concurrency: {targetValue: 10}}",
        string? more = null,
        string apiVersion = "http.keda.sh/v1beta1",
        string kind = "InterceptorRoute")
    {
        var yaml = $"""
            apiVersion: {apiVersion}
            kind: {kind}
            metadata: {metadata}
            spec:
              target: {target}
              scalingMetric: {scalingMetric}

            """;
        return more is null ? yaml : yaml + more + "\n";
    }

    /// <summary>An HTTPScaledObject <c>shop/legacy</c>.</summary>
    private static string So(
        string metadata = "{name: legacy, namespace: shop}",
        string scaleTargetRef = "{name: legacy, service: 127.0.0.1, port: 8080}",
        string? more = null,
        string apiVersion = "http.keda.sh/v1alpha1")
    {
        var yaml = $"""
            apiVersion: {apiVersion}
            kind: HTTPScaledObject
            metadata: {metadata}
            spec:
              scaleTargetRef: {scaleTargetRef}

            """;
        return more is null ? yaml : yaml + more + "\n";
    }

    private static string Docs(params string[] documents) => string.Join("---\n", documents);

    private static RouteDefinition ParseOne(string yaml, RouteEnvironment environment = RouteEnvironment.Standalone)
    {
        var result = RouteFileParser.Parse(yaml, environment);
        Assert.True(result.Succeeded, string.Join("\n", result.Problems.Select(p => p.Format(Source))));
        return Assert.Single(result.Routes);
    }

    public static TheoryData<string, string> OneProblem => new()
    {
        // Unknown kind or apiVersion.
        {
            Ir(kind: "Ingress", metadata: "{name: web, namespace: shop}"),
            $"routes.yaml: document 1 (Ingress shop/web): kind: apiVersion \"http.keda.sh/v1beta1\" kind \"Ingress\" {NotSupported}"
        },
        {
            Ir(apiVersion: "http.keda.sh/v1"),
            $"routes.yaml: document 1 (InterceptorRoute shop/app): apiVersion: apiVersion \"http.keda.sh/v1\" kind \"InterceptorRoute\" {NotSupported}"
        },
        {
            So(apiVersion: "http.keda.sh/v1beta1"),
            $"routes.yaml: document 1 (HTTPScaledObject shop/legacy): apiVersion: apiVersion \"http.keda.sh/v1beta1\" kind \"HTTPScaledObject\" {NotSupported}"
        },

        // Missing required fields.
        { Ir(target: "null"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target: is required" },
        { Ir(target: "{port: 8080}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.service: is required" },
        { Ir(scalingMetric: "{}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.scalingMetric: is required and must set concurrency, requestRate or both" },
        { Ir(scalingMetric: "{concurrency: {}}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.scalingMetric.concurrency.targetValue: is required" },
        { Ir(metadata: "{namespace: shop}"), "routes.yaml: document 1 (InterceptorRoute ?): metadata.name: is required" },
        { "apiVersion: http.keda.sh/v1beta1\nkind: InterceptorRoute\nmetadata: {name: app, namespace: shop}\n", "routes.yaml: document 1 (InterceptorRoute shop/app): spec: is required" },
        { So(scaleTargetRef: "null"), "routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.scaleTargetRef: is required" },
        { So(scaleTargetRef: "{name: legacy, port: 8080}"), "routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.scaleTargetRef.service: is required" },

        // Both or neither of port and portName.
        { Ir(target: "{service: 127.0.0.1, port: 8080, portName: http}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target: exactly one of 'port' or 'portName' must be set" },
        { Ir(target: "{service: 127.0.0.1}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target: exactly one of 'port' or 'portName' must be set" },
        { So(scaleTargetRef: "{service: 127.0.0.1, port: 8080, portName: http}"), "routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.scaleTargetRef: must define either the 'portName' or the 'port'" },
        { So(scaleTargetRef: "{service: 127.0.0.1}"), "routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.scaleTargetRef: must define either the 'portName' or the 'port'" },
        {
            Ir(more: "  coldStart: {fallback: {service: {name: 127.0.0.2}}}"),
            "routes.yaml: document 1 (InterceptorRoute shop/app): spec.coldStart.fallback.service: exactly one of 'port' or 'portName' must be set"
        },

        // portName in standalone mode.
        { Ir(target: "{service: app, portName: http}"), $"routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.portName: {NamedPortsMessage}" },
        { So(scaleTargetRef: "{service: legacy, portName: http}"), $"routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.scaleTargetRef.portName: {NamedPortsMessage}" },
        {
            So(more: "  coldStartTimeoutFailoverRef: {service: fallback, portName: http}"),
            $"routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.coldStartTimeoutFailoverRef.portName: {NamedPortsMessage}"
        },
        {
            Ir(more: "  coldStart: {fallback: {service: {name: fallback, portName: http}}}"),
            $"routes.yaml: document 1 (InterceptorRoute shop/app): spec.coldStart.fallback.service.portName: {NamedPortsMessage}"
        },

        // Invalid wildcards.
        { Ir(more: "  rules: [{hosts: [app.example.com, \"foo.*.com\"]}]"), $"routes.yaml: document 1 (InterceptorRoute shop/app): spec.rules[0].hosts[1]: \"foo.*.com\" {WildcardMessage}" },
        { So(more: "  hosts: [\"foo.*.com\"]"), $"routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.hosts[0]: \"foo.*.com\" {WildcardMessage}" },
        {
            Ir(more: "  staticRoutes: [{rules: [{hosts: [\"*.*.example.com\"]}], response: {body: ok}}]"),
            $"routes.yaml: document 1 (InterceptorRoute shop/app): spec.staticRoutes[0].rules[0].hosts[0]: \"*.*.example.com\" {WildcardMessage}"
        },

        // Duplicate namespace/name of one kind.
        {
            Docs(Ir(), Ir(target: "{service: 127.0.0.2, port: 9090}")),
            "routes.yaml: document 2 (InterceptorRoute shop/app): metadata.name: duplicate: InterceptorRoute shop/app is already defined in document 1"
        },
        {
            Docs(Ir(metadata: "{name: app}"), Ir(metadata: "{name: other}"), Ir(metadata: "{name: app, namespace: default}")),
            "routes.yaml: document 3 (InterceptorRoute default/app): metadata.name: duplicate: InterceptorRoute default/app is already defined in document 1"
        },
        {
            Docs(So(), So()),
            "routes.yaml: document 2 (HTTPScaledObject shop/legacy): metadata.name: duplicate: HTTPScaledObject shop/legacy is already defined in document 1"
        },

        // Unknown fields (kubectl --validate=strict) and wrong types.
        { Ir(target: "{service: 127.0.0.1, port: 8080, bogus: 1}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.bogus: unknown field \"bogus\"" },
        { Ir(more: "  replicas: {min: 1}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.replicas: unknown field \"replicas\"" },
        { Ir() + "extra: true\n", "routes.yaml: document 1 (InterceptorRoute shop/app): extra: unknown field \"extra\"" },
        { Ir(target: "{service: 127.0.0.1, Port: 8080}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.Port: unknown field \"Port\"" },
        { Ir(target: "{service: 127.0.0.1, port: http}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.port: has the wrong type; expected an integer" },
        { Ir(target: "{service: 127.0.0.1, port: \"8080\"}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.port: has the wrong type; expected an integer" },
        { Ir(target: "{service: 127.0.0.1, port: .5}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.port: has the wrong type; expected an integer" },
        { Ir(more: "  rules: {hosts: [a.example.com]}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.rules: has the wrong type; expected a list" },

        // Values out of range.
        { Ir(target: "{service: 127.0.0.1, port: 70000}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.target.port: 70000 is out of range; use 1-65535" },
        { Ir(scalingMetric: "{concurrency: {targetValue: 0}}"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.scalingMetric.concurrency.targetValue: 0 must be at least 1" },
        {
            Ir(more: "  timeouts: {request: abc}"),
            "routes.yaml: document 1 (InterceptorRoute shop/app): spec.timeouts.request: \"abc\" is not valid; use a Go duration such as 500ms, 30s, 5m or 1h30m (0s turns it off)"
        },
        {
            Ir(more: "  timeouts: {readiness: -1s}"),
            "routes.yaml: document 1 (InterceptorRoute shop/app): spec.timeouts.readiness: \"-1s\" is not valid; use a Go duration such as 500ms, 30s, 5m or 1h30m (0s turns it off)"
        },
        { Ir(metadata: "{name: App, namespace: shop}"), "routes.yaml: document 1 (InterceptorRoute shop/App): metadata.name: \"App\" is not a valid Kubernetes name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)" },
        { Ir(more: "  rules: [{paths: [{value: \"\"}]}]"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.rules[0].paths[0].value: must not be empty; use \"/\" for every path" },
        { Ir(more: "  rules: [{paths: [{value: api/v1}]}]"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.rules[0].paths[0].value: \"api/v1\" must start with '/' (for example \"/api/v1\")" },

        // Null list items are problems, not crashes.
        { Ir(more: "  rules: [~]"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.rules[0]: must be an object" },
        { Ir(more: "  staticRoutes: [~]"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.staticRoutes[0]: must be an object" },
        { Ir(more: "  staticRoutes: [{rules: [~, {paths: [{value: /x}]}], response: {body: ok}}]"), "routes.yaml: document 1 (InterceptorRoute shop/app): spec.staticRoutes[0].rules[0]: must be an object" },

        // A document that is not an object.
        { "just a string\n", "routes.yaml: document 1: must be a mapping with apiVersion, kind, metadata and spec (line 1)" },
        { Docs(Ir(), "- a\n- b\n"), "routes.yaml: document 2: must be a mapping with apiVersion, kind, metadata and spec (line 8)" },
    };

    [Theory]
    [MemberData(nameof(OneProblem))]
    public void Parse_BadInput_ReportsOneLineNamingDocumentObjectAndField(string yaml, string expectedLine)
    {
        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        Assert.False(result.Succeeded);
        Assert.Empty(result.Routes);
        var problem = Assert.Single(result.Problems);
        Assert.Equal(expectedLine, problem.Format(Source));
    }

    [Fact]
    public void Parse_NoKind_NamesTheKindField()
    {
        var result = RouteFileParser.Parse("apiVersion: http.keda.sh/v1beta1\nmetadata: {name: app, namespace: shop}\n", RouteEnvironment.Standalone);

        var problem = Assert.Single(result.Problems);
        Assert.Equal(1, problem.Document);
        Assert.Equal("shop/app", problem.ObjectName);
        Assert.Equal("kind", problem.Field);
        Assert.StartsWith("routes.yaml: document 1 (", problem.Format(Source), StringComparison.Ordinal);
        Assert.Contains(" shop/app): kind: ", problem.Format(Source), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("apiVersion: [unclosed\nkind: InterceptorRoute\n")]
    [InlineData("key: value\n  bad: indent\n")]
    [InlineData("apiVersion: a\napiVersion: b\n")] // duplicate key
    [InlineData("{\"apiVersion\": \"http.keda.sh/v1beta1\",\n")]
    [InlineData("spec:\n : target: {service: a, port: 1}\n  rules]\n")]
    [InlineData("spec:\n  coldStart: {fallback: {s\nrvice: {name: f}}}\n")]
    public void Parse_NotYaml_ReportsOneProblemWithTheLine(string yaml)
    {
        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        Assert.Empty(result.Routes);
        var problem = Assert.Single(result.Problems);
        Assert.Null(problem.Document);
        Assert.Matches(@"^routes\.yaml: not valid YAML (at|after) line [0-9]+, column [0-9]+: .+$", problem.Format(Source));
    }

    [Fact]
    public void Parse_NotYamlAfterValidDocuments_ReturnsNoRoutes()
    {
        var result = RouteFileParser.Parse(Docs(Ir(), So(), "kind: [\n"), RouteEnvironment.Standalone);

        Assert.Empty(result.Routes);
        var problem = Assert.Single(result.Problems);
        Assert.StartsWith("routes.yaml: not valid YAML at line ", problem.Format(Source), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsEachOnceInDocumentOrderAndNoRoutes()
    {
        var yaml = Docs(
            Ir(metadata: "{name: good}"),
            Ir(metadata: "{name: both, namespace: shop}", target: "{service: 127.0.0.1, port: 80, portName: http}", more: "  rules: [{hosts: [\"foo.*.com\"]}]"),
            Ir(kind: "Ingress", metadata: "{name: web}"),
            So(metadata: "{name: named}", scaleTargetRef: "{service: legacy, portName: http}"),
            Ir(metadata: "{name: good}"),
            "");

        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        Assert.Empty(result.Routes);
        Assert.Equal(
            [
                "routes.yaml: document 2 (InterceptorRoute shop/both): spec.target: exactly one of 'port' or 'portName' must be set",
                $"routes.yaml: document 2 (InterceptorRoute shop/both): spec.rules[0].hosts[0]: \"foo.*.com\" {WildcardMessage}",
                $"routes.yaml: document 3 (Ingress default/web): kind: apiVersion \"http.keda.sh/v1beta1\" kind \"Ingress\" {NotSupported}",
                $"routes.yaml: document 4 (HTTPScaledObject default/named): spec.scaleTargetRef.portName: {NamedPortsMessage}",
                "routes.yaml: document 5 (InterceptorRoute default/good): metadata.name: duplicate: InterceptorRoute default/good is already defined in document 1",
            ],
            result.Problems.Select(p => p.Format(Source)));
    }

    [Theory]
    [InlineData("1m", "1s", 60)]
    [InlineData("10s", "500ms", 20)]
    [InlineData("3s", "1500ms", 2)]
    [InlineData("24h", "1s", 86_400)]
    public void Parse_RequestRateWindow_AcceptsAnyPositiveGranularity(string window, string granularity, int buckets)
    {
        var result = RouteFileParser.Parse(Ir(scalingMetric: $"{{requestRate: {{targetValue: 5, window: {window}, granularity: {granularity}}}}}"), RouteEnvironment.Standalone);

        Assert.True(result.Succeeded, string.Join("\n", result.Problems));
        var rate = result.Routes.Single().ScalingMetric.RequestRate!;
        Assert.Equal(buckets, RequestRateRules.Check(rate.Window, rate.Granularity).Count);
    }

    [Theory]
    [InlineData("1m", "0s", "granularity", "granularity must be above 0")]
    [InlineData("1s", "2s", "window", "window must be at least one granularity")]
    [InlineData("24h1s", "1s", "window", "at most 86400 buckets")]
    public void Parse_RequestRateWindow_RejectsImpossibleWindows(string window, string granularity, string field, string message)
    {
        var result = RouteFileParser.Parse(Ir(scalingMetric: $"{{requestRate: {{targetValue: 5, window: {window}, granularity: {granularity}}}}}"), RouteEnvironment.Standalone);

        var problem = Assert.Single(result.Problems);
        Assert.Equal("spec.scalingMetric.requestRate." + field, problem.Field);
        Assert.Contains(message, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralProblemsInOneObject_ReportsEveryOne()
    {
        var result = RouteFileParser.Parse(
            Ir(target: "{service: \"\", port: 0}", scalingMetric: "{requestRate: {targetValue: 5, granularity: 0s}}", more: "  timeouts: {request: 5, responseHeader: 1x}"),
            RouteEnvironment.Standalone);

        Assert.Empty(result.Routes);
        Assert.Equal(
            ["spec.scalingMetric.requestRate.granularity", "spec.target.port", "spec.target.service", "spec.timeouts.request", "spec.timeouts.responseHeader"],
            result.Problems.Select(p => p.Field).Order(StringComparer.Ordinal));
        Assert.All(result.Problems, p => Assert.Equal((1, "InterceptorRoute", "shop/app"), (p.Document!.Value, p.Kind!, p.ObjectName!)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("---\n")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n---\n")]
    public void Parse_NoDocuments_SucceedsWithNoRoutes(string yaml)
    {
        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        Assert.True(result.Succeeded);
        Assert.Empty(result.Routes);
    }

    [Fact]
    public void Parse_BothKindsWithSeparatorsAndEmptyTrailingDocument_ReturnsEveryRouteOrderedByKey()
    {
        var yaml = "---\n# leading separator and a comment\n" + Docs(
            Ir(metadata: "{name: zeta, namespace: shop}"),
            So(metadata: "{name: alpha, namespace: shop}"),
            Ir(metadata: "{name: beta}"),
            "") + "---\n";

        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        Assert.True(result.Succeeded);
        Assert.Equal(["default/beta", "shop/alpha", "shop/zeta"], result.Routes.Select(r => r.Key));
        Assert.Equal(
            [RouteSourceKind.InterceptorRoute, RouteSourceKind.HttpScaledObject, RouteSourceKind.InterceptorRoute],
            result.Routes.Select(r => r.Source));
        // Document order breaks precedence ties: zeta came first.
        var order = result.Routes.ToDictionary(r => r.Name, r => r.SourceOrder);
        Assert.True(order["zeta"] < order["alpha"]);
        Assert.True(order["alpha"] < order["beta"]);
    }

    [Fact]
    public void Parse_InterceptorRouteAndHttpScaledObjectWithSameKey_InterceptorRouteWins()
    {
        var yaml = Docs(
            So(metadata: "{name: app, namespace: shop}", scaleTargetRef: "{service: old.internal, port: 1111}"),
            Ir(target: "{service: new.internal, port: 2222}"));

        var route = ParseOne(yaml);

        Assert.Equal("shop/app", route.Key);
        Assert.Equal(RouteSourceKind.InterceptorRoute, route.Source);
        Assert.Equal(new UpstreamRef("new.internal", 2222, null), route.Target);
    }

    [Fact]
    public void Parse_SameNameInTwoNamespaces_ReturnsBoth()
    {
        var result = RouteFileParser.Parse(Docs(Ir(metadata: "{name: app, namespace: a}"), Ir(metadata: "{name: app, namespace: b}")), RouteEnvironment.Standalone);

        Assert.True(result.Succeeded);
        Assert.Equal(["a/app", "b/app"], result.Routes.Select(r => r.Key));
    }

    [Fact]
    public void Parse_InterceptorRoute_ConvertsEveryField()
    {
        const string yaml = """
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata:
              name: checkout
              namespace: shop
              creationTimestamp: 2024-05-06T07:08:09Z
              annotations: {updraft.dev/app-protocol: h2c}
            spec:
              target: {service: checkout.internal, port: 8443}
              rules:
                - hosts: [App.Example.COM, "*.Preview.Example.com", app.example.com, "app.example.com:8080"]
                  paths: [{value: /api/}, {value: "//v1//"}, {value: /}]
                  headers: [{name: X-Tenant, value: blue}, {name: X-Debug}]
                - paths: [{value: /other}]
              scalingMetric:
                concurrency: {targetValue: 50}
                requestRate: {targetValue: 20, window: 2m, granularity: 5s}
              timeouts: {request: 1m30s, responseHeader: 0s}
              coldStart:
                fallback: {service: {name: sorry.internal, port: 8081}}
                placeholder: {response: {statusCode: 503, body: wait, headers: {Retry-After: "5"}}}
                maxPendingRequests: 7
                overflow: Placeholder
              staticRoutes:
                - rules: [{paths: [{value: /healthz/}]}]
                  response: {statusCode: 200, body: ok}
                  responseMode: Always
            status:
              conditions: [{type: Ready, status: "True"}]
            """;

        var route = ParseOne(yaml);

        Assert.Equal("shop", route.Namespace);
        Assert.Equal("checkout", route.Name);
        Assert.Equal("shop/checkout", route.Key);
        Assert.Equal(RouteSourceKind.InterceptorRoute, route.Source);
        Assert.Equal(new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero), route.CreationTimestamp);
        Assert.Equal(new UpstreamRef("checkout.internal", 8443, null, UpstreamProtocol.H2c), route.Target);

        Assert.Equal(2, route.Rules.Count);
        Assert.Equal(["app.example.com", "*.preview.example.com"], route.Rules[0].Hosts);
        Assert.Equal(["api", "v1", ""], route.Rules[0].Paths);
        Assert.Equal([new HeaderRequirement("X-Tenant", "blue"), new HeaderRequirement("X-Debug", null)], route.Rules[0].Headers);
        Assert.Equal([HostNames.CatchAll], route.Rules[1].Hosts);
        Assert.Equal(["other"], route.Rules[1].Paths);
        Assert.Empty(route.Rules[1].Headers);

        Assert.Equal(new ConcurrencyTarget(50), route.ScalingMetric.Concurrency);
        Assert.Equal(new RequestRateTarget(20, TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(5)), route.ScalingMetric.RequestRate);
        Assert.Equal(new RouteTimeouts(TimeSpan.FromSeconds(90), TimeSpan.Zero, null), route.Timeouts);

        var coldStart = Assert.IsType<ColdStartDefinition>(route.ColdStart);
        Assert.Equal(new UpstreamRef("sorry.internal", 8081, null), coldStart.Fallback);
        Assert.Equal(503, coldStart.Placeholder!.StatusCode);
        Assert.Equal("wait", coldStart.Placeholder.Body);
        Assert.Equal("5", coldStart.Placeholder.Headers["retry-after"]);
        Assert.Equal(7, coldStart.MaxPendingRequests);
        Assert.Equal(ColdStartOverflow.Placeholder, coldStart.Overflow);

        var staticRoute = Assert.Single(route.StaticRoutes);
        Assert.Equal(StaticResponseMode.Always, staticRoute.Mode);
        Assert.Equal("ok", staticRoute.Response.Body);
        var staticRule = Assert.Single(staticRoute.Rules);
        Assert.Empty(staticRule.Hosts); // a static-route rule without hosts filters nothing
        Assert.Equal(["healthz"], staticRule.Paths);
    }

    [Fact]
    public void Parse_MinimalInterceptorRoute_AppliesDefaults()
    {
        var route = ParseOne(Ir(metadata: "{name: app}", scalingMetric: "{requestRate: {targetValue: 3}}", more: "  rules: [{}]"));

        Assert.Equal("default", route.Namespace);
        Assert.Equal("default/app", route.Key);
        Assert.Null(route.CreationTimestamp);
        Assert.Equal(new UpstreamRef("127.0.0.1", 8080, null, UpstreamProtocol.Http1), route.Target);
        var rule = Assert.Single(route.Rules);
        Assert.Equal([HostNames.CatchAll], rule.Hosts);
        Assert.Equal([""], rule.Paths);
        Assert.Empty(rule.Headers);
        Assert.Null(route.ScalingMetric.Concurrency);
        Assert.Equal(new RequestRateTarget(3, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1)), route.ScalingMetric.RequestRate);
        Assert.Equal(RouteTimeouts.Inherit, route.Timeouts);
        Assert.Null(route.ColdStart);
        Assert.Empty(route.StaticRoutes);
    }

    [Fact]
    public void Parse_InterceptorRouteWithoutRules_HasNoRules()
    {
        var route = ParseOne(Ir());

        Assert.Empty(route.Rules);
    }

    [Theory]
    [InlineData("http1", UpstreamProtocol.Http1)]
    [InlineData("h2c", UpstreamProtocol.H2c)]
    [InlineData("kubernetes.io/h2c", UpstreamProtocol.H2c)]
    public void Parse_TargetAppProtocol_SetsUpstreamProtocol(string appProtocol, UpstreamProtocol expected)
    {
        var route = ParseOne(Ir(target: $"{{service: 127.0.0.1, port: 8080, appProtocol: \"{appProtocol}\"}}"));

        Assert.Equal(expected, route.Target.Protocol);
    }

    [Fact]
    public void Parse_HttpScaledObject_MapsFieldsLikeTheAddOn()
    {
        const string yaml = """
            kind: HTTPScaledObject
            apiVersion: http.keda.sh/v1alpha1
            metadata: {name: xkcd, namespace: comics, creationTimestamp: "2023-01-01T00:00:00Z"}
            spec:
              hosts: [MyHost.com, myhost2.com:8080]
              pathPrefixes: [/path1/, path2]
              headers: [{name: X-Env, value: prod}, {name: X-Any}]
              scalingMetric: {concurrency: {targetValue: 200}}
              scaleTargetRef: {name: xkcd, kind: Deployment, apiVersion: apps/v1, service: xkcd.internal, port: 8080}
              replicas: {min: 0, max: 10}
              scaledownPeriod: 300
              initialCooldownPeriod: 60
              timeouts: {conditionWait: 20s, responseHeader: 15s}
            """;

        var route = ParseOne(yaml);

        Assert.Equal("comics/xkcd", route.Key);
        Assert.Equal(RouteSourceKind.HttpScaledObject, route.Source);
        Assert.Equal(new DateTimeOffset(2023, 1, 1, 0, 0, 0, TimeSpan.Zero), route.CreationTimestamp);
        Assert.Equal(new UpstreamRef("xkcd.internal", 8080, null), route.Target);
        var rule = Assert.Single(route.Rules);
        Assert.Equal(["myhost.com", "myhost2.com"], rule.Hosts);
        Assert.Equal(["path1", "path2"], rule.Paths);
        Assert.Equal([new HeaderRequirement("X-Env", "prod"), new HeaderRequirement("X-Any", null)], rule.Headers);
        Assert.Equal(new ScalingMetricDefinition(new ConcurrencyTarget(200), null), route.ScalingMetric);
        Assert.Equal(new RouteTimeouts(null, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20)), route.Timeouts);
        Assert.Null(route.ColdStart);
        Assert.Empty(route.StaticRoutes);
    }

    [Fact]
    public void Parse_MinimalHttpScaledObject_CatchAllRootAndDefaultTarget()
    {
        var route = ParseOne(So(metadata: "{name: legacy}"));

        Assert.Equal("default/legacy", route.Key);
        var rule = Assert.Single(route.Rules);
        Assert.Equal([HostNames.CatchAll], rule.Hosts);
        Assert.Equal([""], rule.Paths);
        Assert.Empty(rule.Headers);
        Assert.Equal(new ScalingMetricDefinition(new ConcurrencyTarget(100), null), route.ScalingMetric);
        Assert.Equal(RouteTimeouts.Inherit, route.Timeouts);
    }

    [Theory]
    [InlineData("  targetPendingRequests: 42", 42, null)]
    [InlineData("  scalingMetric: {concurrency: {}}", 100, null)]
    [InlineData("  scalingMetric: {requestRate: {targetValue: 7, window: 30s, granularity: 2s}}", null, 7)]
    [InlineData("  scalingMetric: {concurrency: {targetValue: 9}}\n  targetPendingRequests: 42", 9, null)]
    public void Parse_HttpScaledObjectScalingMetric_MapsTargets(string more, int? concurrency, int? rate)
    {
        var route = ParseOne(So(more: more));

        Assert.Equal(concurrency, route.ScalingMetric.Concurrency?.TargetValue);
        Assert.Equal(rate, route.ScalingMetric.RequestRate?.TargetValue);
    }

    [Fact]
    public void Parse_HttpScaledObjectWithBothMetrics_IsAProblem()
    {
        var result = RouteFileParser.Parse(So(more: "  scalingMetric: {concurrency: {targetValue: 1}, requestRate: {targetValue: 1}}"), RouteEnvironment.Standalone);

        var problem = Assert.Single(result.Problems);
        Assert.Equal("routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.scalingMetric: set either concurrency or requestRate, not both", problem.Format(Source));
    }

    // §1.4 of the reference: conditionWait (>0) → readiness; coldStartTimeoutFailoverRef.timeoutSeconds (>0, CRD
    // default 30) → readiness, overriding conditionWait; the failover service becomes coldStart.fallback.
    [Theory]
    [InlineData("{conditionWait: 20s}", null, 20)]
    [InlineData("{conditionWait: 0s}", null, null)]
    [InlineData("{conditionWait: 20s}", "{service: sorry.internal, port: 8081, timeoutSeconds: 45}", 45)]
    [InlineData("{conditionWait: 20s}", "{service: sorry.internal, port: 8081}", 30)]
    [InlineData("{conditionWait: 20s}", "{service: sorry.internal, port: 8081, timeoutSeconds: 0}", 20)]
    [InlineData(null, "{service: sorry.internal, port: 8081, timeoutSeconds: 5}", 5)]
    [InlineData(null, "{service: sorry.internal, port: 8081, timeoutSeconds: 0}", null)]
    public void Parse_HttpScaledObjectReadiness_FailoverTimeoutOverridesConditionWait(string? timeouts, string? failover, int? expectedSeconds)
    {
        var more = string.Join("\n", new[] { timeouts is null ? null : $"  timeouts: {timeouts}", failover is null ? null : $"  coldStartTimeoutFailoverRef: {failover}" }.OfType<string>());

        var route = ParseOne(So(more: more.Length == 0 ? null : more));

        Assert.Equal(expectedSeconds is null ? null : TimeSpan.FromSeconds(expectedSeconds.Value), route.Timeouts.Readiness);
        if (failover is null)
        {
            Assert.Null(route.ColdStart);
        }
        else
        {
            Assert.Equal(new UpstreamRef("sorry.internal", 8081, null), route.ColdStart!.Fallback);
        }
    }

    [Fact]
    public void Parse_HttpScaledObjectNegativeFailoverTimeout_IsAProblem()
    {
        var result = RouteFileParser.Parse(So(more: "  coldStartTimeoutFailoverRef: {service: sorry, port: 8081, timeoutSeconds: -1}"), RouteEnvironment.Standalone);

        var problem = Assert.Single(result.Problems);
        Assert.Equal("routes.yaml: document 1 (HTTPScaledObject shop/legacy): spec.coldStartTimeoutFailoverRef.timeoutSeconds: must not be negative", problem.Format(Source));
    }

    // README: a plain YAML number or boolean is accepted where a string is expected; quoting keeps text as written.
    [Theory]
    [InlineData("100", "100")]
    [InlineData("-7", "-7")]
    [InlineData("1.50", "1.50")]
    [InlineData("1e3", "1e3")]
    [InlineData(".5", ".5")]
    [InlineData("5.", "5.")]
    [InlineData("007", "7")] // an integer in YAML 1.2
    [InlineData("true", "true")]
    [InlineData("False", "false")]
    [InlineData("\"007\"", "007")]
    [InlineData("'true'", "true")]
    [InlineData("blue", "blue")]
    public void Parse_PlainScalarWhereStringExpected_IsAccepted(string scalar, string expected)
    {
        var route = ParseOne(Ir(more: $"  rules: [{{headers: [{{name: X-Value, value: {scalar}}}]}}]"));

        var rule = Assert.Single(route.Rules);
        Assert.Equal(expected, Assert.Single(rule.Headers).Value);
    }

    [Fact]
    public void Parse_PortNameInKubernetesMode_IsAccepted()
    {
        var route = ParseOne(Ir(target: "{service: app, portName: http}"), RouteEnvironment.Kubernetes);

        Assert.Equal(new UpstreamRef("app", null, "http"), route.Target);
    }

    /// <summary>Files past a limit (RouteFileLimits), each with the one line it must get.</summary>
    public static TheoryData<string, string> PastALimit => new()
    {
        // Nesting: flow sequences, flow mappings, block sequences, and deep inside an otherwise valid second document.
        { HostileYaml.NestedBrackets, HostileYaml.NestedBracketsProblem },
        { new string('[', 33) + new string(']', 33), "document 1: nested deeper than the limit of 32 levels at line 1, column 33" },
        { string.Concat(Enumerable.Repeat("{a: ", 50_000)) + "1" + new string('}', 50_000), "document 1: nested deeper than the limit of 32 levels at line 1, column 129" },
        { string.Concat(Enumerable.Range(0, 40).Select(i => new string(' ', 2 * i) + "-\n")), "document 1: nested deeper than the limit of 32 levels at line 33, column 65" },
        { Docs(Ir(), Ir(metadata: "{name: deep}", more: "  x: " + new string('[', 40) + new string(']', 40))), "document 2: nested deeper than the limit of 32 levels at line 14, column 36" },

        // Aliases: a "billion laughs" is stopped at the alias that passes the node limit, before it is written out.
        { HostileYaml.AliasBomb(8080), HostileYaml.AliasBombProblem },
        { "a: &a " + new string('[', 20) + new string(']', 20) + "\nb: [[[[[[[[[[[[[[*a]]]]]]]]]]]]]]\n", "document 1: alias *a at line 2, column 18 nests deeper than the limit of 32 levels" },
        { Ir(more: "  x: &x [1, *x]"), "document 1: alias *x at line 7, column 13 refers to a node that contains it" },
        { Ir(more: "  x: *y\n  y: &y 1"), "document 1: alias *y at line 7, column 6 refers to no anchor defined before it" },
        { Docs(Ir(more: "  x: &x 1"), Ir(metadata: "{name: other}", more: "  y: *x")), "document 2: alias *x at line 15, column 6 refers to no anchor defined before it" },

        // Nodes written out: aliases bring the count near the limit, plain scalars pass it.
        {
            "a: &a [" + string.Join(",", Enumerable.Repeat("1", 1_000)) + "]\nb: [" + string.Join(",", Enumerable.Repeat("*a", 1_990)) + "]\nc: [" + string.Join(",", Enumerable.Repeat("1", 8_000)) + "]\n",
            "document 1: more than the limit of 2,000,000 YAML nodes at line 3, column 14011"
        },
    };

    [Theory]
    [MemberData(nameof(PastALimit))]
    public void Parse_PastALimit_ReportsOneLineNamingTheLimit(string yaml, string expectedProblem)
    {
        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        Assert.Empty(result.Routes);
        Assert.Equal($"{Source}: {expectedProblem}", Assert.Single(result.Problems).Format(Source));
    }

    [Fact]
    public void Parse_NestedToTheLimit_IsReadAsUsual()
    {
        var result = RouteFileParser.Parse(new string('[', 32) + new string(']', 32), RouteEnvironment.Standalone);

        Assert.Equal("routes.yaml: document 1: must be a mapping with apiVersion, kind, metadata and spec (line 1)", Assert.Single(result.Problems).Format(Source));
    }

    [Fact]
    public void Parse_AliasBomb_RejectedWithoutWritingItOut()
    {
        var yaml = HostileYaml.AliasBomb(8080);
        RouteFileParser.Parse(yaml, RouteEnvironment.Standalone); // JIT and static state out of the measurement
        var before = GC.GetAllocatedBytesForCurrentThread();

        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal($"{Source}: {HostileYaml.AliasBombProblem}", Assert.Single(result.Problems).Format(Source));
        Assert.True(allocated < 4 * 1024 * 1024, $"rejecting the alias bomb allocated {allocated:N0} bytes");
    }

    [Fact]
    public void Parse_TooLarge_ReportsTheLimit()
    {
        var yaml = Ir() + new string('#', 16 * 1024 * 1024);

        var result = RouteFileParser.Parse(yaml, RouteEnvironment.Standalone);

        Assert.Equal("routes.yaml: the file is larger than the limit of 16 MiB", Assert.Single(result.Problems).Format(Source));
    }

    [Fact]
    public void Parse_AnchorsAndAliases_AreWrittenOut()
    {
        var route = ParseOne(Ir(more: """
              rules:
                - hosts: &hosts [a.example.com, b.example.com]
                  paths: [{value: /a}]
                - hosts: *hosts
                  paths: &b [{value: /b}]
                - paths: *b
            """));

        Assert.Equal(["a.example.com", "b.example.com"], route.Rules[0].Hosts);
        Assert.Equal(["a.example.com", "b.example.com"], route.Rules[1].Hosts);
        Assert.Equal(["b"], route.Rules[1].Paths);
        Assert.Equal(["b"], route.Rules[2].Paths);
    }
}
