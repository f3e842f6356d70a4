using System.Text.Json.Serialization;
using Updraft.ExternalScaler.Nats.JetStream;
using Updraft.ExternalScaler.Nats.Stan;

namespace Updraft.ExternalScaler.Nats;

/// <summary>Source-generated JSON for the NATS documents the sources read.</summary>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(JszDocument))]
[JsonSerializable(typeof(VarzDocument))]
[JsonSerializable(typeof(StanChannel))]
internal sealed partial class NatsJsonContext : JsonSerializerContext;
