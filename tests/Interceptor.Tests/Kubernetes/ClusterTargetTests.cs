using System.Collections.Frozen;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Kubernetes;
using Updraft.Interceptor.Options;
using Updraft.Kubernetes.Endpoints;
using Updraft.Kubernetes.Model;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Tests.Kubernetes;

public sealed class ClusterTargetTests
{
    private static Service Service(params (string? Name, int Port)[] ports) => new()
    {
        Metadata = new KubeMetadata { Name = "app", Namespace = "shop" },
        Spec = new ServiceSpec { Ports = [.. ports.Select(p => new ServicePort { Name = p.Name, Port = p.Port, TargetPort = JsonSerializer.SerializeToElement(8080) })] },
    };

    private static ServiceEndpoints Endpoints(string portName, params PodAddress[] pods) =>
        new("shop/app", new Dictionary<string, PodAddress[]> { [portName] = pods }.ToFrozenDictionary());

    [Fact]
    public void Pick_DirectPodRouting_TakesReadyPodsInTurn()
    {
        var target = new ClusterTarget("shop", "app", port: 80, portName: null, directPods: true);
        target.Update(Service(("http", 80)), Endpoints("http", new PodAddress("10.0.0.1", 8080), new PodAddress("10.0.0.2", 8080)));

        Assert.Equal(EndpointState.Ready, target.Readiness.State);
        var picks = Enumerable.Range(0, 4).Select(_ => target.Pick(tls: false)).ToList();
        Assert.Equal(2, picks.Count(p => p == "http://10.0.0.1:8080"));
        Assert.Equal(2, picks.Count(p => p == "http://10.0.0.2:8080"));
        Assert.StartsWith("https://10.0.0.", target.Pick(tls: true), StringComparison.Ordinal);
    }

    [Fact]
    public void Pick_DirectPodRoutingOff_UsesTheServiceDnsNameAndServicePort()
    {
        var target = new ClusterTarget("shop", "app", port: null, portName: "http", directPods: false);
        target.Update(Service(("http", 8000)), Endpoints("http", new PodAddress("10.0.0.1", 8080)));

        Assert.Equal("http://app.shop:8000", target.Pick(tls: false));
        Assert.Equal("https://app.shop:8000", target.Pick(tls: true));
    }

    [Fact]
    public void Update_PortNameMissingFromService_IsNotReadyEvenWithReadyPods()
    {
        var target = new ClusterTarget("shop", "app", port: null, portName: "web", directPods: true);
        target.Update(Service(("http", 80)), Endpoints("http", new PodAddress("10.0.0.1", 8080)));

        Assert.Equal(EndpointState.NotReady, target.Readiness.State);
        Assert.Null(target.Pick(tls: false));
    }

    [Fact]
    public void Update_NumericPortNotListedByTheService_FallsBackToTheServiceName()
    {
        var target = new ClusterTarget("shop", "app", port: 9999, portName: null, directPods: true);
        target.Update(Service(("http", 80)), Endpoints("http", new PodAddress("10.0.0.1", 8080)));

        Assert.Equal(EndpointState.Ready, target.Readiness.State);
        Assert.Equal("http://app.shop:9999", target.Pick(tls: false));
    }

    [Fact]
    public async Task Update_ServiceLosesItsEndpoints_FlipsToNotReadyAndWakesWaitersWhenReadyAgain()
    {
        var target = new ClusterTarget("shop", "app", port: 80, portName: null, directPods: true);
        target.Update(Service(("http", 80)), Endpoints("http", new PodAddress("10.0.0.1", 8080)));
        target.Update(Service(("http", 80)), ServiceEndpoints.Empty("shop/app"));

        Assert.Equal(EndpointState.NotReady, target.Readiness.State);
        var waiting = target.Readiness.WaitUntilReadyAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        target.Update(Service(("http", 80)), Endpoints("http", new PodAddress("10.0.0.3", 8080)));
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("http://10.0.0.3:8080", target.Pick(tls: false));
    }

    [Fact]
    public void UsesH2c_FollowsTheServicePortsAppProtocol()
    {
        var target = new ClusterTarget("shop", "app", port: null, portName: "grpc", directPods: true);
        var service = Service(("grpc", 80));
        target.Update(service, Endpoints("grpc", new PodAddress("10.0.0.1", 9000)));
        Assert.False(target.UsesH2c);

        service.Spec!.Ports![0].AppProtocol = "kubernetes.io/h2c";
        target.Update(service, Endpoints("grpc", new PodAddress("10.0.0.1", 9000)));
        Assert.True(target.UsesH2c);
    }

    [Fact]
    public async Task Targets_ServiceUpdateReadStaleEndpointsWhileSlicesChanged_TargetEndsReady()
    {
        var service = Service(("http", 80));
        var endpoints = ServiceEndpoints.Empty("shop/app");
        var pauseNextRead = false;
        using var paused = new SemaphoreSlim(0);
        using var resume = new SemaphoreSlim(0);
        var targets = new ClusterTargets(new OptionsWrapper<InterceptorOptions>(new InterceptorOptions()));
        targets.Attach(_ => service, _ =>
        {
            var read = Volatile.Read(ref endpoints);
            if (pauseNextRead)
            {
                pauseNextRead = false;
                paused.Release();
                resume.Wait();
            }

            return read;
        });
        var target = targets.For("shop", new UpstreamRef("app", 80, null));
        Assert.Equal(EndpointState.NotReady, target.Readiness.State);

        // The Service watch's update has read the (still empty) endpoints when the slice watch reports the pod ready.
        pauseNextRead = true;
        var serviceUpdate = Task.Run(() => targets.ServiceChanged("shop/app"));
        Assert.True(await paused.WaitAsync(TimeSpan.FromSeconds(10)), "the Service update reads the endpoints");
        var ready = Endpoints("http", new PodAddress("10.0.0.1", 8080));
        Volatile.Write(ref endpoints, ready);
        var slicesUpdate = Task.Run(() => targets.EndpointsChanged(ready));
        // Unserialized, the slice update finishes now and the stale Service update overwrites it; serialized, it waits.
        await Task.WhenAny(slicesUpdate, Task.Delay(200));
        resume.Release();
        await Task.WhenAll(serviceUpdate, slicesUpdate).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(EndpointState.Ready, target.Readiness.State);
        Assert.Equal("http://10.0.0.1:8080", target.Pick(tls: false));
    }
}
