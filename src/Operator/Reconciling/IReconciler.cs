namespace Updraft.Operator.Reconciling;

/// <summary>Brings the cluster to what one object asks for. Plugged into a <see cref="Controller"/>.</summary>
internal interface IReconciler
{
    /// <summary>The controller's name in logs and metrics (e.g. <c>httpscaledobject</c>).</summary>
    public string Name { get; }

    /// <summary>
    /// Reconciles the object <paramref name="key"/> (<c>namespace/name</c>) from the caches; the object may be gone. It
    /// must be idempotent and write nothing when nothing differs. An exception retries the key with back-off.
    /// </summary>
    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken);

    /// <summary>Every object this reconciler manages now (for the first pass and the periodic resync).</summary>
    public IEnumerable<string> Keys();
}

/// <param name="RequeueAfter">Reconcile again after this long even without a change; null for not at all.</param>
internal readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    public static ReconcileResult Done => default;
}
