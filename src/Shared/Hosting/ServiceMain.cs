using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Updraft.Shared.Hosting;

/// <summary>
/// What each Updraft program's Main does with its host: run it until SIGTERM or Ctrl-C, and turn a start-up failure
/// into one line per problem on standard error, prefixed with the program's name, and exit code 2.
/// </summary>
public static class ServiceMain
{
    /// <param name="program">The name that prefixes every error line (<c>updraft-interceptor</c>).</param>
    /// <param name="build">Builds the host; bad settings throw <see cref="StartupProblemsException"/> or <see cref="OptionsValidationException"/>.</param>
    /// <param name="portsAdvice">Said after the runtime's message when a port is taken: which settings choose the ports.</param>
    /// <returns>The process's exit code.</returns>
    public static async Task<int> RunAsync(string program, Func<WebApplication> build, string portsAdvice)
    {
        try
        {
            await using var app = build();
            await RunUntilShutdownAsync(app);
            return 0;
        }
        catch (StartupProblemsException e)
        {
            return Fail(program, e.Problems);
        }
        catch (OptionsValidationException e)
        {
            return Fail(program, e.Failures);
        }
        catch (IOException e) when (e.InnerException is AddressInUseException)
        {
            return Fail(program, [$"{e.Message} {portsAdvice}"]);
        }
    }

    private static int Fail(string program, IEnumerable<string> problems)
    {
        foreach (var problem in problems)
        {
            Console.Error.WriteLine($"{program}: {problem}");
        }

        return 2;
    }

    // app.RunAsync, except that a failed start (a port in use) first stops what did start (background loops, other
    // listeners), so the host is not disposed under them (they would log a crash on the way out).
    private static async Task RunUntilShutdownAsync(WebApplication app)
    {
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.StopAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        await app.WaitForShutdownAsync();
    }
}
