using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Watching;

namespace Updraft.Interceptor.Kubernetes;

/// <summary>
/// Response bodies from ConfigMaps labelled <c>http.keda.sh/response-body: "true"</c> (only those are watched), for
/// <c>bodyFromConfigMap</c>. Each ConfigMap is decoded once per version; lookups on the request path are two
/// dictionary reads.
/// </summary>
internal sealed class ConfigMapBodies
{
    private ImmutableDictionary<string, FrozenDictionary<string, byte[]>> _maps = ImmutableDictionary.Create<string, FrozenDictionary<string, byte[]>>(StringComparer.Ordinal);

    /// <summary>The keys of ConfigMap <paramref name="name"/> in <paramref name="namespace"/>, or null when there is no such (labelled) ConfigMap.</summary>
    public FrozenDictionary<string, byte[]>? Find(string @namespace, string name) =>
        Volatile.Read(ref _maps).TryGetValue(@namespace + "/" + name, out var map) ? map : null;

    public void Apply(ResourceWatch<ConfigMap> watch, WatchChange<ConfigMap> change)
    {
        var maps = Volatile.Read(ref _maps);
        switch (change.Kind)
        {
            case WatchChangeKind.Reset:
                var builder = ImmutableDictionary.CreateBuilder<string, FrozenDictionary<string, byte[]>>(StringComparer.Ordinal);
                foreach (var (key, map) in watch.Items)
                {
                    builder[key] = Decode(map);
                }

                maps = builder.ToImmutable();
                break;
            case WatchChangeKind.Upsert when change.Value is { } value:
                maps = maps.SetItem(change.Key, Decode(value));
                break;
            case WatchChangeKind.Delete:
                maps = maps.Remove(change.Key);
                break;
        }

        Volatile.Write(ref _maps, maps);
    }

    private static FrozenDictionary<string, byte[]> Decode(ConfigMap map)
    {
        var bodies = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (key, text) in map.Data ?? [])
        {
            bodies[key] = Encoding.UTF8.GetBytes(text);
        }

        foreach (var (key, base64) in map.BinaryData ?? [])
        {
            try
            {
                bodies[key] = Convert.FromBase64String(base64);
            }
            catch (FormatException)
            {
                // The API server validates binaryData; a value that is not base64 cannot arrive from it.
            }
        }

        return bodies.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
