using System.Text;
using System.Text.Json;
using CsCheck;
using Updraft.ExternalScaler.Http;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.ExternalScaler.Tests.Fuzzing;

/// <summary>
/// The <c>/queue</c> document the scaler polls from interceptors (<see cref="QueueDocument"/>): any body parses or
/// fails with <see cref="FormatException"/> (one line), in bounded time and memory; a document written the way the
/// interceptor writes it (any route key, counts up to their type's limits) parses to exactly what was written.
/// </summary>
public sealed class QueueDocumentFuzzTests
{
    private const string Parser = "queue-json";

    [Fact]
    public void Parse_AnyBody_DocumentOrOneLineFormatException()
    {
        Corpus.Run(Parser, file => DocumentOrFormatException(file.Bytes));
        var bodies = Gen.Frequency(
            (4, Hostile.Mutated(Corpus.Texts(Parser)).Select(Encoding.UTF8.GetBytes)),
            (2, Hostile.Text.Select(Encoding.UTF8.GetBytes)),
            (1, Gen.Byte.Array[0, 200]),
            (1, Gen.Int[1, 100_000].Select(depth => Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth)))),
            (1, Gen.Int[1, 5_000].Select(depth => Encoding.UTF8.GetBytes("{\"a/b\":" + string.Concat(Enumerable.Repeat("{\"x\":", depth)) + "1" + new string('}', depth + 1)))),
            (1, Models.Select(model => Write(model, indented: false)).Select(bytes => bytes.Length > 2 ? bytes[..^1] : bytes)));
        Fuzz.Check(bodies, DocumentOrFormatException, iterations: 3_000);
    }

    [Fact]
    public void Parse_DocumentFromModel_IsTheModel()
    {
        Fuzz.Check(Gen.Select(Models, Gen.Bool), m =>
        {
            var parsed = QueueDocument.Parse(Write(m.Item1, m.Item2));
            var expected = m.Item1.GroupBy(r => r.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
            if (parsed.Count != expected.Count || expected.Any(e => !parsed.TryGetValue(e.Key, out var counts) || counts.Concurrency != e.Value.Concurrency || counts.RequestCount != e.Value.RequestCount))
            {
                throw new FuzzFailure($"parsed {string.Join(", ", parsed.Select(p => $"{Fuzz.Show(p.Key)}={p.Value}"))}");
            }
        }, iterations: 2_000, print: m => Encoding.UTF8.GetString(Write(m.Item1, m.Item2)));
    }

    private sealed record RouteModel(string Key, int Concurrency, long RequestCount);

    private static readonly Gen<RouteModel[]> Models = Gen.Select(
        Gen.Frequency((3, Gen.Select(Gen.String[Gen.Char['a', 'z'], 1, 10], Gen.String[Gen.Char['a', 'z'], 1, 10], (ns, name) => ns + "/" + name)), (1, Hostile.Text.Where(key => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(key)) == key))),
        Gen.Frequency((3, Gen.Int[0, 1_000]), (1, Gen.Int[0, int.MaxValue])),
        Gen.Frequency((3, Gen.Long[0, 1_000_000]), (1, Gen.Long[0, long.MaxValue])),
        (key, concurrency, count) => new RouteModel(key, concurrency, count)).Array[0, 20];

    /// <summary>As the interceptor's admin server writes it (Utf8JsonWriter, escaping what JSON needs).</summary>
    private static byte[] Write(RouteModel[] routes, bool indented)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            writer.WriteStartObject();
            foreach (var route in routes)
            {
                writer.WriteStartObject(route.Key);
                writer.WriteNumber("Concurrency", route.Concurrency);
                writer.WriteNumber("RequestCount", route.RequestCount);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void DocumentOrFormatException(byte[] body)
    {
        try
        {
            var routes = Fuzz.Bounded(() => QueueDocument.Parse(body), maxBytes: 1_000_000 + (64L * body.Length), "Parse");
            if (routes.Any(r => r.Value.Concurrency < 0 || r.Value.RequestCount < 0))
            {
                throw new FuzzFailure("a negative count was accepted");
            }
        }
        catch (FormatException e)
        {
            Fuzz.AssertOneLine(e.Message, "a /queue problem");
        }
    }
}
