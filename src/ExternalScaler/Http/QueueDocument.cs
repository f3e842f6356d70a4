using System.Text.Json;
using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Http;

/// <summary>Reads the add-on's <c>/queue</c> document: <c>{"ns/name":{"Concurrency":n,"RequestCount":n}}</c>.</summary>
internal static class QueueDocument
{
    /// <exception cref="FormatException">The body is not that document.</exception>
    public static IReadOnlyDictionary<string, RouteCounts> Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            var routes = new Dictionary<string, RouteCounts>(StringComparer.Ordinal);
            Expect(ref reader, JsonTokenType.StartObject);
            while (Next(ref reader) == JsonTokenType.PropertyName)
            {
                var key = reader.GetString()!;
                Expect(ref reader, JsonTokenType.StartObject);
                int? concurrency = null;
                long? requestCount = null;
                while (Next(ref reader) == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString();
                    Expect(ref reader, JsonTokenType.Number);
                    switch (name)
                    {
                        case "Concurrency":
                            concurrency = reader.GetInt32();
                            break;
                        case "RequestCount":
                            requestCount = reader.GetInt64();
                            break;
                    }
                }

                if (concurrency is null || requestCount is null || concurrency < 0 || requestCount < 0)
                {
                    throw new FormatException($"route \"{OneLine.Escape(key)}\" lacks a non-negative Concurrency or RequestCount");
                }

                routes[key] = new RouteCounts(concurrency.Value, requestCount.Value);
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                throw new FormatException("unexpected content after the document");
            }

            return routes;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FormatException($"not a /queue document: {OneLine.Escape(e.Message)}", e);
        }
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new FormatException("the document ends early");

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (Next(ref reader) != type)
        {
            throw new FormatException($"expected {type} but found {reader.TokenType} at byte {reader.TokenStartIndex}");
        }
    }
}
