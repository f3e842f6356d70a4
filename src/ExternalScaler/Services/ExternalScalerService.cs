using Grpc.Core;
using Microsoft.Extensions.Options;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Telemetry;
using Updraft.Protos.ExternalScaler;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.ExternalScaler.Services;

/// <summary>
/// KEDA's <c>externalscaler.ExternalScaler</c>. Every answer comes from in-memory snapshots: KEDA calls these with no
/// deadline, for every trigger at every poll and HPA query, so nothing here waits on the network or on a lock.
/// <c>GetMetricSpec</c> always answers (KEDA would otherwise never call <c>GetMetrics</c>, and its fallback could not
/// engage); anything that keeps a value from being known is a gRPC error from <c>GetMetrics</c>/<c>IsActive</c>,
/// never a 0, which would scale the workload in.
/// </summary>
internal sealed class ExternalScalerService(
    ScalerSources sources,
    IOptions<ScalerOptions> options,
    ScalerMetrics metrics,
    ILogger<ExternalScalerService> logger) : Scaler.ExternalScalerBase
{
    public override Task<GetMetricSpecResponse> GetMetricSpec(ScaledObjectRef request, ServerCallContext context)
    {
        using var timer = metrics.Time(nameof(GetMetricSpec));
        using var span = ScalerTracing.StartRpc(nameof(GetMetricSpec), request.Namespace, request.Name, context);
        var trigger = Trigger(request);
        return Task.FromResult(SpecResponse(sources.For(trigger), trigger));
    }

    public override Task<GetMetricsResponse> GetMetrics(GetMetricsRequest request, ServerCallContext context)
    {
        using var timer = metrics.Time(nameof(GetMetrics));
        var scaledObject = request.ScaledObjectRef ?? new ScaledObjectRef();
        using var span = ScalerTracing.StartRpc(nameof(GetMetrics), scaledObject.Namespace, scaledObject.Name, context);
        var trigger = Trigger(scaledObject);
        var readings = Read(nameof(GetMetrics), sources.For(trigger), trigger, request.MetricName, span);
        var response = new GetMetricsResponse();
        foreach (var reading in readings.Values)
        {
            ScalerTracing.AddMetric(span, reading.Name, reading.Value);
            response.MetricValues.Add(new MetricValue
            {
                MetricName = reading.Name,
                MetricValueFloat = reading.Value,
                // Older KEDA reads only the integer: round up, so a lone request in a long window is not a 0.
                MetricValue_ = (long)Math.Ceiling(reading.Value),
            });
        }

        return Task.FromResult(response);
    }

    public override Task<IsActiveResponse> IsActive(ScaledObjectRef request, ServerCallContext context)
    {
        using var timer = metrics.Time(nameof(IsActive));
        using var span = ScalerTracing.StartRpc(nameof(IsActive), request.Namespace, request.Name, context);
        var trigger = Trigger(request);
        var source = sources.For(trigger);
        var readings = Read(nameof(IsActive), source, trigger, metricName: null, span);
        var active = source.IsActive(trigger, readings);
        ScalerTracing.SetTag(span, "updraft.active", active);
        return Task.FromResult(new IsActiveResponse { Result = active });
    }

    /// <summary>
    /// The current answer at once, then a <c>true</c> the moment the trigger becomes active (a replica pushes its
    /// first in-flight request, the aggregator republishes, this wakes) and again every stream interval while it
    /// stays active, to keep KEDA's cooldown from running out; <c>false</c> only when it changes (KEDA ignores it).
    /// Transient failures (route not created yet, interceptors silent) keep the stream open and silent; metadata
    /// that can never work ends it with <c>InvalidArgument</c>.
    /// </summary>
    public override async Task StreamIsActive(ScaledObjectRef request, IServerStreamWriter<IsActiveResponse> responseStream, ServerCallContext context)
    {
        var trigger = Trigger(request);
        var source = sources.For(trigger);
        var cancellation = context.CancellationToken;
        var interval = options.Value.StreamInterval;
        bool? last = null;
        var lastSent = long.MinValue;
        var sends = 0;
        using var open = metrics.OpenStream(nameof(StreamIsActive));
        // One span for the stream's whole life, exported when it closes, with the number of answers sent.
        using var span = ScalerTracing.StartRpc(nameof(StreamIsActive), request.Namespace, request.Name, context);
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                var changed = source.Changed(trigger);
                var readings = source.Read(trigger, metricName: null);
                if (readings.Error == StatusCode.InvalidArgument)
                {
                    ScalerTracing.Fail(span, readings.Error, readings.Message);
                    throw new RpcException(new Status(readings.Error, readings.Message!));
                }

                if (readings.Succeeded)
                {
                    var active = source.IsActive(trigger, readings);
                    var now = Environment.TickCount64;
                    if (active != last || (active && now - lastSent >= (long)interval.TotalMilliseconds))
                    {
                        await responseStream.WriteAsync(new IsActiveResponse { Result = active }, cancellation);
                        last = active;
                        lastSent = now;
                        sends++;
                    }
                }

                // WaitAsync drops its continuation when the stream closes: nothing leaks.
                await changed.WaitAsync(cancellation);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // KEDA closed the stream.
        }
        finally
        {
            ScalerTracing.SetTag(span, "updraft.stream.sends", sends);
            ScalerTracing.SetTag(span, "updraft.active", last);
        }
    }

    /// <summary>The specs at once, then again whenever the routes change in a way that changes them.</summary>
    public override async Task StreamMetricSpec(ScaledObjectRef request, IServerStreamWriter<GetMetricSpecResponse> responseStream, ServerCallContext context)
    {
        var trigger = Trigger(request);
        var source = sources.For(trigger);
        var cancellation = context.CancellationToken;
        GetMetricSpecResponse? last = null;
        using var open = metrics.OpenStream(nameof(StreamMetricSpec));
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                var changed = source.SpecsChanged(trigger);
                var current = SpecResponse(source, trigger);
                if (!current.Equals(last))
                {
                    await responseStream.WriteAsync(current, cancellation);
                    last = current;
                }

                await changed.WaitAsync(cancellation);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
        }
    }

    private static TriggerContext Trigger(ScaledObjectRef scaledObject) =>
        new(scaledObject.Namespace, scaledObject.Name, scaledObject.ScalerMetadata);

    private static GetMetricSpecResponse SpecResponse(IScalerSource source, TriggerContext trigger)
    {
        var response = new GetMetricSpecResponse();
        foreach (var spec in source.Specs(trigger))
        {
            response.MetricSpecs.Add(new MetricSpec
            {
                MetricName = spec.Name,
                TargetSizeFloat = spec.Target,
                TargetSize = (long)Math.Ceiling(spec.Target),
            });
        }

        return response;
    }

    private MetricReadings Read(string rpc, IScalerSource source, TriggerContext trigger, string? metricName, System.Diagnostics.Activity? span)
    {
        var readings = source.Read(trigger, metricName);
        if (!readings.Succeeded)
        {
            ScalerTracing.Fail(span, readings.Error, readings.Message);
            Log.RpcFailed(logger, rpc, trigger.Namespace, trigger.Name, readings.Error, readings.Message!);
            metrics.Failed(rpc, readings.Error);
            throw new RpcException(new Status(readings.Error, readings.Message!));
        }

        return readings;
    }
}
