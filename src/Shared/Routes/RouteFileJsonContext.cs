using System.Text.Json;
using System.Text.Json.Serialization;
using Updraft.Shared.Crds;

namespace Updraft.Shared.Routes;

/// <summary>
/// Compile-time JSON metadata for the objects a routes file holds, so reading one needs no reflection (the interceptor
/// can be trimmed or compiled ahead of time). Strict as the API server's structural schema: unknown fields are errors
/// and numbers are never read from strings.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict,
    Converters = [typeof(ScalarAsStringConverter)])]
[JsonSerializable(typeof(InterceptorRoute))]
[JsonSerializable(typeof(HttpScaledObject))]
[JsonSerializable(typeof(LocalWorkload))]
internal sealed partial class RouteFileJsonContext : JsonSerializerContext;

/// <summary>Lets a plain YAML number or boolean stand where the schema wants a string (<c>value: 100</c>).</summary>
internal sealed class ScalarAsStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        _ => throw new JsonException("expected a string"),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    // Map keys (labels, annotations) are always strings; the source-generated metadata asks the converter for them.
    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetString()!;

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);
}
