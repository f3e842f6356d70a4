using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace Updraft.Shared.Hosting;

/// <summary>The host builder every Updraft program starts from.</summary>
public static class ServiceBuilder
{
    /// <summary>
    /// A slim web host whose configuration is the environment, or in tests <paramref name="settings"/> alone; then the
    /// command line's <paramref name="switches"/> (<c>--routes FILE</c> → <c>UPDRAFT_ROUTES_FILE</c>), which win.
    /// </summary>
    public static WebApplicationBuilder Create(string[] args, IReadOnlyDictionary<string, string?>? settings, IDictionary<string, string>? switches = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });
        if (settings is not null)
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(settings);
        }

        if (switches is not null)
        {
            builder.Configuration.AddCommandLine(args, switches);
        }

        return builder;
    }
}
