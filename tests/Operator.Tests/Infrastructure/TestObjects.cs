using System.Text.Json.Nodes;

namespace Updraft.Operator.Tests.Infrastructure;

/// <summary>Objects as a user writes them, in shapes the real v1.20 server accepts.</summary>
internal static class TestObjects
{
    public const string HttpScaledObjectsPath = "/apis/http.keda.sh/v1alpha1/namespaces/{0}/httpscaledobjects";
    public const string InterceptorRoutesPath = "/apis/http.keda.sh/v1beta1/namespaces/{0}/interceptorroutes";
    public const string ScaledObjectsPath = "/apis/keda.sh/v1alpha1/namespaces/{0}/scaledobjects";
    public const string ServicesPath = "/api/v1/namespaces/{0}/services";
    public const string EventsPath = "/api/v1/namespaces/{0}/events";

    public static string In(string collection, string ns) => string.Format(System.Globalization.CultureInfo.InvariantCulture, collection, ns);

    public static string In(string collection, string ns, string name) => In(collection, ns) + "/" + name;

    /// <summary>An HTTPScaledObject for Deployment <paramref name="name"/> behind Service <paramref name="name"/>:8080.</summary>
    public static JsonObject HttpScaledObject(string ns, string name, int? min = 0, int? max = 10, Action<JsonObject>? change = null)
    {
        var spec = new JsonObject
        {
            ["hosts"] = new JsonArray(name + ".example.com"),
            ["scaleTargetRef"] = new JsonObject
            {
                ["name"] = name,
                ["kind"] = "Deployment",
                ["apiVersion"] = "apps/v1",
                ["service"] = name,
                ["port"] = 8080,
            },
        };
        if (min is not null || max is not null)
        {
            var replicas = new JsonObject();
            if (min is not null)
            {
                replicas["min"] = min;
            }

            if (max is not null)
            {
                replicas["max"] = max;
            }

            spec["replicas"] = replicas;
        }

        var value = new JsonObject
        {
            ["apiVersion"] = "http.keda.sh/v1alpha1",
            ["kind"] = "HTTPScaledObject",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = spec,
        };
        change?.Invoke(value);
        return value;
    }

    public static JsonObject InterceptorRoute(string ns, string name, string service, int? port = 8080, string? portName = null)
    {
        var target = new JsonObject { ["service"] = service };
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
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject
            {
                ["target"] = target,
                ["rules"] = new JsonArray(new JsonObject { ["hosts"] = new JsonArray(name + ".example.com") }),
                ["scalingMetric"] = new JsonObject { ["concurrency"] = new JsonObject { ["targetValue"] = 100 } },
            },
        };
    }

    public static JsonObject Service(string ns, string name, params (string Name, int Port)[] ports)
    {
        var list = new JsonArray();
        foreach (var (portName, port) in ports)
        {
            list.Add(new JsonObject { ["name"] = portName, ["port"] = port, ["protocol"] = "TCP", ["targetPort"] = port });
        }

        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject { ["ports"] = list },
        };
    }

    /// <summary>The <c>Ready</c> condition of <paramref name="item"/>, or null.</summary>
    public static JsonNode? Ready(JsonObject? item) =>
        (item?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready");
}
