namespace Updraft.Kubernetes.Watching;

/// <summary>Timings of a <see cref="ResourceWatch{T}"/>.</summary>
/// <param name="MinBackoff">First delay after a failure; doubles up to <paramref name="MaxBackoff"/>.</param>
/// <param name="MaxBackoff">Longest delay between attempts (also how often a resource that is not served is re-checked).</param>
/// <param name="WatchTimeout">Asked of the server per watch (plus up to a quarter more, spread so watches do not end together).</param>
/// <param name="SilenceGrace">How long past the watch timeout a silent connection is given before it is dropped.</param>
/// <param name="PageSize">Items per list page.</param>
/// <param name="NotServedGrace">How long a resource that was served and had items may answer 404 before it counts as
/// gone: a restarting kube-apiserver answers 404 for a CRD's objects until it has installed the CRD again.</param>
public sealed record WatchTuning(TimeSpan MinBackoff, TimeSpan MaxBackoff, TimeSpan WatchTimeout, TimeSpan SilenceGrace, int PageSize, TimeSpan NotServedGrace)
{
    public static readonly WatchTuning Default = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30), 500, TimeSpan.FromSeconds(30));

    /// <summary>The defaults with <c>UPDRAFT_KUBE_RETRY_MAX</c> as the longest back-off (and the first, when shorter).</summary>
    public static WatchTuning Read(Updraft.Shared.Settings.SettingReader reader)
    {
        var retryMax = reader.Duration("UPDRAFT_KUBE_RETRY_MAX", Default.MaxBackoff, minimum: TimeSpan.FromMilliseconds(10));
        return Default with { MaxBackoff = retryMax, MinBackoff = retryMax < Default.MinBackoff ? retryMax : Default.MinBackoff };
    }
}
