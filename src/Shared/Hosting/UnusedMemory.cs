namespace Updraft.Shared.Hosting;

/// <summary>Hands the memory the GC holds but does not use back to the OS.</summary>
public static class UnusedMemory
{
    /// <summary>
    /// A blocking, compacting collection of every generation that also decommits the GC's free space. Nothing less
    /// does it: after an ordinary collection, even a full one, the GC keeps its first generation's budget committed
    /// (64 MiB with the chart's <c>DOTNET_GCgen0size</c>), and every page of it that was ever written stays resident.
    /// </summary>
    public static void Release() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}
