using Updraft.Kubernetes.Endpoints;
using Updraft.Kubernetes.Model;

namespace Updraft.Kubernetes.Tests.Endpoints;

/// <summary>How a Service's slices merge into one set of ready addresses (no server).</summary>
public sealed class EndpointSliceMergeTests
{
    private const string Key = "shop/app";

    [Fact]
    public void Merge_ReadyAbsentTrueOrFalse_AbsentAndTrueAreReady()
    {
        var merged = EndpointSliceCatalog.Merge(Key, [Slice([Endpoint("10.0.0.1", ready: null), Endpoint("10.0.0.2", ready: true), Endpoint("10.0.0.3", ready: false)], Port("http", 8080))]);

        Assert.True(merged.Ready);
        Assert.Equal([new PodAddress("10.0.0.1", 8080), new PodAddress("10.0.0.2", 8080)], merged.AddressesByPort["http"]);
    }

    [Fact]
    public void Merge_NoConditionsAtAll_CountsAsReady()
    {
        var merged = EndpointSliceCatalog.Merge(Key, [Slice([new SliceEndpoint { Addresses = ["10.0.0.1"] }], Port("http", 8080))]);

        Assert.Equal([new PodAddress("10.0.0.1", 8080)], merged.AddressesByPort["http"]);
    }

    [Fact]
    public void Merge_NothingReady_UsesTerminatingEndpointsThatStillServe()
    {
        var merged = EndpointSliceCatalog.Merge(Key, [Slice(
            [
                Endpoint("10.0.0.1", ready: false, serving: true, terminating: true),
                Endpoint("10.0.0.2", ready: false, serving: false, terminating: true),
                Endpoint("10.0.0.3", ready: false, serving: true, terminating: false),
            ],
            Port("http", 8080))]);

        Assert.True(merged.Ready);
        Assert.Equal([new PodAddress("10.0.0.1", 8080)], merged.AddressesByPort["http"]);
    }

    [Fact]
    public void Merge_SomethingReady_IgnoresTerminatingEndpointsThatServe()
    {
        var merged = EndpointSliceCatalog.Merge(Key,
        [
            Slice([Endpoint("10.0.0.1", ready: false, serving: true, terminating: true)], Port("http", 8080)),
            Slice([Endpoint("10.0.0.2", ready: true)], Port("http", 8080)),
        ]);

        Assert.Equal([new PodAddress("10.0.0.2", 8080)], merged.AddressesByPort["http"]);
    }

    [Fact]
    public void Merge_NothingReadyOrServing_IsNotReadyButKeepsItsPorts()
    {
        var merged = EndpointSliceCatalog.Merge(Key, [Slice([Endpoint("10.0.0.1", ready: false), Endpoint("10.0.0.2", ready: false, serving: false, terminating: true)], Port("http", 8080))]);

        Assert.False(merged.Ready);
        Assert.Empty(merged.AddressesByPort["http"]);
    }

    [Fact]
    public void Merge_SeveralSlicesOfOneService_MergesAndSortsTheirAddresses()
    {
        var merged = EndpointSliceCatalog.Merge(Key,
        [
            Slice([Endpoint("10.0.0.9", ready: true), Endpoint("10.0.0.3", ready: true)], Port("http", 8080)),
            Slice([Endpoint("10.0.0.5", ready: true)], Port("http", 8080)),
        ]);

        Assert.Equal(Key, merged.Key);
        Assert.Equal(["10.0.0.3", "10.0.0.5", "10.0.0.9"], merged.AddressesByPort["http"].Select(a => a.Ip));
    }

    [Fact]
    public void Merge_NamedAndUnnamedPorts_AreKeptApartByName()
    {
        var merged = EndpointSliceCatalog.Merge(Key,
        [
            Slice([Endpoint("10.0.0.1", ready: true)], Port("http", 8080), Port("grpc", 9090)),
            Slice([Endpoint("10.0.0.2", ready: true)], Port(null, 7070)),
        ]);

        Assert.Equal(["", "grpc", "http"], merged.AddressesByPort.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([new PodAddress("10.0.0.1", 8080)], merged.AddressesByPort["http"]);
        Assert.Equal([new PodAddress("10.0.0.1", 9090)], merged.AddressesByPort["grpc"]);
        Assert.Equal([new PodAddress("10.0.0.2", 7070)], merged.AddressesByPort[""]);
    }

    [Fact]
    public void Merge_SameAddressInTwoSlices_IsListedOnce()
    {
        var merged = EndpointSliceCatalog.Merge(Key,
        [
            Slice([Endpoint("10.0.0.1", ready: true)], Port("http", 8080)),
            Slice([Endpoint("10.0.0.1", ready: true), Endpoint("10.0.0.2", ready: true)], Port("http", 8080)),
        ]);

        Assert.Equal(["10.0.0.1", "10.0.0.2"], merged.AddressesByPort["http"].Select(a => a.Ip));
    }

    [Fact]
    public void Merge_FqdnSlice_IsIgnored()
    {
        var fqdn = Slice([Endpoint("backend.example.com", ready: true)], Port("http", 8080));
        fqdn.AddressType = "FQDN";

        var merged = EndpointSliceCatalog.Merge(Key, [fqdn, Slice([Endpoint("fd00::1", ready: true)], Port("http", 8080), addressType: "IPv6")]);

        Assert.Equal([new PodAddress("fd00::1", 8080)], merged.AddressesByPort["http"]);
    }

    [Fact]
    public void Merge_UdpAndSctpPorts_AreIgnoredAndUnsetProtocolIsTcp()
    {
        var merged = EndpointSliceCatalog.Merge(Key, [Slice(
            [Endpoint("10.0.0.1", ready: true)],
            Port("dns", 53, "UDP"),
            Port("signal", 3868, "SCTP"),
            Port("http", 8080, protocol: null))]);

        Assert.Equal(["http"], merged.AddressesByPort.Keys.ToArray());
    }

    [Fact]
    public void Merge_EndpointWithSeveralAddresses_UsesTheFirstAndSkipsEndpointsWithout()
    {
        var merged = EndpointSliceCatalog.Merge(Key, [Slice(
            [
                new SliceEndpoint { Addresses = ["10.0.0.1", "10.0.0.2"], Conditions = new SliceConditions { Ready = true } },
                new SliceEndpoint { Addresses = [], Conditions = new SliceConditions { Ready = true } },
            ],
            Port("http", 8080))]);

        Assert.Equal([new PodAddress("10.0.0.1", 8080)], merged.AddressesByPort["http"]);
    }

    [Fact]
    public void Merge_NoSlices_IsEmptyAndNotReady()
    {
        var merged = EndpointSliceCatalog.Merge(Key, []);

        Assert.False(merged.Ready);
        Assert.Empty(merged.AddressesByPort);
        Assert.True(merged.SameAs(ServiceEndpoints.Empty(Key)));
    }

    [Fact]
    public void SameAs_DifferentAddressesOrPorts_IsFalse()
    {
        var one = EndpointSliceCatalog.Merge(Key, [Slice([Endpoint("10.0.0.1", ready: true)], Port("http", 8080))]);
        var same = EndpointSliceCatalog.Merge(Key, [Slice([Endpoint("10.0.0.1", ready: true)], Port("http", 8080))]);
        var otherAddress = EndpointSliceCatalog.Merge(Key, [Slice([Endpoint("10.0.0.2", ready: true)], Port("http", 8080))]);
        var otherPort = EndpointSliceCatalog.Merge(Key, [Slice([Endpoint("10.0.0.1", ready: true)], Port("web", 8080))]);

        Assert.True(one.SameAs(same));
        Assert.False(one.SameAs(otherAddress));
        Assert.False(one.SameAs(otherPort));
    }

    private static EndpointSlice Slice(List<SliceEndpoint> endpoints, params SlicePort[] ports) => Slice(endpoints, ports, "IPv4");

    private static EndpointSlice Slice(List<SliceEndpoint> endpoints, SlicePort port, string addressType) => Slice(endpoints, [port], addressType);

    private static EndpointSlice Slice(List<SliceEndpoint> endpoints, SlicePort[] ports, string addressType) => new()
    {
        Metadata = new KubeMetadata { Name = "slice", Namespace = "shop", Labels = new() { [EndpointSlice.ServiceNameLabel] = "app" } },
        AddressType = addressType,
        Endpoints = endpoints,
        Ports = [.. ports],
    };

    private static SliceEndpoint Endpoint(string ip, bool? ready, bool? serving = null, bool? terminating = null) => new()
    {
        Addresses = [ip],
        Conditions = new SliceConditions { Ready = ready, Serving = serving, Terminating = terminating },
    };

    private static SlicePort Port(string? name, int port, string? protocol = "TCP") => new() { Name = name, Port = port, Protocol = protocol };
}
