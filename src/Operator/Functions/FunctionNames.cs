using System.Security.Cryptography;
using System.Text;

namespace Updraft.Operator.Functions;

/// <summary>
/// The names of a Function's children: stable (no random suffix), so an update changes objects in place and a
/// restarted operator finds what it made. <c>&lt;fn&gt;</c> is the Deployment, the InterceptorRoute, the ScaledObject
/// and the Service clients call (it points at the interceptor); <c>&lt;fn&gt;-direct</c> is the Service of the pods.
/// </summary>
internal static class FunctionNames
{
    public const string DirectSuffix = "-direct";
    public const int MaxServiceName = 63;

    /// <summary>The pods' own Service, shortened with a hash when the Function's name is long.</summary>
    public static string Direct(string function) => WithSuffix(function, DirectSuffix);

    private static string WithSuffix(string name, string suffix)
    {
        if (name.Length + suffix.Length <= MaxServiceName)
        {
            return name + suffix;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        var keep = MaxServiceName - suffix.Length - hash.Length - 1;
        return name[..keep].TrimEnd('-') + "-" + hash + suffix;
    }
}
