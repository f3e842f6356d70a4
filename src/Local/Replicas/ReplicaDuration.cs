using System.Globalization;

namespace Updraft.Local.Replicas;

/// <summary>Durations on event lines: <c>312ms</c> below a second, else seconds with at most one decimal (<c>2s</c>, <c>1.5s</c>).</summary>
internal static class ReplicaDuration
{
    public static string Format(TimeSpan value) => value < TimeSpan.FromSeconds(1)
        ? ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms"
        : value.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + "s";
}
