using System.Diagnostics;

namespace Updraft.Kubernetes.Tests.Infrastructure;

/// <summary>Bounded polling for conditions that become true asynchronously (never a fixed sleep as an assertion).</summary>
internal static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public static async Task TrueAsync(Func<bool> condition, Func<string> describe)
    {
        var elapsed = Stopwatch.StartNew();
        while (!condition())
        {
            if (elapsed.Elapsed > Timeout)
            {
                Assert.Fail($"Not true within {Timeout.TotalSeconds:0} s: {describe()}");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Waits for <paramref name="task"/> with the same bound.</summary>
    public static Task WithinTimeout(this Task task) => task.WaitAsync(Timeout);
}
