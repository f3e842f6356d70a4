using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Updraft.Interceptor.Forwarding;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.Interceptor.Tests.Fuzzing;

/// <summary>
/// The request target sent upstream (<see cref="RequestTarget"/>): for any raw target with percent-encoding, dot
/// segments (<c>.</c>, <c>..</c>, <c>%2E</c>) and stray slashes, the path sent decodes to the path Kestrel routed on
/// (decode everything but <c>%2F</c>, then RFC 3986 §5.2.4, written naively here), the query goes out as sent, and
/// nothing throws on any target at all.
/// </summary>
public sealed partial class RequestTargetFuzzTests
{
    private const string Parser = "request-target";
    private const string Upstream = "http://upstream:8080";

    private static readonly Gen<string> Segment = Gen.Frequency(
        (4, Gen.String[Gen.Char["abcXYZ019-._~!$&'()*+,;=:@"], 1, 6]),
        (3, Gen.OneOf("%2F", "%2f", "%252F", "%2E", "%2e", "%41", "%20", "%25", "%C3%A9", "%7E", "%3F")),
        (2, Gen.OneOf(".", "..", "%2E%2E", ".%2e", "%2e.", "...", "")),
        (1, Gen.Select(Gen.String[Gen.Char["abc"], 0, 3], Gen.OneOf("%2F", "%2e", "%41"), Gen.String[Gen.Char["abc."], 0, 3], (a, escape, b) => a + escape + b)));

    private static readonly Gen<string> Paths = Gen.Select(Segment.Array[0, 8], Gen.Bool, (segments, trailingSlash) => "/" + string.Join("/", segments) + (trailingSlash ? "/" : ""));

    private static readonly Gen<string> Queries = Gen.Frequency(
        (3, Gen.Const("")),
        (2, Gen.Select(Gen.String[Gen.Char["abc=&%2F5/?:@"], 0, 12], query => "?" + query)),
        (1, Gen.Select(Hostile.Text, query => "?" + query)));

    [Fact]
    public void AsSent_EncodedPath_DecodesToTheRoutedPath()
    {
        Corpus.Run(Parser, file => DecodesToTheRoutedPath(file.Text, ""));
        var targets = Gen.Select(Paths, Queries, Gen.Bool, (path, query, absolute) => (Target: (absolute ? "http://app.example.com" : "") + path, Query: query));
        Fuzz.Check(targets, t => DecodesToTheRoutedPath(t.Target, t.Query), iterations: 4_000, print: t => Fuzz.Show(t.Target + t.Query));
    }

    [Fact]
    public void AsSent_AnyTarget_NeverThrows()
    {
        var targets = Gen.Select(
            Gen.Frequency((2, Hostile.Text), (2, Hostile.Mutated(Corpus.Texts(Parser))), (1, Paths)),
            Gen.Frequency((2, Gen.Const("")), (1, Hostile.Text.Select(q => "?" + q))),
            (target, query) => (Target: target, Query: query));
        Fuzz.Check(targets, t => Fuzz.Bounded(() => Send(t.Target, t.Query), maxBytes: 1_000_000 + (64L * t.Target.Length), "AsSent"), iterations: 4_000, print: t => Fuzz.Show(t.Target + " " + t.Query));
    }

    private static void DecodesToTheRoutedPath(string rawTarget, string query)
    {
        var sent = Send(rawTarget + query, query);
        var rawPath = RequestTarget.PathOf(rawTarget + query).ToString();
        if (!rawPath.Contains('%', StringComparison.Ordinal))
        {
            if (sent is not null)
            {
                throw new FuzzFailure($"{Fuzz.Show(rawTarget)} has no percent-encoding, yet the default target was replaced by {sent}");
            }

            return;
        }

        if (sent is null)
        {
            if (ValidPath().IsMatch(rawPath) && ValidQuery().IsMatch(query))
            {
                throw new FuzzFailure($"{Fuzz.Show(rawTarget + query)} has valid percent-encoding but goes out re-encoded");
            }

            return;
        }

        var sentPathAndQuery = sent.OriginalString[Upstream.Length..];
        var queryStart = sentPathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var sentPath = queryStart < 0 ? sentPathAndQuery : sentPathAndQuery[..queryStart];
        var sentQuery = queryStart < 0 ? "" : sentPathAndQuery[queryStart..];
        var routed = RemoveDotSegments(Decode(rawPath));
        if (Decode(sentPath) != routed)
        {
            throw new FuzzFailure($"{Fuzz.Show(rawTarget)} was routed as {Fuzz.Show(routed)} but sent as {Fuzz.Show(sentPath)}, which decodes to {Fuzz.Show(Decode(sentPath))}");
        }

        if (sentQuery != query)
        {
            throw new FuzzFailure($"query {Fuzz.Show(query)} was sent as {Fuzz.Show(sentQuery)}");
        }
    }

    private static Uri? Send(string rawTarget, string query)
    {
        var context = new DefaultHttpContext();
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = rawTarget;
        if (query.Length > 0)
        {
            context.Request.QueryString = new QueryString(query);
        }

        return RequestTarget.AsSent(context, Upstream + "/");
    }

    /// <summary>Kestrel's routing decode: every escape but <c>%2F</c>, which stays as written.</summary>
    private static string Decode(string path)
    {
        var kept = path.Replace("%2F", "\u0001", StringComparison.Ordinal).Replace("%2f", "\u0002", StringComparison.Ordinal);
        return Uri.UnescapeDataString(kept).Replace("\u0001", "%2F", StringComparison.Ordinal).Replace("\u0002", "%2f", StringComparison.Ordinal);
    }

    /// <summary>RFC 3986 §5.2.4, step by step as the RFC writes it.</summary>
    private static string RemoveDotSegments(string input)
    {
        var output = new StringBuilder();
        while (input.Length > 0)
        {
            if (input.StartsWith("../", StringComparison.Ordinal) || input.StartsWith("./", StringComparison.Ordinal))
            {
                input = input[(input.IndexOf('/', StringComparison.Ordinal) + 1)..];
            }
            else if (input.StartsWith("/./", StringComparison.Ordinal) || input == "/.")
            {
                input = "/" + input[Math.Min(3, input.Length)..];
            }
            else if (input.StartsWith("/../", StringComparison.Ordinal) || input == "/..")
            {
                input = "/" + input[Math.Min(4, input.Length)..];
                var last = output.ToString().LastIndexOf('/');
                output.Length = Math.Max(last, 0);
            }
            else if (input is "." or "..")
            {
                input = "";
            }
            else
            {
                var next = input.IndexOf('/', 1);
                var segment = next < 0 ? input : input[..next];
                output.Append(segment);
                input = input[segment.Length..];
            }
        }

        return output.Length == 0 ? "/" : output.ToString();
    }

    // RFC 3986 path and query characters, '%' only in a complete escape: a target the interceptor must send as it came.
    [GeneratedRegex(@"^([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*\z")]
    private static partial Regex ValidPath();

    [GeneratedRegex(@"^([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*\z")]
    private static partial Regex ValidQuery();
}
