namespace Updraft.Bench.Backend;

/// <summary>
/// The replica mode's only log sink: it takes the host's "Now listening on" message (logged right after Kestrel has
/// bound its port and started accepting, before <c>ApplicationStarted</c>) as the moment the replica listens.
/// </summary>
internal sealed class ListeningMoment(Action onListening) : ILoggerProvider, ILogger
{
    private const string LifetimeCategory = "Microsoft.Hosting.Lifetime";
    private int _seen;
    private string _category = "";

    public ILogger CreateLogger(string categoryName) =>
        categoryName == LifetimeCategory ? new ListeningMoment(onListening) { _category = categoryName } : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public bool IsEnabled(LogLevel logLevel) => _category == LifetimeCategory && logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)
            && (eventId.Name == "ListeningOnAddress" || formatter(state, exception).StartsWith("Now listening on", StringComparison.Ordinal))
            && Interlocked.Exchange(ref _seen, 1) == 0)
        {
            onListening();
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public void Dispose()
    {
    }
}
