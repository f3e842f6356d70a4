using Updraft.Shared.Crds;

namespace Updraft.Operator.Cluster;

/// <summary>The object an Event is about.</summary>
internal sealed record InvolvedObject(string ApiVersion, string Kind, string Namespace, string Name, string? Uid)
{
    public static InvolvedObject Of(string apiVersion, string kind, ObjectMeta metadata) =>
        new(apiVersion, kind, metadata.Namespace ?? "", metadata.Name ?? "", metadata.Uid);

    public string Key => Namespace + "/" + Name;
}
