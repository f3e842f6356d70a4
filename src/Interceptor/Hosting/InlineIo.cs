using Updraft.Shared.Settings;

namespace Updraft.Interceptor.Hosting;

/// <summary>
/// <c>UPDRAFT_INLINE_IO</c> (default on): socket completions and request handling run on the socket engine's threads
/// (one per core) instead of being handed to the thread pool one by one. A proxied request waits on four socket
/// operations; each hand-off costs a wake-up and a context switch, about a sixth of the interceptor's CPU per request
/// (bench/README.md). The price: work that blocks a socket thread stalls every connection on it, so nothing on the
/// request path may block. It does not: it awaits I/O, and route table builds run on the thread pool (the coalescing
/// channel hands them over). Kubernetes watch events and list pages are decoded on the socket thread they arrive on;
/// a first list of thousands of objects occupies it for milliseconds, once.
/// </summary>
internal static class InlineIo
{
    public const string Variable = "UPDRAFT_INLINE_IO";

    /// <summary>The runtime's switch. It is read once, when the process first uses a socket, so it is set from Main.</summary>
    public const string RuntimeVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Whether the setting is on; a value that does not parse counts as the default here and fails start-up later.</summary>
    private static bool IsEnabled(Func<string, string?> setting) => new SettingReader(setting, []).Boolean(Variable, fallback: true);

    /// <summary>
    /// Turns on the runtime's inline socket completions when the setting is on, before any socket exists.
    /// A value the operator gave the runtime variable is kept.
    /// </summary>
    public static void ApplyToRuntime(Func<string, string?> getVariable, Action<string, string> setVariable)
    {
        if (IsEnabled(getVariable) && getVariable(RuntimeVariable) is null)
        {
            setVariable(RuntimeVariable, "1");
        }
    }

    /// <summary>
    /// <c>on</c> when both halves are in effect (Kestrel's inline scheduling from <paramref name="setting"/> and the
    /// runtime's inline completions from this process's environment), <c>off</c> when neither is, else which half is.
    /// </summary>
    public static string Describe(bool setting) =>
        (setting, Environment.GetEnvironmentVariable(RuntimeVariable) == "1") switch
        {
            (true, true) => "on",
            (false, false) => "off",
            (true, false) => "partly (requests inline, socket completions dispatched)",
            (false, true) => "partly (socket completions inline, requests dispatched)",
        };
}
