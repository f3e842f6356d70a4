using System.Text;

namespace Updraft.Interceptor.Tests.Differential;

/// <summary>
/// What one proxy did with an <see cref="OddRequest"/>, as comparable lines: the statuses the client got, then each
/// request the upstream received (request line, header lines, framing, body, trailers).
/// </summary>
/// <remarks>
/// Header lines are put in order of name (lines of one name keep their order): where a proxy puts the lines it adds or
/// rewrites is not part of the request's meaning (RFC 9110 §5.3), and nginx writes its own first. Nothing else is
/// normalised: the X-Forwarded-* headers are compared too, since nginx is configured to follow the interceptor's rules.
/// </remarks>
internal static class Observation
{
    /// <param name="statuses">What the client got.</param>
    /// <param name="received">What the upstream got.</param>
    /// <param name="upstreamPort">Written as <c>UPSTREAM</c> wherever it appears (a proxy's own Host for a request without one).</param>
    public static IReadOnlyList<string> Of(IReadOnlyList<string> statuses, IReadOnlyList<WireRequest> received, int upstreamPort)
    {
        var lines = new List<string> { "client got: " + string.Join(" ", statuses) };
        for (var i = 0; i < received.Count; i++)
        {
            var request = received[i];
            var prefix = received.Count == 1 ? "upstream " : $"upstream #{i + 1} ";
            lines.Add(prefix + "request line: " + Escape(request.RequestLine));
            foreach (var header in request.Headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
            {
                lines.Add(prefix + "header: " + Escape(header.Key) + ": " + Escape(header.Value));
            }

            lines.Add(prefix + "framing: " + request.Framing);
            lines.Add(prefix + "body: " + Escape(Encoding.Latin1.GetString(request.Body)));
            foreach (var trailer in request.Trailers)
            {
                lines.Add(prefix + "trailer: " + Escape(trailer));
            }
        }

        if (received.Count == 0)
        {
            lines.Add("upstream received nothing");
        }

        var port = ":" + upstreamPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return [.. lines.Select(l => l.Replace(port, ":UPSTREAM", StringComparison.Ordinal))];
    }

    /// <summary>The lines of <paramref name="these"/> that <paramref name="others"/> does not have (as a multiset).</summary>
    public static IReadOnlyList<string> Except(IReadOnlyList<string> these, IReadOnlyList<string> others)
    {
        var remaining = others.ToList();
        var only = new List<string>();
        foreach (var line in these)
        {
            if (!remaining.Remove(line))
            {
                only.Add(line);
            }
        }

        return only;
    }

    /// <summary>
    /// Bytes outside printable ASCII as <c>\xNN</c>, so a line shows exactly what was on the wire; a long value as its
    /// start and its length (the long-target and long-header cases).
    /// </summary>
    private static string Escape(string latin1)
    {
        if (latin1.Length > 200)
        {
            return Escape(latin1[..40]) + $"...({latin1.Length} bytes)";
        }

        var text = new StringBuilder(latin1.Length);
        foreach (var c in latin1)
        {
            if (c is >= ' ' and <= '~')
            {
                text.Append(c);
            }
            else
            {
                text.Append(@"\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return text.ToString();
    }
}
