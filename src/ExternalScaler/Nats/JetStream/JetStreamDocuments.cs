using System.Text.Json.Serialization;

namespace Updraft.ExternalScaler.Nats.JetStream;

// The fields of the NATS monitoring and JetStream API documents that the scaler reads; everything else is skipped.

/// <summary><c>/jsz?acc=…&amp;config=true&amp;consumers=true</c>.</summary>
internal sealed class JszDocument
{
    [JsonPropertyName("server_id")]
    public string? ServerId { get; set; }

    [JsonPropertyName("server_name")]
    public string? ServerName { get; set; }

    [JsonPropertyName("disabled")]
    public bool Disabled { get; set; }

    [JsonPropertyName("meta_cluster")]
    public JszMetaCluster? MetaCluster { get; set; }

    [JsonPropertyName("account_details")]
    public List<JszAccount>? Accounts { get; set; }
}

internal sealed class JszMetaCluster
{
    [JsonPropertyName("leader")]
    public string? Leader { get; set; }

    [JsonPropertyName("cluster_size")]
    public int ClusterSize { get; set; }
}

internal sealed class JszAccount
{
    [JsonPropertyName("id")]
    public string? Id { get; set; }

    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("stream_detail")]
    public List<JszStream>? Streams { get; set; }
}

internal sealed class JszStream
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("consumer_detail")]
    public List<JetStreamConsumerInfo>? Consumers { get; set; }
}

/// <summary>A consumer as <c>/jsz</c> lists it.</summary>
internal sealed class JetStreamConsumerInfo
{
    [JsonPropertyName("stream_name")]
    public string? StreamName { get; set; }

    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("num_pending")]
    public long NumPending { get; set; }

    [JsonPropertyName("num_ack_pending")]
    public long NumAckPending { get; set; }

    [JsonPropertyName("cluster")]
    public JetStreamClusterInfo? Cluster { get; set; }
}

internal sealed class JetStreamClusterInfo
{
    [JsonPropertyName("leader")]
    public string? Leader { get; set; }
}

/// <summary><c>/varz</c>: the node's name and how to reach the other nodes.</summary>
internal sealed class VarzDocument
{
    [JsonPropertyName("server_name")]
    public string? ServerName { get; set; }

    [JsonPropertyName("connect_urls")]
    public List<string>? ConnectUrls { get; set; }

    [JsonPropertyName("cluster")]
    public VarzCluster? Cluster { get; set; }
}

internal sealed class VarzCluster
{
    [JsonPropertyName("urls")]
    public List<string>? Urls { get; set; }
}
