using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Updraft.ExternalScaler.Kafka;

/// <summary>A named set of librdkafka security settings.</summary>
internal sealed record KafkaProfile(string Name, FrozenDictionary<string, string> Settings);

/// <summary>
/// Credentials profiles: <c>&lt;UPDRAFT_KAFKA_PROFILES_DIR&gt;/&lt;name&gt;/</c> holds one file per librdkafka setting, named
/// after it (<c>security.protocol</c>, <c>sasl.mechanism</c>, <c>sasl.username</c>, <c>sasl.password</c>,
/// <c>ssl.ca.pem</c>, …), which is how a Kubernetes Secret mounted as a volume looks. Only <c>security.*</c>,
/// <c>sasl.*</c>, <c>ssl.*</c> and <c>enable.ssl.*</c> settings are taken. A profile is read once, the first time a
/// trigger names it; values are never logged.
/// </summary>
internal sealed class KafkaProfiles(KafkaOptions options)
{
    private readonly ConcurrentDictionary<string, Lazy<(KafkaProfile? Profile, string? Problem)>> _profiles = new(StringComparer.Ordinal);

    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 253 && name[0] != '.' && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>The profile, or why it cannot be used.</summary>
    /// <remarks>A missing profile is looked for again at the next call (the Secret may be mounted later).</remarks>
    public (KafkaProfile? Profile, string? Problem) Get(string name)
    {
        var lazy = _profiles.GetOrAdd(name, n => new Lazy<(KafkaProfile?, string?)>(() => Load(n)));
        var result = lazy.Value;
        if (result.Problem is not null)
        {
            _profiles.TryRemove(new KeyValuePair<string, Lazy<(KafkaProfile? Profile, string? Problem)>>(name, lazy));
        }

        return result;
    }

    private (KafkaProfile?, string?) Load(string name)
    {
        var directory = Path.Combine(options.ProfilesDirectory, name);
        if (!Directory.Exists(directory))
        {
            return (null, $"credentials profile \"{name}\" (metadata {KafkaTrigger.CredentialsProfileKey}) does not exist in the scaler's profiles directory");
        }

        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            var key = Path.GetFileName(file);
            if (key.StartsWith("security.", StringComparison.Ordinal) || key.StartsWith("sasl.", StringComparison.Ordinal)
                || key.StartsWith("ssl.", StringComparison.Ordinal) || key.StartsWith("enable.ssl.", StringComparison.Ordinal))
            {
                settings[key] = File.ReadAllText(file).TrimEnd('\r', '\n');
            }
        }

        return (new KafkaProfile(name, settings.ToFrozenDictionary(StringComparer.Ordinal)), null);
    }
}
