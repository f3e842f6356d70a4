using Updraft.ExternalScaler.Services;

namespace Updraft.ExternalScaler.Kafka;

internal static class KafkaRegistration
{
    /// <summary>Registers the Kafka source, its shared clients and pollers; bad settings go to <paramref name="problems"/>.</summary>
    public static IServiceCollection AddKafkaSource(this IServiceCollection services, Func<string, string?> lookup, List<string> problems)
    {
        services.AddSingleton(KafkaOptions.Bind(lookup, problems));
        services.AddSingleton<KafkaProfiles>();
        services.AddSingleton<KafkaClusters>();
        services.AddHostedService(provider => provider.GetRequiredService<KafkaClusters>());
        services.AddSingleton<IScalerSource, KafkaSource>();
        return services;
    }
}
