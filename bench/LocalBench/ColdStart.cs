namespace Updraft.Bench.Local;

/// <summary>
/// One request at zero, by the same machine's wall clock: sent and answered as the client saw them, started and ready
/// from the autoscaler's event lines (millisecond resolution); listening, and the first request reaching the replica's
/// handler and its response written, from the replica's own lines (microseconds).
/// </summary>
/// <param name="Pushed">The scale-up came from the scaler's <c>StreamIsActive</c> push, not from a poll.</param>
/// <param name="WarmRequestMs">A second request right after, to the replica now ready: the forwarding baseline.</param>
internal sealed record ColdStart(
    DateTime Sent,
    DateTime Started,
    DateTime Listening,
    DateTime Ready,
    DateTime ApplicationStarted,
    DateTime FirstConnection,
    DateTime Accepted,
    DateTime Handler,
    DateTime Written,
    DateTime Answered,
    bool Pushed,
    double WarmRequestMs)
{
    /// <summary>Request sent → the autoscaler starts the process.</summary>
    public double ScalerNoticeMs => Ms(Started - Sent);

    /// <summary>
    /// The readiness check connected before the replica's listening line: Kestrel's port accepts connections (into
    /// the kernel's backlog) from the moment it is bound, a little before the host logs that it listens. The ready
    /// moment is then taken as the listening moment, which moves at most one check period (5 ms) from Updraft's
    /// share to the process's start-up.
    /// </summary>
    public bool ReadyBeforeListening => Ready < Listening;

    /// <summary>The replica's listening moment, at the latest the <c>ready</c> event.</summary>
    private DateTime ListeningOrReady => ReadyBeforeListening ? Ready : Listening;

    /// <summary><c>started</c> → the replica listens: the process's own start-up, not Updraft's share.</summary>
    public double ProcessStartMs => Ms(ListeningOrReady - Started);

    /// <summary>The replica listens → the <c>ready</c> event.</summary>
    public double ReadinessMs => Ms(Ready - ListeningOrReady);

    /// <summary>The replica's listening line → <c>ready</c>, not clamped (negative when <see cref="ReadyBeforeListening"/>).</summary>
    public double ListeningLineToReadyMs => Ms(Ready - Listening);

    /// <summary><c>ready</c> → the client has the whole response.</summary>
    public double ForwardingMs => Ms(Answered - Ready);

    /// <summary><c>ready</c> → the replica accepts the interceptor's connection (the feed, the interceptor's connect).</summary>
    public double ToReplicaMs => Ms(Accepted - Ready);

    /// <summary>
    /// Connection accepted → the response written: the replica's own first request (Kestrel's first connection and
    /// request parse, the handler), its cold code paths included.
    /// </summary>
    public double FirstRequestMs => Ms(Written - Accepted);

    /// <summary>Of <see cref="FirstRequestMs"/>: accepted → the request reaches the app's handler.</summary>
    public double AcceptedToHandlerMs => Ms(Handler - Accepted);

    /// <summary>
    /// <c>ready</c> → the replica's first connection reaches its app (usually the readiness check's, made before
    /// <c>ready</c>), for reference: how long the replica itself takes to take in a connection at that moment.
    /// </summary>
    public double ReadyToFirstConnectionMs => Ms(FirstConnection - Ready);

    /// <summary>Listening (Kestrel bound) → <c>ApplicationStarted</c> in the replica, for reference.</summary>
    public double ListeningToApplicationStartedMs => Ms(ApplicationStarted - Listening);

    /// <summary>The replica's response written → the client has it.</summary>
    public double ResponseBackMs => Ms(Answered - Written);

    public double TotalMs => Ms(Answered - Sent);

    /// <summary>Everything except the process's own start-up.</summary>
    public double UpdraftShareMs => Math.Round(TotalMs - ProcessStartMs, 3);

    /// <summary>Updraft's share without the replica's own first request either.</summary>
    public double UpdraftShareWithoutFirstRequestMs => Math.Round(UpdraftShareMs - FirstRequestMs, 3);

    /// <summary>
    /// Updraft's share without <see cref="ToReplicaMs"/> either: a lower bound, as the replica's cold connection intake
    /// and the interceptor's connect cannot be told apart from outside the interceptor.
    /// </summary>
    public double UpdraftShareLowerBoundMs => Math.Round(UpdraftShareWithoutFirstRequestMs - ToReplicaMs, 3);

    private static double Ms(TimeSpan value) => Math.Round(value.TotalMilliseconds, 3);
}
