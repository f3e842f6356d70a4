namespace Updraft.ExternalScaler.Kubernetes;

/// <summary>Kubernetes' name rules for the names the scaler puts into API paths and label selectors.</summary>
internal static class KubernetesNames
{
    /// <summary>A namespace name (RFC 1123 label): <c>[a-z0-9]([-a-z0-9]*[a-z0-9])?</c>, at most 63 characters.</summary>
    public static bool IsDns1123Label(string name) => IsLabel(name, letterFirst: false);

    /// <summary>A Service name (RFC 1035 label): as <see cref="IsDns1123Label"/>, starting with a letter.</summary>
    public static bool IsDns1035Label(string name) => IsLabel(name, letterFirst: true);

    private static bool IsLabel(string name, bool letterFirst)
    {
        if (name.Length is 0 or > 63 || name[^1] == '-' || name[0] == '-' || (letterFirst && !char.IsAsciiLetterLower(name[0])))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-')
            {
                return false;
            }
        }

        return true;
    }
}
