namespace Updraft.Kubernetes.Tests.Infrastructure;

/// <summary>Runs a <c>RunAsync(CancellationToken)</c> loop in the background; disposing cancels it and requires it to end cleanly.</summary>
internal sealed class Runner : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private Runner(Func<CancellationToken, Task> run)
    {
        Task = Task.Run(() => run(_stop.Token));
    }

    public Task Task { get; }

    public static Runner Start(Func<CancellationToken, Task> run) => new(run);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        // A loop that throws, or ignores cancellation, fails the test here.
        await Task.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
