using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Updraft.Shared.Crds;
using Updraft.Shared.Workloads;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Updraft.Shared.Routes;

/// <summary>The outcome of reading a routes file: the routes when there are no problems, else every problem found.</summary>
public sealed record RouteFileResult(IReadOnlyList<RouteDefinition> Routes, IReadOnlyList<RouteProblem> Problems)
{
    public bool Succeeded => Problems.Count == 0;

    /// <summary>The file's <c>LocalWorkload</c> documents (standalone mode), ordered by key.</summary>
    public IReadOnlyList<WorkloadDefinition> Workloads { get; init; } = [];
}

/// <summary>
/// Reads a multi-document YAML file of <c>InterceptorRoute</c> and <c>HTTPScaledObject</c> objects in the CRD
/// schema. YAML is turned into JSON the way Kubernetes does (YAML 1.2 core schema for plain scalars), then bound to
/// the CRD types with unknown fields rejected, then validated. A file with any problem yields no routes, and so does
/// one past <see cref="RouteFileLimits"/> (size, nesting, nodes after alias expansion), which is stopped while it is
/// read, before it can use much stack or memory.
/// </summary>
public static partial class RouteFileParser
{
    /// <param name="baseDirectory">Where relative paths in the file start (its directory); the current directory when null.</param>
    public static RouteFileResult Parse(string yaml, RouteEnvironment environment, string? baseDirectory = null)
    {
        var problems = new List<RouteProblem>();
        if (yaml.Length > RouteFileLimits.MaxBytes)
        {
            problems.Add(new RouteProblem(null, null, null, "", RouteFileLimits.TooLarge));
            return new RouteFileResult([], problems);
        }

        var stream = new YamlStream();
        var parser = new BoundedYamlParser(new Parser(new StringReader(yaml)));
        try
        {
            stream.Load(parser);
        }
        catch (RouteFileLimitException e)
        {
            problems.Add(new RouteProblem(e.Document, null, null, "", e.Message));
            return new RouteFileResult([], problems);
        }
        catch (YamlException e)
        {
            problems.Add(new RouteProblem(null, null, null, "", $"not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}"));
            return new RouteFileResult([], problems);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these instead of YamlException for some malformed input (e.g. "a: [b\nc: d").
            var where = parser.Current is { } last ? $" after line {last.End.Line}, column {last.End.Column}" : "";
            problems.Add(new RouteProblem(null, null, null, "", $"not valid YAML{where}: the structure is malformed ({e.Message})"));
            return new RouteFileResult([], problems);
        }

        var routes = new List<RouteDefinition>();
        var workloads = new List<WorkloadDefinition>();
        var workloadRoutes = new List<(RouteDefinition Route, RouteProblemCollector Problems)>();
        var seen = new Dictionary<(string Kind, string Key), int>();
        for (var i = 0; i < stream.Documents.Count; i++)
        {
            var document = i + 1;
            var root = stream.Documents[i].RootNode;
            if (root is YamlScalarNode { Style: ScalarStyle.Plain } empty && string.IsNullOrEmpty(empty.Value))
            {
                continue; // an empty document, e.g. after a trailing '---'
            }

            if (root is not YamlMappingNode mapping)
            {
                problems.Add(new RouteProblem(document, null, null, "", $"must be a mapping with apiVersion, kind, metadata and spec (line {root.Start.Line})"));
                continue;
            }

            var apiVersion = ScalarAt(mapping, "apiVersion");
            var kind = ScalarAt(mapping, "kind");
            var metadata = mapping.Children.TryGetValue(new YamlScalarNode("metadata"), out var m) ? m as YamlMappingNode : null;
            var name = metadata is null ? null : ScalarAt(metadata, "name");
            var ns = (metadata is null ? null : ScalarAt(metadata, "namespace")) is { Length: > 0 } n ? n : RouteKeys.DefaultNamespace;
            var collector = new RouteProblemCollector(document, kind ?? "(no kind)", name is null ? null : RouteKeys.Format(ns, name));

            JsonTypeInfo? type = (apiVersion, kind) switch
            {
                (InterceptorRoute.ApiVersionValue, InterceptorRoute.KindValue) => RouteFileJsonContext.Default.InterceptorRoute,
                (HttpScaledObject.ApiVersionValue, HttpScaledObject.KindValue) => RouteFileJsonContext.Default.HttpScaledObject,
                (LocalWorkload.ApiVersionValue, LocalWorkload.KindValue) => RouteFileJsonContext.Default.LocalWorkload,
                _ => null,
            };
            if (type is null)
            {
                collector.Add(kind is InterceptorRoute.KindValue or HttpScaledObject.KindValue or LocalWorkload.KindValue ? "apiVersion" : "kind",
                    $"apiVersion \"{apiVersion}\" kind \"{kind}\" is not supported; use {InterceptorRoute.ApiVersionValue} {InterceptorRoute.KindValue}, {HttpScaledObject.ApiVersionValue} {HttpScaledObject.KindValue} or (standalone mode) {LocalWorkload.ApiVersionValue} {LocalWorkload.KindValue}");
                problems.AddRange(collector.Problems);
                continue;
            }

            if (type == RouteFileJsonContext.Default.LocalWorkload)
            {
                var workload = environment == RouteEnvironment.Standalone ? ReadWorkload(mapping, baseDirectory, collector) : null;
                if (environment != RouteEnvironment.Standalone)
                {
                    collector.Add("kind", "LocalWorkload is only for standalone mode (the local autoscaler runs it)");
                }
                else if (workload is not null)
                {
                    if (seen.TryGetValue((kind!, workload.Key), out var first))
                    {
                        collector.Add("metadata.name", $"duplicate: {kind} {workload.Key} is already defined in document {first}");
                    }
                    else
                    {
                        seen.Add((kind!, workload.Key), document);
                        workloads.Add(workload);
                    }
                }

                problems.AddRange(collector.Problems);
                continue;
            }

            var route = Bind(mapping, type, collector) switch
            {
                InterceptorRoute ir => RouteConversion.FromInterceptorRoute(ir, environment, collector, i),
                HttpScaledObject so => RouteConversion.FromHttpScaledObject(so, environment, collector, i),
                _ => null,
            };

            if (route is not null)
            {
                if (seen.TryGetValue((kind!, route.Key), out var first))
                {
                    collector.Add("metadata.name", $"duplicate: {kind} {route.Key} is already defined in document {first}");
                }
                else
                {
                    seen.Add((kind!, route.Key), document);
                    routes.Add(route);
                    if (route.Target.Workload is not null)
                    {
                        workloadRoutes.Add((route, new RouteProblemCollector(document, kind, route.Key)));
                    }
                }
            }

            problems.AddRange(collector.Problems);
        }

        foreach (var (route, collector) in workloadRoutes)
        {
            var key = RouteKeys.Format(route.Namespace, route.Target.Workload!);
            if (!workloads.Exists(w => w.Key == key))
            {
                collector.Add("metadata.annotations." + RouteConversion.LocalWorkloadAnnotation, $"no LocalWorkload {key} in this file");
                problems.AddRange(collector.Problems);
            }
        }

        if (problems.Count > 0)
        {
            return new RouteFileResult([], problems);
        }

        workloads.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new RouteFileResult(RouteSet.Merge(routes), problems) { Workloads = workloads };
    }

    private static WorkloadDefinition? ReadWorkload(YamlMappingNode mapping, string? baseDirectory, RouteProblemCollector collector) =>
        Bind(mapping, RouteFileJsonContext.Default.LocalWorkload, collector) is LocalWorkload workload
            ? WorkloadConversion.FromLocalWorkload(workload, baseDirectory ?? Directory.GetCurrentDirectory(), collector)
            : null;

    private static string? ScalarAt(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode scalar ? scalar.Value : null;

    private static object? Bind(YamlMappingNode mapping, JsonTypeInfo type, RouteProblemCollector problems)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(mapping, writer);
        }

        try
        {
            return JsonSerializer.Deserialize(buffer.WrittenSpan, type);
        }
        catch (JsonException e)
        {
            var path = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            var unknown = UnknownMemberPattern().Match(e.Message);
            if (unknown.Success)
            {
                problems.Add(path, $"unknown field \"{unknown.Groups[1].Value}\"");
            }
            else
            {
                problems.Add(path, $"has the wrong type; expected {DescribeExpected(type, path)}");
            }

            return null;
        }
    }

    [GeneratedRegex("The JSON property '([^']*)' could not be mapped")]
    private static partial Regex UnknownMemberPattern();

    /// <summary>Walks <paramref name="path"/> (<c>spec.rules[0].hosts</c>) through the CRD types' JSON metadata to name what was expected.</summary>
    private static string DescribeExpected(JsonTypeInfo root, string path)
    {
        var type = root.Type;
        foreach (var rawSegment in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var indexed = rawSegment.IndexOf('[', StringComparison.Ordinal);
            var segment = indexed >= 0 ? rawSegment[..indexed] : rawSegment;
            var property = root.Options.GetTypeInfo(type).Properties.FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                return "a value of another type";
            }

            type = property.PropertyType;
            if (indexed >= 0 && root.Options.GetTypeInfo(type) is { Kind: JsonTypeInfoKind.Enumerable or JsonTypeInfoKind.Dictionary, ElementType: { } element })
            {
                type = element;
            }
        }

        type = Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            _ when type == typeof(int) || type == typeof(long) => "an integer",
            _ when type == typeof(string) => "a string",
            _ when type == typeof(DateTimeOffset) => "an RFC 3339 timestamp",
            _ => root.Options.GetTypeInfo(type).Kind switch
            {
                JsonTypeInfoKind.Enumerable => "a list",
                JsonTypeInfoKind.Dictionary => "a map of strings",
                _ => "an object",
            },
        };
    }

    private static void WriteJson(YamlNode node, Utf8JsonWriter writer)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                writer.WriteStartObject();
                foreach (var (key, value) in mapping.Children)
                {
                    writer.WritePropertyName(key is YamlScalarNode s ? s.Value ?? "" : key.ToString());
                    WriteJson(value, writer);
                }

                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Children)
                {
                    WriteJson(item, writer);
                }

                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar:
                WriteScalar(scalar, writer);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    // YAML 1.2 core schema for plain scalars; quoted scalars are always strings.
    private static void WriteScalar(YamlScalarNode scalar, Utf8JsonWriter writer)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain)
        {
            writer.WriteStringValue(value);
            return;
        }

        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                writer.WriteNullValue();
                return;
            case "true" or "True" or "TRUE":
                writer.WriteBooleanValue(true);
                return;
            case "false" or "False" or "FALSE":
                writer.WriteBooleanValue(false);
                return;
        }

        if (IntegerPattern().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            writer.WriteNumberValue(integer);
        }
        else if (FloatPattern().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            writer.WriteRawValue(value.TrimStart('+'));
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    // Only floats that are also JSON numbers; other YAML floats (.5, 5., 01.5) stay strings, which no integer field
    // accepts either, and a string field then gets the text as written.
    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
