using System.Reflection;

namespace Updraft.Shared.Hosting;

/// <summary>The version a component reports (its <c>target_info</c> metric's <c>service_version</c>).</summary>
public static class BuildVersion
{
    /// <summary><paramref name="assembly"/>'s informational version without the source revision (<c>1.2.3</c>, not <c>1.2.3+abc123</c>).</summary>
    public static string Of(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? assembly.GetName().Version?.ToString()
            ?? "unknown";
    }
}
