using System.Globalization;
using System.Text.Json;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Routing;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Admin;

/// <summary>Which routes a status request asks for: a filter and one page of them.</summary>
/// <param name="Filter">Case-insensitive text looked for in the key, hosts, paths and target; empty: every route.</param>
/// <param name="Offset">Matching routes to skip (table order).</param>
/// <param name="Limit">Routes to return at most.</param>
internal sealed record StatusQuery(string Filter, int Offset, int Limit)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;
    public const int MaxFilterLength = 200;

    public static StatusQuery Default { get; } = new("", 0, DefaultLimit);

    /// <summary>From <c>?filter=&amp;offset=&amp;limit=</c>; anything out of range is clamped, never an error.</summary>
    public static StatusQuery From(IQueryCollection query)
    {
        var filter = query["filter"].ToString().Trim();
        if (filter.Length > MaxFilterLength)
        {
            filter = filter[..MaxFilterLength];
        }

        var offset = int.TryParse(query["offset"], NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : 0;
        var limit = int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l > 0 ? Math.Min(l, MaxLimit) : DefaultLimit;
        return new StatusQuery(filter, offset, limit);
    }
}

/// <summary>The interceptor's own state.</summary>
/// <param name="Mode"><c>standalone</c> or <c>kubernetes</c>.</param>
/// <param name="Ready">What <c>/readyz</c> answers.</param>
/// <param name="Draining">Shutting down: new requests are still served, <c>/readyz</c> says no.</param>
/// <param name="TableVersion">Route tables published so far (one per load or reload).</param>
/// <param name="TableAge">How long the current table has been in use.</param>
/// <param name="RouteCount">Routes in the current table.</param>
/// <param name="Source">How the route source is doing; null before it was chosen.</param>
/// <param name="GeneratedAt">When this snapshot was taken.</param>
/// <param name="Local">The local replicas feed and its workloads (standalone mode with <c>UPDRAFT_LOCAL_REPLICAS</c>), else null.</param>
internal sealed record InterceptorStatus(string Mode, bool Ready, bool Draining, long TableVersion, TimeSpan? TableAge, int RouteCount, RouteSourceHealth? Source, DateTimeOffset GeneratedAt, LocalReplicasStatus? Local = null);

/// <summary>One route on the status page.</summary>
/// <param name="Key"><c>namespace/name</c>.</param>
/// <param name="Hosts">Its hosts (<c>*</c>: any), at most <see cref="StatusSnapshot.MaxListed"/>.</param>
/// <param name="MoreHosts">Hosts left out of <paramref name="Hosts"/>.</param>
/// <param name="Paths">Its path prefixes, at most <see cref="StatusSnapshot.MaxListed"/>.</param>
/// <param name="MorePaths">Paths left out of <paramref name="Paths"/>.</param>
/// <param name="Target">Service (or host) and port.</param>
/// <param name="Readiness"><c>ready</c>, <c>not-ready</c> or <c>unknown</c> (not tried yet; the first request tries).</param>
/// <param name="InFlight">Requests in the route now (held ones included), what <c>/queue</c> calls Concurrency.</param>
/// <param name="Held">Requests waiting for the target to become ready.</param>
/// <param name="Requests">Requests since the route appeared.</param>
/// <param name="RatePerSecond">Requests per second over the last second or more; null on the first look.</param>
/// <param name="LastColdStart">The last time held requests were released by the target becoming ready.</param>
/// <param name="OverflowRejections">Requests turned away by a full hold queue.</param>
internal sealed record RouteStatus(
    string Key,
    IReadOnlyList<string> Hosts,
    int MoreHosts,
    IReadOnlyList<string> Paths,
    int MorePaths,
    string Target,
    string Readiness,
    int InFlight,
    int Held,
    long Requests,
    double? RatePerSecond,
    ColdStartRecord? LastColdStart,
    long OverflowRejections);

/// <summary>What the status page shows: the interceptor, and one page of the routes that match the query.</summary>
/// <param name="Matched">Routes matching the filter (all of them, not only this page).</param>
internal sealed record StatusView(InterceptorStatus Interceptor, StatusQuery Query, int Matched, IReadOnlyList<RouteStatus> Routes);

/// <summary>
/// Takes the status page's snapshot. Bounded: one pass over the route table to filter and count, then at most
/// <see cref="StatusQuery.MaxLimit"/> routes with at most <see cref="MaxListed"/> hosts and paths each, so the page and
/// its JSON stay small with 10,000 routes. Reads only what the request path already keeps (lock-free counters).
/// </summary>
internal static class StatusSnapshot
{
    public const int MaxListed = 8;

    public static StatusView Take(RouteTableHolder tables, InterceptorStatus interceptor, StatusQuery query, TimeProvider time)
    {
        var table = tables.Current;
        var now = time.GetTimestamp();
        var routes = new List<RouteStatus>(Math.Min(query.Limit, table.Routes.Count));
        var matched = 0;
        foreach (var route in table.Routes)
        {
            if (!Matches(route, query.Filter))
            {
                continue;
            }

            if (matched >= query.Offset && routes.Count < query.Limit)
            {
                routes.Add(Describe(route, now, time));
            }

            matched++;
        }

        return new StatusView(interceptor with { RouteCount = table.Routes.Count }, query, matched, routes);
    }

    public static string Target(UpstreamRef target) =>
        target.Workload is { } workload ? "local workload " + workload
        : target.Port is { } port ? target.Service + ":" + port.ToString(CultureInfo.InvariantCulture) : target.Service + ":" + target.PortName;

    private static RouteStatus Describe(Route route, long now, TimeProvider time)
    {
        var hosts = new List<string>();
        var paths = new List<string>();
        int hostCount = 0, pathCount = 0;
        foreach (var rule in route.Definition.Rules)
        {
            foreach (var host in rule.Hosts)
            {
                Collect(hosts, host, ref hostCount);
            }

            foreach (var path in rule.Paths)
            {
                Collect(paths, "/" + path, ref pathCount);
            }
        }

        var state = route.Upstream.Readiness.State switch
        {
            EndpointState.Ready => "ready",
            EndpointState.NotReady => "not-ready",
            _ => "unknown",
        };
        var counter = route.Counter;
        var requests = counter.RequestCount;
        return new RouteStatus(
            route.Key,
            hosts,
            hostCount - hosts.Count,
            paths,
            pathCount - paths.Count,
            Target(route.Definition.Target),
            state,
            counter.Concurrency,
            route.HoldQueue.Pending,
            requests,
            counter.Rate.Observe(requests, now, time),
            route.HoldQueue.ColdStarts.Last,
            route.Metrics.ColdStartRejections);
    }

    private static void Collect(List<string> into, string value, ref int distinct)
    {
        if (into.Contains(value))
        {
            return;
        }

        distinct++;
        if (into.Count < MaxListed)
        {
            into.Add(value);
        }
    }

    private static bool Matches(Route route, string filter)
    {
        if (filter.Length == 0 || Contains(route.Key, filter) || Contains(route.Definition.Target.Service, filter))
        {
            return true;
        }

        foreach (var rule in route.Definition.Rules)
        {
            foreach (var host in rule.Hosts)
            {
                if (Contains(host, filter))
                {
                    return true;
                }
            }

            foreach (var path in rule.Paths)
            {
                if (Contains(path, filter.AsSpan().TrimStart('/')))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool Contains(string text, ReadOnlySpan<char> filter) => text.AsSpan().Contains(filter, StringComparison.OrdinalIgnoreCase);

    /// <summary>The snapshot as <c>/status.json</c> serves it.</summary>
    public static void WriteJson(StatusView view, Utf8JsonWriter writer)
    {
        var status = view.Interceptor;
        writer.WriteStartObject();
        writer.WriteStartObject("interceptor");
        writer.WriteString("mode", status.Mode);
        writer.WriteBoolean("ready", status.Ready);
        writer.WriteBoolean("draining", status.Draining);
        writer.WriteString("generatedAt", status.GeneratedAt);
        writer.WriteStartObject("routeTable");
        writer.WriteNumber("version", status.TableVersion);
        WriteSeconds(writer, "ageSeconds", status.TableAge);
        writer.WriteNumber("routes", status.RouteCount);
        writer.WriteEndObject();
        if (status.Source is { } source)
        {
            writer.WriteStartObject("source");
            writer.WriteString("kind", source.Kind);
            writer.WriteBoolean("healthy", source.Healthy);
            writer.WriteStartArray("details");
            foreach (var line in source.Details)
            {
                writer.WriteStringValue(line);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("watches");
            foreach (var watch in source.Watches)
            {
                writer.WriteStartObject();
                writer.WriteString("resource", watch.Resource);
                writer.WriteBoolean("synced", watch.Synced);
                writer.WriteNumber("lists", watch.Lists);
                writer.WriteNumber("failures", watch.Failures);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("source");
        }

        writer.WriteEndObject();
        WriteLocal(writer, status.Local);

        writer.WriteStartObject("routes");
        writer.WriteString("filter", view.Query.Filter);
        writer.WriteNumber("offset", view.Query.Offset);
        writer.WriteNumber("limit", view.Query.Limit);
        writer.WriteNumber("matched", view.Matched);
        writer.WriteNumber("more", Math.Max(0, view.Matched - view.Query.Offset - view.Routes.Count));
        writer.WriteStartArray("items");
        foreach (var route in view.Routes)
        {
            writer.WriteStartObject();
            writer.WriteString("key", route.Key);
            WriteList(writer, "hosts", route.Hosts);
            writer.WriteNumber("moreHosts", route.MoreHosts);
            WriteList(writer, "paths", route.Paths);
            writer.WriteNumber("morePaths", route.MorePaths);
            writer.WriteString("target", route.Target);
            writer.WriteString("readiness", route.Readiness);
            writer.WriteNumber("inFlight", route.InFlight);
            writer.WriteNumber("held", route.Held);
            writer.WriteNumber("requests", route.Requests);
            if (route.RatePerSecond is { } rate)
            {
                writer.WriteNumber("ratePerSecond", Math.Round(rate, 2));
            }
            else
            {
                writer.WriteNull("ratePerSecond");
            }

            if (route.LastColdStart is { } coldStart)
            {
                writer.WriteStartObject("lastColdStart");
                writer.WriteString("readyAt", coldStart.ReadyAt);
                writer.WriteNumber("agoSeconds", Math.Round(Math.Max(0, (status.GeneratedAt - coldStart.ReadyAt).TotalSeconds), 3));
                writer.WriteNumber("seconds", Math.Round(coldStart.Duration.TotalSeconds, 3));
                writer.WriteNumber("released", coldStart.Released);
                writer.WriteEndObject();
            }
            else
            {
                writer.WriteNull("lastColdStart");
            }

            writer.WriteNumber("overflowRejections", route.OverflowRejections);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteLocal(Utf8JsonWriter writer, LocalReplicasStatus? local)
    {
        if (local is null)
        {
            writer.WriteNull("localReplicas");
            return;
        }

        writer.WriteStartObject("localReplicas");
        writer.WriteString("address", local.Address);
        writer.WriteBoolean("connected", local.Connected);
        if (local.Since is { } since)
        {
            writer.WriteString("since", since);
        }
        else
        {
            writer.WriteNull("since");
        }

        writer.WriteString("problem", local.Problem);
        if (local.Version is { } version)
        {
            writer.WriteNumber("snapshotVersion", version);
        }
        else
        {
            writer.WriteNull("snapshotVersion");
        }

        writer.WriteString("summary", local.FeedLine());
        WriteList(writer, "events", local.Events);
        writer.WriteStartArray("workloads");
        foreach (var workload in local.Workloads)
        {
            writer.WriteStartObject();
            writer.WriteString("workload", workload.Workload);
            writer.WriteNumber("readyCount", workload.ReadyCount);
            WriteList(writer, "ready", workload.Ready);
            writer.WriteString("line", workload.Line());
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteNumber("moreWorkloads", local.MoreWorkloads);
        writer.WriteEndObject();
    }

    private static void WriteSeconds(Utf8JsonWriter writer, string name, TimeSpan? value)
    {
        if (value is { } span)
        {
            writer.WriteNumber(name, Math.Round(span.TotalSeconds, 3));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static void WriteList(Utf8JsonWriter writer, string name, IReadOnlyList<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }
}
