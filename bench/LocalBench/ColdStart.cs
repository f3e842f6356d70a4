namespace Updraft.Bench.Local;

/// <summary>
/// One request at zero, by the same machine's wall clock: sent and answered as the client saw them; started and ready
/// from the autoscaler's event lines (millisecond resolution); the rest from the replica's own lines (microseconds):
/// listening, its first answer to a readiness check (<c>GET /ready</c>) written, and the proxied request's connection
/// reaching the app, the request reaching the handler and its response written.
/// </summary>
/// <param name="Pushed">The scale-up came from the scaler's <c>StreamIsActive</c> push, not from a poll.</param>
/// <param name="WarmRequestMs">A request right after, to an always-up upstream: the forwarding baseline.</param>
internal sealed record ColdStart(
    DateTime Sent,
    DateTime Started,
    DateTime Listening,
    DateTime CheckAnswered,
    DateTime Ready,
    DateTime Accepted,
    DateTime Handler,
    DateTime Written,
    DateTime Answered,
    bool Pushed,
    double WarmRequestMs)
{
    /// <summary>1. Request sent → the autoscaler starts the process.</summary>
    public double ScalerNoticeMs => Ms(Started - Sent);

    /// <summary>
    /// 2. <c>started</c> → the replica has written its first answer to a readiness check: the process's own start-up,
    /// up to the moment it can answer a request (not Updraft's share).
    /// </summary>
    public double ProcessStartMs => Ms(CheckAnswered - Started);

    /// <summary>Of <see cref="ProcessStartMs"/>: <c>started</c> → Kestrel listens, for reference.</summary>
    public double ToListeningMs => Ms(Listening - Started);

    /// <summary>3. The replica's answer to the readiness check written → the <c>ready</c> event.</summary>
    public double ReadinessMs => Ms(Ready - CheckAnswered);

    /// <summary>4. <c>ready</c> → the client has the whole response.</summary>
    public double ForwardingMs => Ms(Answered - Ready);

    /// <summary>4a. <c>ready</c> → the replica's app has the interceptor's connection (the feed, the interceptor's connect).</summary>
    public double ToReplicaMs => Ms(Accepted - Ready);

    /// <summary>4b. The replica's work on the proxied request: its connection in the app → its response written.</summary>
    public double ReplicaRequestMs => Ms(Written - Accepted);

    /// <summary>4c. The replica's response written → the client has it.</summary>
    public double ResponseBackMs => Ms(Answered - Written);

    public double TotalMs => Ms(Answered - Sent);

    /// <summary>Everything except the process's own start-up (2).</summary>
    public double UpdraftShareMs => Math.Round(TotalMs - ProcessStartMs, 3);

    /// <summary>Updraft's share without the replica's own work on the request (4b) either.</summary>
    public double UpdraftShareWithoutReplicaRequestMs => Math.Round(UpdraftShareMs - ReplicaRequestMs, 3);

    private static double Ms(TimeSpan value) => Math.Round(value.TotalMilliseconds, 3);
}
