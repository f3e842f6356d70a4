namespace Updraft.Shared.Routes;

/// <summary>The <c>namespace/name</c> keys used by <c>/queue</c>, the counters and the scaler.</summary>
public static class RouteKeys
{
    public const string DefaultNamespace = "default";

    public static string Format(string @namespace, string name) => @namespace + "/" + name;
}
