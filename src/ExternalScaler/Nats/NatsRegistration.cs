using Updraft.ExternalScaler.Nats.Client;
using Updraft.ExternalScaler.Nats.JetStream;
using Updraft.ExternalScaler.Nats.Polling;
using Updraft.ExternalScaler.Nats.Stan;
using Updraft.ExternalScaler.Services;

namespace Updraft.ExternalScaler.Nats;

internal static class NatsRegistration
{
    /// <summary>The <c>nats-jetstream</c> and <c>stan</c> sources, their pollers, HTTP client and NATS connections.</summary>
    public static IServiceCollection AddNatsSources(this IServiceCollection services, NatsOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton<MonitoringClient>();
        services.AddSingleton<NatsCredentialProfiles>();
        services.AddSingleton<NatsConnections>();
        services.AddSingleton<NatsPollers>();
        services.AddHostedService(provider => provider.GetRequiredService<NatsPollers>());
        services.AddSingleton<IScalerSource, JetStreamSource>();
        services.AddSingleton<IScalerSource, StanSource>();
        return services;
    }
}
