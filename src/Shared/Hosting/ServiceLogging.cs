using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Updraft.Shared.Hosting;

/// <summary>The console logging every Updraft program starts from: one line per entry, UTC with milliseconds.</summary>
public static class ServiceLogging
{
    /// <summary>
    /// One-line console entries, the level from <c>UPDRAFT_LOG_LEVEL</c> (Information when unset or unknown), and the
    /// framework's own categories kept to what an operator needs. Programs add their own filters after this.
    /// </summary>
    public static void UseUpdraftConsole(this ILoggingBuilder logging, IConfiguration configuration)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.UseUtcTimestamp = true;
        });
        logging.SetMinimumLevel(configuration["UPDRAFT_LOG_LEVEL"] is { } level && Enum.TryParse<LogLevel>(level, ignoreCase: true, out var parsed) ? parsed : LogLevel.Information);
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // With this category enabled at any level, ASP.NET Core starts an Activity and a log scope for every request
        // (about 800 bytes each, kept for a stream's life); the programs log what matters themselves.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        // A start-up failure is reported by ServiceMain as one line per problem; the host's own report repeats it with a stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
        logging.AddFilter("Grpc", LogLevel.Warning);
    }
}
