using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Tests.Local;

/// <summary>Routes to local workloads and replicas that count their requests, for the local replica tests.</summary>
internal static class LocalWorkloads
{
    /// <summary>
    /// A route in namespace <c>default</c> whose target is local workload <paramref name="workload"/>, as the routes file
    /// will give it (<c>updraft.dev/local-workload</c>), built directly.
    /// </summary>
    public static RouteDefinition Route(string workload, string host) => new("default", workload)
    {
        Target = new UpstreamRef(workload, null, null) { Workload = workload },
        Rules = [new RouteRule([host], [""], [])],
        ScalingMetric = new ScalingMetricDefinition(new ConcurrencyTarget(100), null),
    };

    /// <summary>
    /// An interceptor in standalone mode following <paramref name="feed"/> (none: no <c>UPDRAFT_LOCAL_REPLICAS</c>), with
    /// one route to local workload <c>echo</c> for host <c>echo.test</c>.
    /// </summary>
    public static async Task<TestInterceptor> StartInterceptorAsync(TestReplicaFeed? feed, Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? []);
        if (feed is not null)
        {
            all[LocalReplicasSetting.Variable] = feed.Address;
        }

        var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("fixed", TestUpstream.FreePort(), hosts: ["fixed.test"]), all);
        interceptor.Services.GetRequiredService<RouteTablePublisher>().Publish([Route("echo", "echo.test")]);
        return interceptor;
    }

    /// <summary>The body of a GET to <c>echo.test</c> (the replica's name), failing on anything but 200.</summary>
    public static async Task<string> GetEchoAsync(this TestInterceptor interceptor)
    {
        using var response = await interceptor.GetAsync("echo.test", "/");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"status {(int)response.StatusCode}: {body}");
        return body;
    }
}

/// <summary>A Kestrel upstream playing one replica: answers with its name and counts what it got.</summary>
internal sealed class Replica : IAsyncDisposable
{
    private readonly TestUpstream _server;
    private readonly StrongBox<int> _requests;

    private Replica(string name, TestUpstream server, StrongBox<int> requests)
    {
        Name = name;
        _server = server;
        _requests = requests;
    }

    public string Name { get; }

    public int Port => _server.Port;

    /// <summary><c>127.0.0.1:port</c>, as the feed lists it.</summary>
    public string Address => "127.0.0.1:" + Port;

    public int Requests => Volatile.Read(ref _requests.Value);

    public static async Task<Replica> StartAsync(string name)
    {
        var requests = new StrongBox<int>();
        var server = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref requests.Value);
            return context.Response.WriteAsync(name);
        });
        return new Replica(name, server, requests);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
