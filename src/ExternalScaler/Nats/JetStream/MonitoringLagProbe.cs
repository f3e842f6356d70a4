using System.Net;
using Grpc.Core;
using Updraft.ExternalScaler.Nats.Polling;

namespace Updraft.ExternalScaler.Nats.JetStream;

/// <summary>
/// Reads a consumer's lag from <c>/jsz?acc=…&amp;config=true&amp;consumers=true</c>, as KEDA does. In a cluster only the
/// consumer's leader reports current numbers (followers are stale, keda#3860), so it reads the node that reports
/// itself as the consumer's leader: the one found last time while it still is (keda#6042), otherwise it walks the
/// nodes listed in the endpoint's <c>/varz</c> (<c>connect_urls</c> hosts on the endpoint's monitoring port, or the
/// <c>&lt;node&gt;.&lt;endpoint&gt;</c> names of <c>cluster.urls</c>, as KEDA). One instance per poller; polls run one at a time.
/// </summary>
internal sealed class MonitoringLagProbe(MonitoringClient http, JetStreamTrigger trigger, ILogger logger)
{
    private readonly Uri _endpoint = trigger.MonitoringEndpoint!;
    private readonly string _accountMatch = trigger.AccountId ?? trigger.Account!;
    private readonly Dictionary<Uri, string> _names = [];
    private Uri? _leader;

    public async Task<PollResult<ConsumerLag>> PollAsync(CancellationToken cancellationToken)
    {
        if (_leader is { } leader)
        {
            try
            {
                var document = await JszAsync(leader, cancellationToken);
                var location = Locate(document);
                if (location.Consumer is { } info && (!Clustered(document) || location.Leader == await NameAsync(leader, document, cancellationToken)))
                {
                    return Lag(info);
                }
            }
            catch (MonitoringException)
            {
                // Gone or no longer leading: walk again from the configured endpoint.
            }

            _leader = null;
        }

        JszDocument first;
        try
        {
            first = await JszAsync(_endpoint, cancellationToken);
        }
        catch (MonitoringException e)
        {
            return PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, e.Message);
        }

        if (first.Disabled)
        {
            return PollResult<ConsumerLag>.Fail(StatusCode.FailedPrecondition, $"JetStream is not enabled at {_endpoint}");
        }

        var found = Locate(first);
        if (!Clustered(first))
        {
            return found.Consumer is { } single ? Lag(single) : Missing(found.AccountFound, found.StreamFound, _endpoint.Authority);
        }

        try
        {
            if (found.Consumer is { } own && found.Leader is { } ownLeader && ownLeader == await NameAsync(_endpoint, first, cancellationToken))
            {
                return Leading(_endpoint, own, ownLeader);
            }

            return await WalkAsync(found, cancellationToken);
        }
        catch (MonitoringException e)
        {
            _names.Clear();
            return PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, $"{trigger.Describe()}: cannot find the consumer's leader: {e.Message}");
        }
    }

    private static bool Clustered(JszDocument document) => document.MetaCluster?.ClusterSize > 1;

    private static PollResult<ConsumerLag> Lag(JetStreamConsumerInfo info) => PollResult<ConsumerLag>.Ok(new ConsumerLag(info.NumPending, info.NumAckPending));

    private async Task<PollResult<ConsumerLag>> WalkAsync(JszLocation first, CancellationToken cancellationToken)
    {
        var accountFound = first.AccountFound;
        var streamFound = first.StreamFound;
        var consumerFound = first.Consumer is not null;
        var named = first.Leader;
        var unreachable = new List<string>();
        var nodes = await NodesAsync(cancellationToken);
        foreach (var node in nodes)
        {
            if (node == _endpoint)
            {
                continue;
            }

            try
            {
                var document = await JszAsync(node, cancellationToken);
                var location = Locate(document);
                accountFound |= location.AccountFound;
                streamFound |= location.StreamFound;
                consumerFound |= location.Consumer is not null;
                named ??= location.Leader;
                if (location.Consumer is { } info && location.Leader is { } leader && leader == await NameAsync(node, document, cancellationToken))
                {
                    return Leading(node, info, leader);
                }
            }
            catch (MonitoringException e)
            {
                unreachable.Add(e.Message);
            }
        }

        _names.Clear();
        var problems = unreachable.Count == 0 ? "" : "; " + string.Join("; ", unreachable);
        if (!consumerFound)
        {
            if (unreachable.Count > 0)
            {
                return PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, $"{trigger.Describe()} not found on the nodes that answered{problems}");
            }

            return Missing(accountFound, streamFound, $"any of {nodes.Count} nodes of the cluster of {_endpoint.Authority}");
        }

        return PollResult<ConsumerLag>.Fail(
            StatusCode.Unavailable,
            $"no node reports itself as the leader of {trigger.Describe()} (the nodes name {(named is null ? "no leader" : "\"" + named + "\"")}; {nodes.Count} nodes read){problems}");
    }

    private PollResult<ConsumerLag> Leading(Uri node, JetStreamConsumerInfo info, string leader)
    {
        _leader = node;
        NatsLog.LeaderFound(logger, trigger.Consumer, trigger.Stream, leader, node);
        return Lag(info);
    }

    private PollResult<ConsumerLag> Missing(bool accountFound, bool streamFound, string where)
    {
        var (code, message) = JetStreamLag.Missing(accountFound, streamFound, trigger.AccountId ?? trigger.Account!, trigger.Stream, trigger.Consumer, where);
        return PollResult<ConsumerLag>.Fail(code, message);
    }

    private JszLocation Locate(JszDocument document) => JetStreamLag.Locate(document, _accountMatch, trigger.Account, trigger.Stream, trigger.Consumer);

    private Task<JszDocument> JszAsync(Uri node, CancellationToken cancellationToken) =>
        http.GetAsync(new Uri(node, $"jsz?acc={Uri.EscapeDataString(_accountMatch)}&config=true&consumers=true"), NatsJsonContext.Default.JszDocument, cancellationToken);

    /// <summary>The node's server name: from its <c>/jsz</c> when the server includes it, else from its <c>/varz</c> (kept).</summary>
    private async Task<string?> NameAsync(Uri node, JszDocument document, CancellationToken cancellationToken)
    {
        if (document.ServerName is { } name)
        {
            return name;
        }

        if (!_names.TryGetValue(node, out var known))
        {
            var varz = await http.GetAsync(new Uri(node, "varz"), NatsJsonContext.Default.VarzDocument, cancellationToken);
            known = varz.ServerName ?? "";
            _names[node] = known;
        }

        return known;
    }

    /// <summary>The cluster's monitoring endpoints, found from the configured endpoint's <c>/varz</c> as KEDA finds them.</summary>
    private async Task<IReadOnlyList<Uri>> NodesAsync(CancellationToken cancellationToken)
    {
        var varz = await http.GetAsync(new Uri(_endpoint, "varz"), NatsJsonContext.Default.VarzDocument, cancellationToken);
        if (varz.ServerName is { } own)
        {
            _names[_endpoint] = own;
        }

        var nodes = new List<Uri> { _endpoint };
        if (varz.ConnectUrls is { Count: > 0 } advertised)
        {
            foreach (var url in advertised)
            {
                var colon = url.LastIndexOf(':');
                var host = colon > 0 && !url.EndsWith(']') ? url[..colon] : url;
                AddNode(nodes, $"{_endpoint.Scheme}://{host}:{_endpoint.Port}/");
            }
        }
        else
        {
            // No advertised client URLs (keda#4524): route URLs name the pods; Kubernetes DNS reaches them as <pod>.<service>.
            foreach (var url in varz.Cluster?.Urls ?? [])
            {
                var host = url.Split(':')[0];
                if (IPAddress.TryParse(host, out _))
                {
                    continue;
                }

                AddNode(nodes, $"{_endpoint.Scheme}://{host.Split('.')[0]}.{_endpoint.Authority}/");
            }
        }

        return nodes;
    }

    private static void AddNode(List<Uri> nodes, string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && !nodes.Contains(uri))
        {
            nodes.Add(uri);
        }
    }
}
