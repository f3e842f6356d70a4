using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;

namespace Updraft.Kubernetes.Tests.Infrastructure;

/// <summary>Objects as written to an API server (JSON), in shapes the real v1.20 server accepts.</summary>
internal static class KubeObjects
{
    public static JsonObject Service(string ns, string name, params (string Key, string Value)[] labels) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = Metadata(ns, name, labels),
        ["spec"] = new JsonObject
        {
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80, ["protocol"] = "TCP", ["targetPort"] = 8080 }),
        },
    };

    /// <summary>An IPv4 EndpointSlice of <paramref name="service"/> (no label when null), one address per endpoint.</summary>
    /// <param name="resource">v1 or v1beta1: the fields used here are the same in both.</param>
    /// <param name="ns">Namespace.</param>
    /// <param name="name">Slice name.</param>
    /// <param name="service">The <c>kubernetes.io/service-name</c> label.</param>
    /// <param name="endpoints">Addresses with <c>conditions.ready</c> (null: no conditions at all).</param>
    /// <param name="ports">Ports by name (null: unnamed).</param>
    public static JsonObject Slice(ApiResource resource, string ns, string name, string? service, (string Ip, bool? Ready)[] endpoints, params (string? Name, int Port)[] ports)
    {
        var labels = service is null ? [] : new[] { (EndpointSlice.ServiceNameLabel, service) };
        var endpointArray = new JsonArray();
        foreach (var (ip, ready) in endpoints)
        {
            var endpoint = new JsonObject { ["addresses"] = new JsonArray(ip) };
            if (ready is not null)
            {
                endpoint["conditions"] = new JsonObject { ["ready"] = ready };
            }

            endpointArray.Add(endpoint);
        }

        var portArray = new JsonArray();
        foreach (var (portName, port) in ports)
        {
            var item = new JsonObject { ["port"] = port, ["protocol"] = "TCP" };
            if (portName is not null)
            {
                item["name"] = portName;
            }

            portArray.Add(item);
        }

        return new JsonObject
        {
            ["apiVersion"] = resource.GroupVersion,
            ["kind"] = "EndpointSlice",
            ["metadata"] = Metadata(ns, name, labels),
            ["addressType"] = "IPv4",
            ["endpoints"] = endpointArray,
            ["ports"] = portArray,
        };
    }

    /// <summary>A valid InterceptorRoute (unless both <paramref name="port"/> and <paramref name="portName"/> are given).</summary>
    public static JsonObject InterceptorRoute(string ns, string name, string host, int? port = 8080, string? portName = null, string path = "/")
    {
        var target = new JsonObject { ["service"] = name };
        if (port is not null)
        {
            target["port"] = port;
        }

        if (portName is not null)
        {
            target["portName"] = portName;
        }

        return new JsonObject
        {
            ["apiVersion"] = "http.keda.sh/v1beta1",
            ["kind"] = "InterceptorRoute",
            ["metadata"] = Metadata(ns, name, []),
            ["spec"] = new JsonObject
            {
                ["target"] = target,
                ["rules"] = new JsonArray(new JsonObject
                {
                    ["hosts"] = new JsonArray(host),
                    ["paths"] = new JsonArray(new JsonObject { ["value"] = path }),
                }),
                ["scalingMetric"] = new JsonObject { ["concurrency"] = new JsonObject { ["targetValue"] = 10 } },
            },
        };
    }

    public static JsonObject HttpScaledObject(string ns, string name, string host, int port = 8080) => new()
    {
        ["apiVersion"] = "http.keda.sh/v1alpha1",
        ["kind"] = "HTTPScaledObject",
        ["metadata"] = Metadata(ns, name, []),
        ["spec"] = new JsonObject
        {
            ["hosts"] = new JsonArray(host),
            ["scaleTargetRef"] = new JsonObject
            {
                ["name"] = name,
                ["apiVersion"] = "apps/v1",
                ["kind"] = "Deployment",
                ["service"] = name,
                ["port"] = port,
            },
            ["replicas"] = new JsonObject { ["min"] = 0, ["max"] = 3 },
        },
    };

    private static JsonObject Metadata(string ns, string name, (string Key, string Value)[] labels)
    {
        var metadata = new JsonObject { ["name"] = name, ["namespace"] = ns };
        if (labels.Length > 0)
        {
            var labelObject = new JsonObject();
            foreach (var (key, value) in labels)
            {
                labelObject[key] = value;
            }

            metadata["labels"] = labelObject;
        }

        return metadata;
    }
}
