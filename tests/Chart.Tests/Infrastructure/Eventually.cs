using System.Diagnostics;

namespace Updraft.Chart.Tests.Infrastructure;

/// <summary>Bounded polling for what becomes true asynchronously (never a fixed sleep as an assertion).</summary>
internal static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task TrueAsync(Func<Task<bool>> condition, Func<string> describe, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Timeout;
        var elapsed = Stopwatch.StartNew();
        while (!await condition())
        {
            if (elapsed.Elapsed > limit)
            {
                Assert.Fail($"Not true within {limit.TotalSeconds:0} s: {describe()}");
            }

            await Task.Delay(50);
        }
    }
}
