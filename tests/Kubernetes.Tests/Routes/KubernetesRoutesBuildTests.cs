using Updraft.Kubernetes.Routes;
using Updraft.Shared.Crds;
using Updraft.Shared.Routes;

namespace Updraft.Kubernetes.Tests.Routes;

/// <summary>Building one route set from both CRDs (no server): our rules on top of the schema, and precedence.</summary>
public sealed class KubernetesRoutesBuildTests
{
    public static TheoryData<string, InterceptorRoute, string> SchemaAcceptsRulesReject => new()
    {
        { "port and portName", Ir("bad", target: new TargetRef { Service = "bad", Port = 8080, PortName = "http" }), "spec.target: exactly one of 'port' or 'portName' must be set" },
        { "neither port nor portName", Ir("bad", target: new TargetRef { Service = "bad" }), "spec.target: exactly one of 'port' or 'portName' must be set" },
        { "wildcard inside a host", Ir("bad", host: "a.*.com"), "spec.rules[0].hosts[0]: \"a.*.com\" is not a valid host" },
        { "path with a query", Ir("bad", path: "/api?v=1"), "spec.rules[0].paths[0].value: \"/api?v=1\" is not a path prefix" },
        { "path without a leading slash", Ir("bad", path: "api"), "spec.rules[0].paths[0].value: \"api\" must start with '/' (for example \"/api\")" },
        { "duration", Ir("bad", readiness: "5 minutes"), "spec.timeouts.readiness: \"5 minutes\" is not valid" },
        { "name", Ir("Bad_Name"), "metadata.name: \"Bad_Name\" is not a valid Kubernetes name" },
    };

    [Theory]
    [MemberData(nameof(SchemaAcceptsRulesReject))]
    public void Build_InterceptorRouteBreakingOurRules_IsRejectedWithReasonAndOthersKept(string what, InterceptorRoute bad, string reason)
    {
        var build = KubernetesRoutes.Build([Ir("good-a"), bad, Ir("good-b")], []);

        Assert.Equal(["shop/good-a", "shop/good-b"], build.Routes.Select(r => r.Key));
        var rejected = Assert.Single(build.Rejected);
        Assert.Equal(InterceptorRoute.KindValue, rejected.Kind);
        Assert.Equal("shop/" + bad.Metadata!.Name, rejected.Key);
        Assert.Equal("41", rejected.ResourceVersion);
        Assert.True(rejected.Problems.Any(p => p.Contains(reason, StringComparison.Ordinal)), $"{what}: {string.Join(" | ", rejected.Problems)}");
    }

    [Fact]
    public void Build_SeveralProblems_ReportsEveryOne()
    {
        var bad = Ir("bad", target: new TargetRef { Service = "bad", Port = 8080, PortName = "http" }, host: "a.*.com");

        var rejected = Assert.Single(KubernetesRoutes.Build([bad], []).Rejected);

        Assert.Equal(2, rejected.Problems.Count);
    }

    [Fact]
    public void Build_TrailingAndRepeatedSlashes_AreTheSamePrefix()
    {
        var build = KubernetesRoutes.Build([Ir("plain", path: "/api"), Ir("slashed", path: "//api/")], []);

        Assert.Empty(build.Rejected);
        Assert.All(build.Routes, r => Assert.Equal(["api"], r.Rules[0].Paths));
    }

    [Fact]
    public void Build_HttpScaledObjectBreakingOurRules_IsRejectedAsHttpScaledObject()
    {
        var bad = So("legacy", port: 8080);
        bad.Spec!.ScaleTargetRef!.PortName = "http";

        var build = KubernetesRoutes.Build([], [bad, So("fine")]);

        Assert.Equal(["shop/fine"], build.Routes.Select(r => r.Key));
        var rejected = Assert.Single(build.Rejected);
        Assert.Equal((HttpScaledObject.KindValue, "shop/legacy"), (rejected.Kind, rejected.Key));
        Assert.Contains(rejected.Problems, p => p.Contains("must define either the 'portName' or the 'port'", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_InterceptorRouteAndHttpScaledObjectOfSameName_InterceptorRouteWins()
    {
        var build = KubernetesRoutes.Build([Ir("app", host: "ir.example.com")], [So("app", host: "so.example.com"), So("other")]);

        Assert.Empty(build.Rejected);
        Assert.Equal(["shop/app", "shop/other"], build.Routes.Select(r => r.Key));
        var app = build.Routes[0];
        Assert.Equal(RouteSourceKind.InterceptorRoute, app.Source);
        Assert.Equal(["ir.example.com"], app.Rules[0].Hosts);
        Assert.Equal(RouteSourceKind.HttpScaledObject, build.Routes[1].Source);
    }

    [Fact]
    public void Build_RejectedInterceptorRouteWithValidHttpScaledObjectOfSameName_UsesTheHttpScaledObject()
    {
        var build = KubernetesRoutes.Build([Ir("app", host: "a.*.com")], [So("app", host: "so.example.com")]);

        var route = Assert.Single(build.Routes);
        Assert.Equal(RouteSourceKind.HttpScaledObject, route.Source);
        Assert.Equal(("shop/app", InterceptorRoute.KindValue), (Assert.Single(build.Rejected).Key, build.Rejected[0].Kind));
    }

    [Fact]
    public void Build_ValidObjects_ConvertWithTheirTargetsAndMetrics()
    {
        var build = KubernetesRoutes.Build([Ir("app", target: new TargetRef { Service = "backend", PortName = "http" })], [So("legacy", port: 9090)]);

        var app = build.Routes.Single(r => r.Name == "app");
        Assert.Equal(new UpstreamRef("backend", null, "http"), app.Target);
        Assert.Equal(10, app.ScalingMetric.Concurrency!.TargetValue);
        var legacy = build.Routes.Single(r => r.Name == "legacy");
        Assert.Equal(new UpstreamRef("legacy", 9090, null), legacy.Target);
        Assert.Equal(["legacy.example.com"], legacy.Rules[0].Hosts);
        Assert.Equal(100, legacy.ScalingMetric.Concurrency!.TargetValue);
    }

    [Fact]
    public void Build_Nothing_IsEmpty()
    {
        var build = KubernetesRoutes.Build([], []);

        Assert.Empty(build.Routes);
        Assert.Empty(build.Rejected);
    }

    private static InterceptorRoute Ir(string name, TargetRef? target = null, string? host = null, string path = "/", string? readiness = null) => new()
    {
        ApiVersion = InterceptorRoute.ApiVersionValue,
        Kind = InterceptorRoute.KindValue,
        Metadata = new ObjectMeta { Namespace = "shop", Name = name, ResourceVersion = "41" },
        Spec = new InterceptorRouteSpec
        {
            Target = target ?? new TargetRef { Service = name, Port = 8080 },
            Rules = [new RoutingRule { Hosts = [host ?? name + ".example.com"], Paths = [new PathMatch { Value = path }] }],
            ScalingMetric = new ScalingMetricSpec { Concurrency = new ConcurrencyMetricSpec { TargetValue = 10 } },
            Timeouts = readiness is null ? null : new RouteTimeoutsSpec { Readiness = readiness },
        },
    };

    private static HttpScaledObject So(string name, string? host = null, int port = 8080) => new()
    {
        ApiVersion = HttpScaledObject.ApiVersionValue,
        Kind = HttpScaledObject.KindValue,
        Metadata = new ObjectMeta { Namespace = "shop", Name = name, ResourceVersion = "42" },
        Spec = new HttpScaledObjectSpec
        {
            Hosts = [host ?? name + ".example.com"],
            ScaleTargetRef = new ScaleTargetRef { Name = name, Kind = "Deployment", ApiVersion = "apps/v1", Service = name, Port = port },
        },
    };
}
