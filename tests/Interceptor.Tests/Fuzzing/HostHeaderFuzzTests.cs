using CsCheck;
using Updraft.Interceptor.Forwarding;
using Updraft.Shared.Routes;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.Interceptor.Tests.Fuzzing;

/// <summary>
/// Host headers (<see cref="HostHeader"/>, <see cref="HostNames.ForMatching"/>): over every Host Kestrel lets through
/// (its host characters, IPv6 brackets, ports), the interceptor calls valid exactly those the .NET client sends as they
/// are (the reference: <c>HttpRequestHeaders.Host</c> reads back what was added), and the name routing compares is a
/// fixed point of normalisation for every valid Host.
/// </summary>
public sealed class HostHeaderFuzzTests
{
    private const string Parser = "host-header";

    // Kestrel's host characters (RFC 3986 reg-name minus what Http.Sys refuses), and what IPv6 literals and ports add.
    private static readonly Gen<char> HostChar = Gen.Frequency(
        (8, Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"]),
        (2, Gen.Char["!$&'()_~"]),
        (2, Gen.Char[":[]"]));

    private static readonly Gen<string> Hosts = Gen.Frequency(
        (4, Gen.String[HostChar, 1, 30]),
        (3, Gen.Select(RouteModels.Label.Array[1, 4], Gen.OneOf("", ".", ":", ":0", ":80", ":65535", ":65536", ":99999", ":00080", ":4294967376", "..", ":8080."), (labels, tail) => string.Join(".", labels) + tail)),
        (2, Gen.Select(Gen.OneOf("::1", "::", "fe80::1", "2001:db8::8a2e:370:7334", "::ffff:127.0.0.1", "1:2:3:4:5:6:7:8", "1::2::3", "g::1", ":::", "z:1"), Gen.OneOf("", ":80", ":", ":70000", "x"), Gen.Bool, (address, port, bracketed) => bracketed ? "[" + address + "]" + port : address + port)),
        (2, Hostile.Mutated(Corpus.Texts(Parser)).Where(KestrelAccepts)));

    /// <summary>Only these reach the interceptor: Kestrel answers 400 to a Host with any other character.</summary>
    private static bool KestrelAccepts(string host) => host.Length > 0 && host.All(c => char.IsAsciiLetterOrDigit(c) || "!$&'()-._~:[]".Contains(c, StringComparison.Ordinal));

    [Fact]
    public void IsValid_AnyHostKestrelAccepts_AgreesWithTheClientsParser()
    {
        Corpus.Run(Parser, file => Agrees(file.Text));
        Fuzz.Check(Hosts, Agrees, iterations: 4_000);
    }

    [Fact]
    public void ForMatching_AnyValidHost_IsAFixedPointAndAllocatesNothing()
    {
        Fuzz.Check(Hosts.Where(HostHeader.IsValid), host =>
        {
            var once = HostNames.ForMatching(host).ToString();
            var twice = HostNames.ForMatching(once).ToString();
            if (once != twice)
            {
                throw new FuzzFailure($"Host {Fuzz.Show(host)} compares as {Fuzz.Show(once)}, which compares as {Fuzz.Show(twice)}");
            }
        }, iterations: 3_000);
    }

    private static void Agrees(string host)
    {
        if (host.Length == 0)
        {
            return;
        }

        var ours = Fuzz.Bounded(() => HostHeader.IsValid(host), maxBytes: 100_000, "IsValid");
        var clients = ClientSendsUnchanged(host);
        if (ours != clients)
        {
            throw new FuzzFailure($"Host {Fuzz.Show(host)}: IsValid says {ours}, the .NET client {(clients ? "sends it unchanged" : "cannot send it")}");
        }
    }

    /// <summary>What decides whether the upstream request carries this Host: the client writes it only when it parses.</summary>
    private static bool ClientSendsUnchanged(string host)
    {
        using var request = new HttpRequestMessage();
        return request.Headers.TryAddWithoutValidation("Host", host) && request.Headers.Host == host;
    }
}
