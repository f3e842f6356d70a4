using Updraft.Shared.Settings;

namespace Updraft.Interceptor.Local;

/// <summary><c>UPDRAFT_LOCAL_REPLICAS</c>: where the local autoscaler serves its replicas feed (standalone mode only).</summary>
internal static class LocalReplicasSetting
{
    public const string Variable = "UPDRAFT_LOCAL_REPLICAS";

    /// <summary>The feed's address, or null when unset (or invalid: then <paramref name="problems"/> says why).</summary>
    public static ReplicaAddress? Read(SettingReader reader, List<string> problems)
    {
        var text = reader.Text(Variable);
        if (text is null)
        {
            return null;
        }

        if (ReplicaAddress.TryParse(text, out var address))
        {
            return address;
        }

        problems.Add($"{Variable}=\"{text}\" is not valid; use the local autoscaler's replicas feed address as {ReplicaAddress.AllowedForm}, e.g. 127.0.0.1:9092");
        return null;
    }
}
