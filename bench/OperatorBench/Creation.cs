using System.Diagnostics;
using System.Text;

namespace Updraft.Bench.Operator;

/// <summary>When each object's POST was sent and returned (<see cref="Stopwatch"/> times), indexed by object.</summary>
internal sealed record PostTimes(long[] Sent, long[] Returned, long First, long LastReturned)
{
    public int Count => Sent.Length;

    /// <summary>First POST sent → last POST returned (ms).</summary>
    public double FirstToLastReturnedMs => Stopwatch.GetElapsedTime(First, LastReturned).TotalMilliseconds;

    /// <summary>Each POST's round trip (ms).</summary>
    public List<double> RoundTrips() => [.. Enumerable.Range(0, Count).Select(i => Stopwatch.GetElapsedTime(Sent[i], Returned[i]).TotalMilliseconds)];

    /// <summary>Per object, its POST returned → <paramref name="at"/>(object) (ms).</summary>
    public List<double> SinceReturned(Func<int, long> at) => [.. Enumerable.Range(0, Count).Select(i => Stopwatch.GetElapsedTime(Returned[i], at(i)).TotalMilliseconds)];

    /// <summary>Per object, its POST sent → <paramref name="at"/>(object) (ms).</summary>
    public List<double> SinceSent(Func<int, long> at) => [.. Enumerable.Range(0, Count).Select(i => Stopwatch.GetElapsedTime(Sent[i], at(i)).TotalMilliseconds)];

    /// <summary>First POST sent → <paramref name="at"/> (ms).</summary>
    public double SinceFirstMs(long at) => Stopwatch.GetElapsedTime(First, at).TotalMilliseconds;
}

/// <summary>Creates many objects at once, the way every phase of this benchmark does.</summary>
internal static class Creation
{
    /// <summary>
    /// POSTs <paramref name="count"/> objects to <paramref name="collection"/> with <paramref name="creators"/>
    /// concurrent creators, each taking the next index; throws on the first POST the server refuses.
    /// </summary>
    public static async Task<PostTimes> PostAllAsync(HttpClient http, string collection, int count, int creators, Func<int, string> name, Func<int, string> body, CancellationToken cancellationToken)
    {
        var sent = new long[count];
        var returned = new long[count];
        var next = -1;
        var first = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, creators).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var content = new StringContent(body(i), Encoding.UTF8, "application/json");
                sent[i] = Stopwatch.GetTimestamp();
                using var response = await http.PostAsync(collection, content, cancellationToken);
                returned[i] = Stopwatch.GetTimestamp();
                if (!response.IsSuccessStatusCode)
                {
                    throw new HttpRequestException($"POST {collection} ({name(i)}): {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
                }
            }
        }));
        return new PostTimes(sent, returned, first, returned.Max());
    }
}
