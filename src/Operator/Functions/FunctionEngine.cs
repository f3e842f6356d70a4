using Updraft.Shared.Crds;

namespace Updraft.Operator.Functions;

/// <summary>What serves a Function, chosen as OpenFunction chooses it.</summary>
internal enum FunctionEngine
{
    /// <summary>No <c>spec.serving</c>: nothing to run.</summary>
    None,

    /// <summary><c>triggers.http.engine: keda</c>: Updraft's interceptor and scaler.</summary>
    Keda,

    /// <summary><c>triggers.http</c> with <c>engine: knative</c> or no engine.</summary>
    Knative,

    /// <summary>No HTTP trigger, only Dapr triggers: an event-driven workload scaled by KEDA.</summary>
    Async,
}

internal static class FunctionEngines
{
    public const string Keda = "keda";
    public const string Knative = "knative";

    /// <summary>
    /// OpenFunction's runtime selection with its webhook's defaults applied first: a Function without Dapr or KEDA
    /// triggers gets an HTTP trigger, and an HTTP trigger without an engine is Knative's.
    /// </summary>
    /// <remarks>
    /// OpenFunction's webhook adds an HTTP trigger to a Function with KEDA triggers only (so Knative serves it, which
    /// ignores them). Updraft reads such a Function as async, as its author meant; where OpenFunction's webhook runs,
    /// it has added the HTTP trigger before Updraft sees the Function.
    /// </remarks>
    /// <returns>The engine, or null with <paramref name="problem"/> when the engine named is unknown.</returns>
    public static FunctionEngine? Select(FunctionSpec spec, out string? problem)
    {
        problem = null;
        if (spec.Serving is not { } serving)
        {
            return FunctionEngine.None;
        }

        var http = serving.Triggers?.Http;
        var hasTriggers = serving.Triggers?.Dapr is { Count: > 0 } || serving.ScaleOptions?.Keda?.Triggers is { Count: > 0 };
        if (http is null && hasTriggers)
        {
            return FunctionEngine.Async;
        }

        switch (http?.Engine)
        {
            case null or "" or Knative:
                return FunctionEngine.Knative;
            case Keda:
                return FunctionEngine.Keda;
            default:
                problem = $"spec.serving.triggers.http.engine: \"{http.Engine}\" is not an engine; use keda or knative";
                return null;
        }
    }
}
