using Microsoft.Extensions.Logging;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>
/// Every log entry an in-process interceptor writes at or above its configured level (tests run it at Warning), kept
/// in memory next to the console output, so a test can assert what a request did to the log.
/// </summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly List<LogEntry> _entries = [];

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(LogEntry entry)
    {
        lock (_entries)
        {
            _entries.Add(entry);
        }
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Add(new LogEntry(category, logLevel, eventId.Id, formatter(state, exception), exception));
    }
}

internal sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message, Exception? Exception)
{
    public override string ToString() => $"{Level} {Category}[{EventId}] {Message}{(Exception is null ? "" : " | " + Exception.GetType().Name + ": " + Exception.Message)}";
}

internal static class LogCaptureAssertions
{
    /// <summary>Fails, listing them, if anything was logged at Warning or above (client-caused problems are Debug at most).</summary>
    public static void AssertNoWarnings(this LogCapture logs)
    {
        var loud = logs.Entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        Assert.True(loud.Count == 0, "logged at Warning or above:\n" + string.Join("\n", loud));
    }
}
