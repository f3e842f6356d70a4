namespace Updraft.Kubernetes.Model;

/// <summary>Kubernetes' name rules for the names Updraft puts into API paths and label selectors.</summary>
public static class KubernetesNames
{
    /// <summary>A namespace name (RFC 1123 label): <c>[a-z0-9]([-a-z0-9]*[a-z0-9])?</c>, at most 63 characters.</summary>
    public static bool IsDns1123Label(string name) => IsLabel(name, letterFirst: false);

    /// <summary>A Service name (RFC 1035 label): as <see cref="IsDns1123Label"/>, starting with a letter.</summary>
    public static bool IsDns1035Label(string name) => IsLabel(name, letterFirst: true);

    /// <summary>An object name such as a Lease's (RFC 1123 subdomain): labels joined by '.', at most 253 characters.</summary>
    public static bool IsDns1123Subdomain(string name)
    {
        if (name.Length is 0 or > 253)
        {
            return false;
        }

        foreach (var label in name.Split('.'))
        {
            if (!IsLabel(label, letterFirst: false))
            {
                return false;
            }
        }

        return true;
    }

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
