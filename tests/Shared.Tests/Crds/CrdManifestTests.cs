using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Updraft.Shared.Crds;
using YamlDotNet.RepresentationModel;
using Updraft.Tests.Common;

namespace Updraft.Shared.Tests.Crds;

/// <summary>
/// Checks the chart's CRD manifests (<c>charts/updraft/crds</c>) against the KEDA HTTP add-on's CRDs and against the
/// C# types the routes file binds, so the two cannot drift apart.
/// </summary>
public sealed class CrdManifestTests
{
    private const string HttpScaledObjectFile = "http.keda.sh_httpscaledobjects.yaml";
    private const string InterceptorRouteFile = "http.keda.sh_interceptorroutes.yaml";

    // The add-on's (metav1.Condition's) patterns for a condition's reason and type.
    private const string ReasonPattern = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
    private const string TypePattern = @"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

    // Spec paths the C# types bind on purpose although the cluster CRD does not have them.
    private static readonly Dictionary<string, string[]> CSharpOnlySpecPaths = new(StringComparer.Ordinal)
    {
        [HttpScaledObjectFile] = [],

        // target.appProtocol is an Updraft extension for standalone mode (routes file): in a cluster the protocol
        // comes from the Service port's appProtocol, so the CRD keeps the add-on's TargetRef.
        [InterceptorRouteFile] = ["target.appProtocol"],
    };

    [Theory]
    [InlineData(HttpScaledObjectFile, "HTTPScaledObject", "httpscaledobjects", "httpscaledobject", "httpso")]
    [InlineData(InterceptorRouteFile, "InterceptorRoute", "interceptorroutes", "interceptorroute", "")]
    public void Manifest_Header_IsNamespacedCrdOfTheAddOnGroup(
        string file, string kind, string plural, string singular, string shortNames)
    {
        var crd = LoadCrd(file);

        Assert.Equal("apiextensions.k8s.io/v1", Scalar(crd, "apiVersion"));
        Assert.Equal("CustomResourceDefinition", Scalar(crd, "kind"));
        Assert.Equal($"{plural}.http.keda.sh", Scalar(crd, "metadata", "name"));
        Assert.Equal("http.keda.sh", Scalar(crd, "spec", "group"));
        Assert.Equal("Namespaced", Scalar(crd, "spec", "scope"));
        Assert.Equal(kind, Scalar(crd, "spec", "names", "kind"));
        Assert.Equal(plural, Scalar(crd, "spec", "names", "plural"));
        Assert.Equal(singular, Scalar(crd, "spec", "names", "singular"));
        var actualShortNames = TryGet(crd, "spec", "names", "shortNames") is YamlSequenceNode seq
            ? seq.Children.Select(n => ((YamlScalarNode)n).Value!).ToArray()
            : [];
        Assert.Equal(shortNames.Split(',', StringSplitOptions.RemoveEmptyEntries), actualShortNames);
    }

    [Theory]
    [InlineData(HttpScaledObjectFile, HttpScaledObject.Version)]
    [InlineData(InterceptorRouteFile, InterceptorRoute.Version)]
    public void Manifest_Version_IsTheOnlyServedStorageVersionWithStatusSubresource(string file, string version)
    {
        var versions = (YamlSequenceNode)Get(LoadCrd(file), "spec", "versions");

        var only = Assert.Single(versions.Children);
        Assert.Equal(version, Scalar(only, "name"));
        Assert.Equal("true", Scalar(only, "served"));
        Assert.Equal("true", Scalar(only, "storage"));
        var status = Assert.IsType<YamlMappingNode>(Get(only, "subresources", "status"));
        Assert.Empty(status.Children);
    }

    [Theory]
    [InlineData(HttpScaledObjectFile)]
    [InlineData(InterceptorRouteFile)]
    public void Manifest_Version_IsNotMarkedDeprecated(string file)
    {
        // The add-on recommends InterceptorRoute but marks no version deprecated: kubectl would warn on every apply.
        var version = (YamlMappingNode)SingleVersion(file);

        Assert.Null(TryGet(version, "deprecated"));
        Assert.Null(TryGet(version, "deprecationWarning"));
    }

    [Theory]
    [InlineData(HttpScaledObjectFile, "")]
    [InlineData(InterceptorRouteFile, "metadata,spec")]
    public void Manifest_Root_RequiresWhatTheAddOnRequires(string file, string required)
    {
        var actual = TryGet(LoadSchema(file), "required") is YamlSequenceNode seq
            ? seq.Children.Select(n => ((YamlScalarNode)n).Value!).ToArray()
            : [];

        Assert.Equal(required.Split(',', StringSplitOptions.RemoveEmptyEntries), actual);
    }

    [Theory]
    [InlineData(HttpScaledObjectFile)]
    [InlineData(InterceptorRouteFile)]
    public void Manifest_StatusConditions_HaveTheAddOnsConditionSchema(string file)
    {
        var items = Get(LoadSchema(file), "properties", "status", "properties", "conditions", "items");
        var reason = Get(items, "properties", "reason");
        var type = Get(items, "properties", "type");

        Assert.Equal(["type", "status", "lastTransitionTime", "reason", "message"], ((YamlSequenceNode)Get(items, "required")).Children.Select(n => ((YamlScalarNode)n).Value!));
        Assert.Equal(ReasonPattern, Scalar(reason, "pattern"));
        Assert.Equal("1", Scalar(reason, "minLength"));
        Assert.Equal("1024", Scalar(reason, "maxLength"));
        Assert.Equal(TypePattern, Scalar(type, "pattern"));
        Assert.Equal("316", Scalar(type, "maxLength"));
        Assert.Equal("32768", Scalar(items, "properties", "message", "maxLength"));
        Assert.Equal("date-time", Scalar(items, "properties", "lastTransitionTime", "format"));
        Assert.Equal(["True", "False", "Unknown"], ((YamlSequenceNode)Get(items, "properties", "status", "enum")).Children.Select(n => ((YamlScalarNode)n).Value!));
    }

    [Theory]
    // Every reason Updraft's operator writes must pass, or the API server refuses the status update.
    [InlineData("Reconciled", true)]
    [InlineData("CreateError", true)]
    [InlineData("InvalidRoute", true)]
    [InlineData("TargetServiceNotFound", true)]
    [InlineData("TargetPortNotFound", true)]
    [InlineData("A", true)]
    [InlineData("Waiting:For_Scale,1", true)]
    [InlineData("", false)]
    [InlineData("1Starts", false)]
    [InlineData("Has Space", false)]
    [InlineData("Ends,", false)]
    [InlineData("has-dash", false)]
    public void ReasonPattern_AsTheApiServerAppliesIt_AcceptsCamelCaseIdentifiersOnly(string reason, bool valid)
    {
        Assert.Equal(valid, System.Text.RegularExpressions.Regex.IsMatch(reason, Scalar(ConditionProperty(InterceptorRouteFile, "reason"), "pattern")!));
    }

    [Theory]
    [InlineData("Ready", true)]
    [InlineData("http.keda.sh/Ready", true)]
    [InlineData("Scaled-Up_1.0", true)]
    [InlineData("", false)]
    [InlineData("Not Ready", false)]
    [InlineData("Ready.", false)]
    [InlineData("Example.com/Ready", false)] // the prefix is a lower-case DNS subdomain
    public void TypePattern_AsTheApiServerAppliesIt_AcceptsNamesWithAnOptionalDomainPrefix(string type, bool valid)
    {
        Assert.Equal(valid, System.Text.RegularExpressions.Regex.IsMatch(type, Scalar(ConditionProperty(HttpScaledObjectFile, "type"), "pattern")!));
    }

    [Theory]
    [InlineData(HttpScaledObjectFile, "TargetWorkload,TargetService,MinReplicas,MaxReplicas,Age,Ready")]
    [InlineData(InterceptorRouteFile, "TargetService,Ready,Age")]
    public void Manifest_PrinterColumns_AreTheAddOnsInOrder(string file, string names)
    {
        var actual = PrinterColumns(file).Select(c => Scalar(c, "name")).ToArray();

        Assert.Equal(names.Split(','), actual);
    }

    [Theory]
    [InlineData(HttpScaledObjectFile, "TargetWorkload", "string", ".status.targetWorkload")]
    [InlineData(HttpScaledObjectFile, "TargetService", "string", ".status.targetService")]
    [InlineData(HttpScaledObjectFile, "MinReplicas", "integer", ".spec.replicas.min")]
    [InlineData(HttpScaledObjectFile, "MaxReplicas", "integer", ".spec.replicas.max")]
    [InlineData(HttpScaledObjectFile, "Age", "date", ".metadata.creationTimestamp")]
    [InlineData(HttpScaledObjectFile, "Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status")]
    [InlineData(InterceptorRouteFile, "TargetService", "string", ".spec.target.service")]
    [InlineData(InterceptorRouteFile, "Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status")]
    [InlineData(InterceptorRouteFile, "Age", "date", ".metadata.creationTimestamp")]
    public void Manifest_PrinterColumn_HasTypeAndJsonPath(string file, string name, string type, string jsonPath)
    {
        var column = Assert.Single(PrinterColumns(file), c => Scalar(c, "name") == name);

        Assert.Equal(type, Scalar(column, "type"));
        Assert.Equal(jsonPath, Scalar(column, "jsonPath"));
    }

    [Theory]
    [InlineData(HttpScaledObjectFile, "", "scaleTargetRef")]
    [InlineData(HttpScaledObjectFile, "scaleTargetRef", "service")]
    [InlineData(HttpScaledObjectFile, "coldStartTimeoutFailoverRef", "service")]
    [InlineData(HttpScaledObjectFile, "headers[]", "name")]
    [InlineData(InterceptorRouteFile, "", "target,scalingMetric")]
    [InlineData(InterceptorRouteFile, "target", "service")]
    [InlineData(InterceptorRouteFile, "scalingMetric.concurrency", "targetValue")]
    [InlineData(InterceptorRouteFile, "scalingMetric.requestRate", "targetValue")]
    [InlineData(InterceptorRouteFile, "coldStart.fallback.service", "name")]
    [InlineData(InterceptorRouteFile, "coldStart.placeholder", "response")]
    [InlineData(InterceptorRouteFile, "staticRoutes[]", "rules,response")]
    [InlineData(InterceptorRouteFile, "rules[].headers[]", "name")]
    public void Manifest_SpecObject_RequiresTheAddOnsFields(string file, string specPath, string required)
    {
        var node = SpecSchemaAt(file, specPath);

        var actual = TryGet(node, "required") is YamlSequenceNode seq
            ? seq.Children.Select(n => ((YamlScalarNode)n).Value!).ToArray()
            : [];
        Assert.Equal(required.Split(','), actual);
    }

    [Theory]
    [InlineData(HttpScaledObjectFile, "coldStartTimeoutFailoverRef.timeoutSeconds", "30")]
    [InlineData(HttpScaledObjectFile, "scalingMetric.concurrency.targetValue", "100")]
    [InlineData(HttpScaledObjectFile, "scalingMetric.requestRate.targetValue", "100")]
    [InlineData(HttpScaledObjectFile, "scalingMetric.requestRate.window", "1m")]
    [InlineData(HttpScaledObjectFile, "scalingMetric.requestRate.granularity", "1s")]
    [InlineData(InterceptorRouteFile, "scalingMetric.requestRate.window", "1m")]
    [InlineData(InterceptorRouteFile, "scalingMetric.requestRate.granularity", "1s")]
    [InlineData(InterceptorRouteFile, "staticRoutes[].responseMode", "WhenUnavailable")]
    public void Manifest_SpecField_HasTheAddOnsDefault(string file, string specPath, string expected)
    {
        Assert.Equal(expected, Scalar(SpecSchemaAt(file, specPath), "default"));
    }

    [Theory]
    [InlineData(HttpScaledObjectFile, typeof(HttpScaledObjectSpec))]
    [InlineData(InterceptorRouteFile, typeof(InterceptorRouteSpec))]
    public void Manifest_SpecSchemaPaths_EqualThePathsTheCSharpTypesBind(string file, Type specType)
    {
        var schemaPaths = new SortedSet<string>(StringComparer.Ordinal);
        CollectSchemaPaths(Get(LoadSchema(file), "properties", "spec"), "", schemaPaths);
        var typePaths = new SortedSet<string>(StringComparer.Ordinal);
        CollectTypePaths(specType, "", typePaths);

        // Each allowed extension must really be C#-only, or the allowance is stale.
        foreach (var path in CSharpOnlySpecPaths[file])
        {
            Assert.Contains(path, typePaths);
            Assert.DoesNotContain(path, schemaPaths);
        }

        typePaths.ExceptWith(CSharpOnlySpecPaths[file]);
        Assert.Equal(typePaths, schemaPaths);
    }

    // Path syntax: "a.b" for nested objects, "a[].b" for fields of list elements; every prefix is a path too.
    private static void CollectSchemaPaths(YamlNode schema, string prefix, ISet<string> paths)
    {
        if (TryGet(schema, "properties") is YamlMappingNode properties)
        {
            foreach (var (key, value) in properties.Children)
            {
                var path = prefix + ((YamlScalarNode)key).Value;
                paths.Add(path);
                CollectSchemaPaths(value, path + ".", paths);
            }
        }

        if (TryGet(schema, "items") is { } items)
        {
            CollectSchemaPaths(items, prefix.TrimEnd('.') + "[].", paths);
        }
    }

    private static void CollectTypePaths(Type type, string prefix, ISet<string> paths)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name
                ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);
            var path = prefix + name;
            paths.Add(path);

            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (IsCrdType(propertyType))
            {
                CollectTypePaths(propertyType, path + ".", paths);
            }
            else if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(List<>)
                && IsCrdType(propertyType.GetGenericArguments()[0]))
            {
                CollectTypePaths(propertyType.GetGenericArguments()[0], path + "[].", paths);
            }
        }
    }

    // Classes of the CRD model recurse; strings, numbers and string maps are leaves, as in the schema.
    private static bool IsCrdType(Type type) =>
        type.IsClass && type.Namespace == typeof(InterceptorRoute).Namespace;

    private static IEnumerable<YamlNode> PrinterColumns(string file) =>
        ((YamlSequenceNode)Get(SingleVersion(file), "additionalPrinterColumns")).Children;

    private static YamlNode SingleVersion(string file) =>
        Assert.Single(((YamlSequenceNode)Get(LoadCrd(file), "spec", "versions")).Children);

    private static YamlNode ConditionProperty(string file, string name) =>
        Get(LoadSchema(file), "properties", "status", "properties", "conditions", "items", "properties", name);

    private static YamlNode LoadSchema(string file) => Get(SingleVersion(file), "schema", "openAPIV3Schema");

    private static YamlNode SpecSchemaAt(string file, string specPath)
    {
        var node = Get(LoadSchema(file), "properties", "spec");
        foreach (var segment in specPath.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var isList = segment.EndsWith("[]", StringComparison.Ordinal);
            node = Get(node, "properties", isList ? segment[..^2] : segment);
            if (isList)
            {
                node = Get(node, "items");
            }
        }

        return node;
    }

    private static YamlNode LoadCrd(string file)
    {
        var path = Path.Combine(Repository.Root(), "charts", "updraft", "crds", file);
        using var reader = new StreamReader(path);
        var stream = new YamlStream();
        stream.Load(reader);
        return Assert.Single(stream.Documents).RootNode;
    }

    private static YamlNode? TryGet(YamlNode node, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            node = next;
        }

        return node;
    }

    private static YamlNode Get(YamlNode node, params string[] keys) =>
        TryGet(node, keys) ?? throw new KeyNotFoundException(string.Join('.', keys));

    private static string? Scalar(YamlNode node, params string[] keys) => ((YamlScalarNode)Get(node, keys)).Value;
}
