using System.Diagnostics;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.ColdStart;

/// <summary>What became of a request that found its target not ready.</summary>
internal enum HoldOutcome
{
    /// <summary>The target became ready while the request waited: forward it.</summary>
    Ready,

    /// <summary>The readiness timeout passed and the route has a fallback: forward it there.</summary>
    Fallback,

    /// <summary>The request has been answered (placeholder, overflow, 504) or the client left (499).</summary>
    Answered,
}

/// <summary>
/// The cold-start path of a counted request whose target is not ready: placeholder, bounded hold queue, readiness
/// wait, fallback. Off the hot path: a request to a ready target never gets here.
/// </summary>
/// <remarks>
/// Order: a placeholder answers at once (unless the route holds up to an explicit <c>maxPendingRequests</c> with
/// <c>overflow: Placeholder</c>); otherwise the request takes a slot in the route's <see cref="HoldQueue"/> or, when
/// it is full, gets 503 (<c>overflow: Reject</c>) or the placeholder, counted in
/// <c>interceptor_cold_start_rejections_total</c>. A held request waits until the first of: the target is ready
/// (forwarded at once), the readiness timeout (fallback if configured, else 504), the request deadline (504, even with
/// a fallback), the client leaving (499).
/// With tracing on, the hold is a span of its own (<see cref="ProxyTracing.HoldSpanName"/>) under the proxy span, with
/// the time held and the outcome as attributes.
/// </remarks>
internal sealed class ColdStartGate(DrainDeadline drain, ProxyTracing tracing, TimeProvider time, ILogger<ColdStartGate> logger)
{
    public const string TooManyPendingBody = "too many pending requests\n";

    private static readonly byte[] TooManyPending = System.Text.Encoding.ASCII.GetBytes(TooManyPendingBody);
    private static readonly byte[] GatewayTimeoutBody = "Gateway Timeout\n"u8.ToArray();
    private static readonly byte[] ShuttingDownBody = "Service Unavailable\n"u8.ToArray();

    /// <param name="context">The request; its <see cref="HttpContext.RequestAborted"/> is the client leaving.</param>
    /// <param name="route">The selected route.</param>
    /// <param name="holdStartedAt">When the request first found the target not ready (<see cref="TimeProvider.GetTimestamp"/>);
    /// the readiness timeout runs from there even when a forward attempt sends the request back to wait.</param>
    /// <param name="requestAborted">The client leaving or the request deadline passing.</param>
    public Task<HoldOutcome> HoldAsync(HttpContext context, Route route, long holdStartedAt, CancellationToken requestAborted) =>
        tracing.Enabled
            ? HoldTracedAsync(context, route, holdStartedAt, requestAborted)
            : HoldCoreAsync(context, route, holdStartedAt, null, requestAborted);

    // Async, so the hold span is the current activity only within the hold: the caller's stays the proxy span.
    private async Task<HoldOutcome> HoldTracedAsync(HttpContext context, Route route, long holdStartedAt, CancellationToken requestAborted)
    {
        var span = tracing.StartHoldSpan(route.Key);
        if (span is null)
        {
            return await HoldCoreAsync(context, route, holdStartedAt, null, requestAborted);
        }

        try
        {
            return await HoldCoreAsync(context, route, holdStartedAt, span, requestAborted);
        }
        finally
        {
            ProxyTracing.EndHoldSpan(span, time.GetElapsedTime(holdStartedAt));
        }
    }

    private async Task<HoldOutcome> HoldCoreAsync(HttpContext context, Route route, long holdStartedAt, Activity? span, CancellationToken requestAborted)
    {
        var policy = route.ColdStart;
        var readiness = route.Upstream.Readiness;
        if (policy.Placeholder is not null && !policy.PlaceholderOnlyOnOverflow)
        {
            readiness.Want();
            ProxyTracing.SetHoldOutcome(span, "placeholder");
            await policy.Placeholder.WriteAsync(context);
            return HoldOutcome.Answered;
        }

        if (!route.HoldQueue.TryEnter(policy.MaxPendingRequests))
        {
            readiness.Want();
            route.Metrics.RecordColdStartRejection();
            Log.ColdStartRejected(logger, route.Key, policy.MaxPendingRequests);
            ProxyTracing.SetHoldOutcome(span, "rejected");
            if (policy.Overflow == ColdStartOverflow.Placeholder && policy.Placeholder is not null)
            {
                await policy.Placeholder.WriteAsync(context);
            }
            else
            {
                await ProxyHandler.WritePlainAsync(context, StatusCodes.Status503ServiceUnavailable, TooManyPending);
            }

            return HoldOutcome.Answered;
        }

        try
        {
            return await WaitAsync(context, route, policy, holdStartedAt, span, requestAborted);
        }
        finally
        {
            route.HoldQueue.Exit();
        }
    }

    private async Task<HoldOutcome> WaitAsync(HttpContext context, Route route, ColdStartPolicy policy, long holdStartedAt, Activity? span, CancellationToken requestAborted)
    {
        // The client, the request deadline, the readiness timeout and the end of a shutdown drain.
        var clientAborted = context.RequestAborted;
        using var readinessDeadline = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, drain.Token);
        var token = readinessDeadline.Token;
        if (policy.ReadinessTimeout > TimeSpan.Zero)
        {
            var remaining = policy.ReadinessTimeout - time.GetElapsedTime(holdStartedAt);
            if (remaining > TimeSpan.Zero)
            {
                readinessDeadline.CancelAfter(remaining);
            }
            else
            {
                await readinessDeadline.CancelAsync();
            }
        }

        try
        {
            Log.ColdStartWaiting(logger, route.Key, route.Upstream.Endpoint);
            await route.Upstream.Readiness.WaitUntilReadyAsync(token);
            route.HoldQueue.ColdStarts.Released(route.Upstream.Readiness.Current, holdStartedAt, time);
            ProxyTracing.SetHoldOutcome(span, "ready");
            return HoldOutcome.Ready;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            if (clientAborted.IsCancellationRequested)
            {
                Log.ClientClosedRequest(logger, route.Key);
                ProxyTracing.SetHoldOutcome(span, "client_closed");
                context.Response.StatusCode = ProxyHandler.ClientClosedRequest;
                return HoldOutcome.Answered;
            }

            if (drain.Token.IsCancellationRequested)
            {
                // Shutting down and the target never came up: answer instead of being cut off.
                ProxyTracing.SetHoldOutcome(span, "shutting_down");
                await ProxyHandler.WritePlainAsync(context, StatusCodes.Status503ServiceUnavailable, ShuttingDownBody);
                return HoldOutcome.Answered;
            }

            if (!requestAborted.IsCancellationRequested && policy.Fallback is not null)
            {
                Log.ColdStartFallback(logger, route.Key, policy.Fallback.DestinationPrefix);
                ProxyTracing.SetHoldOutcome(span, "fallback");
                return HoldOutcome.Fallback;
            }

            Log.ColdStartTimedOut(logger, route.Key, route.Upstream.Endpoint);
            ProxyTracing.SetHoldOutcome(span, "timeout");
            await ProxyHandler.WritePlainAsync(context, StatusCodes.Status504GatewayTimeout, GatewayTimeoutBody);
            return HoldOutcome.Answered;
        }
    }
}
