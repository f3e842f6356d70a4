using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Nats.Polling;
using Updraft.ExternalScaler.Tests.Infrastructure;
using static Updraft.ExternalScaler.Tests.Nats.NatsTesting;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>Pollers shared by triggers and dropped when unused; credentials profiles for the JetStream API.</summary>
public sealed class NatsPollingTests
{
    [Fact]
    public async Task Pollers_TwoScaledObjectsOnOneConsumer_StartedBySpecSharedAndDroppedWhenUnused()
    {
        await using var server = await NatsServer.StartAsync();
        var stream = StreamName();
        await using (var admin = await JetStreamAdmin.ConnectAsync(server))
        {
            await admin.CreateStreamAsync(stream);
            await admin.CreateConsumerAsync(stream, "worker");
            await admin.PublishAsync(stream, 30);
        }

        await using var harness = await StartScalerAsync(new Dictionary<string, string?> { ["UPDRAFT_NATS_POLLER_EXPIRY"] = "1s" });
        var pollers = harness.Services.GetRequiredService<NatsPollers>();
        var first = JetStream(Api, server, stream, "worker", ("lagThreshold", "5"));
        var second = JetStream(Api, server, stream, "worker", ("activationLagThreshold", "50"));
        second.Name = "another";

        await harness.Client.GetMetricSpecAsync(first);
        var startedBySpec = pollers.Count;
        await WaitForMetricAsync(harness, first, 30);
        await WaitForMetricAsync(harness, second, 30);
        var shared = pollers.Count;
        var activeFirst = await harness.Client.IsActiveAsync(first);
        var activeSecond = await harness.Client.IsActiveAsync(second);

        Assert.Equal(1, startedBySpec);
        Assert.Equal(1, shared);
        Assert.True(activeFirst.Result);
        Assert.False(activeSecond.Result);
        await ScalerHarness.WaitUntilAsync(() => Task.FromResult(pollers.Count == 0), "the unused poller is dropped");
        // Asked again: a new poller starts and answers.
        await WaitForMetricAsync(harness, first, 30);
    }

    [Fact]
    public async Task GetMetrics_CredentialsProfile_LogsInWithItsFilesAndNeverShowsThem()
    {
        const string Password = "s3cret-Pa55";
        await using var server = await NatsServer.StartAsync(user: "scaler", password: Password);
        var stream = StreamName();
        var profiles = Directory.CreateTempSubdirectory("updraft-nats-profiles-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(profiles, "prod"));
            await File.WriteAllTextAsync(Path.Combine(profiles, "prod", "user"), "scaler\n");
            await File.WriteAllTextAsync(Path.Combine(profiles, "prod", "password"), Password + "\n");
            await using (var admin = await JetStreamAdmin.ConnectAsync(server, profiles, "prod"))
            {
                await admin.CreateStreamAsync(stream);
                await admin.CreateConsumerAsync(stream, "worker");
                await admin.PublishAsync(stream, 3);
            }

            Directory.CreateDirectory(Path.Combine(profiles, "wrong"));
            await File.WriteAllTextAsync(Path.Combine(profiles, "wrong", "user"), "scaler");
            await File.WriteAllTextAsync(Path.Combine(profiles, "wrong", "password"), "not-" + Password);
            await using var harness = await StartScalerAsync(new Dictionary<string, string?> { ["UPDRAFT_NATS_CREDENTIALS_DIR"] = profiles });

            await WaitForMetricAsync(harness, JetStream(Api, server, stream, "worker", ("credentialsProfile", "prod")), 3);
            var none = await WaitForErrorAsync(harness, JetStream(Api, server, stream, "worker"), StatusCode.Unauthenticated);
            var wrong = await WaitForErrorAsync(harness, JetStream(Api, server, stream, "worker", ("credentialsProfile", "wrong")), StatusCode.Unauthenticated);
            var missing = await WaitForErrorAsync(harness, JetStream(Api, server, stream, "worker", ("credentialsProfile", "staging")), StatusCode.FailedPrecondition);

            Assert.Contains("Authorization Violation", none.Status.Detail, StringComparison.Ordinal);
            Assert.Contains("profile \"staging\"", missing.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain(Password, none.Status.Detail + wrong.Status.Detail + missing.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(profiles, recursive: true);
        }
    }
}
