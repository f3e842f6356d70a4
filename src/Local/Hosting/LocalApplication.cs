namespace Updraft.Local.Hosting;

/// <summary>The local autoscaler's host: the replicas feed (gRPC), the scaling loops and the replica processes.</summary>
internal static class LocalApplication
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        return builder.Build();
    }
}
