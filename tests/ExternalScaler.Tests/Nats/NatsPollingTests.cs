using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Nats.Polling;
using Updraft.ExternalScaler.Tests.Faults;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
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

    [Fact]
    public async Task GetMetrics_TokenProfile_LogsInAndNoSecretInAnyAnswerOrLogLineEvenAtTrace()
    {
        const string Token = "t0ken-S3cret-91";
        const string Password = "pw-S3cret-44";
        await using var server = await NatsServer.StartAsync(config: $$"""
            authorization { token: "{{Token}}" }
            """);
        var profiles = Directory.CreateTempSubdirectory("updraft-nats-profiles-").FullName;
        try
        {
            foreach (var (profile, file, secret) in new[] { ("token", "token", Token), ("wrong-token", "token", "not-" + Token), ("user", "password", Password) })
            {
                Directory.CreateDirectory(Path.Combine(profiles, profile));
                await File.WriteAllTextAsync(Path.Combine(profiles, profile, file), secret + "\n");
            }

            await File.WriteAllTextAsync(Path.Combine(profiles, "user", "user"), "scaler\n");
            var stream = StreamName();
            await using (var admin = await JetStreamAdmin.ConnectAsync(server, profiles, "token"))
            {
                await admin.CreateStreamAsync(stream);
                await admin.CreateConsumerAsync(stream, "worker");
                await admin.PublishAsync(stream, 3);
            }

            await using var scaler = ScalerChild.Start(null, new()
            {
                ["UPDRAFT_NATS_CREDENTIALS_DIR"] = profiles,
                ["UPDRAFT_NATS_POLL_INTERVAL"] = "100ms",
                ["UPDRAFT_NATS_TIMEOUT"] = "2s",
                ["UPDRAFT_LOG_LEVEL"] = "Trace",
            });
            await scaler.WaitForMetricAsync(JetStream(Api, server, stream, "worker", ("credentialsProfile", "token")), "", 3, "the token logs in");
            var refused = new List<string>();
            string? last = null;
            foreach (var profile in new[] { "wrong-token", "user" })
            {
                var reference = JetStream(Api, server, stream, "worker", ("credentialsProfile", profile));
                try
                {
                    await ScalerHarness.WaitUntilAsync(async () =>
                    {
                        try
                        {
                            var response = await scaler.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference });
                            Assert.NotEqual(0, Assert.Single(response.MetricValues).MetricValueFloat);
                            return false;
                        }
                        catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
                        {
                            refused.Add(e.Status.Detail);
                            return true;
                        }
                        catch (RpcException e)
                        {
                            last = e.Status.Detail;
                            return false;
                        }
                    }, $"profile {profile} is refused");
                }
                catch (TimeoutException e)
                {
                    throw new TimeoutException($"{e.Message} Last answer: {last}", e);
                }
            }

            var everything = string.Join("\n", refused.Concat(scaler.Process.StdoutLines).Concat(scaler.Process.StderrLines));
            Assert.All(refused, detail => Assert.Contains("Authorization Violation", detail, StringComparison.Ordinal));
            Assert.Contains("NATS.Client", everything, StringComparison.Ordinal); // the library's own trace is in the output
            Assert.DoesNotContain(Token, everything, StringComparison.Ordinal);
            Assert.DoesNotContain(Password, everything, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(profiles, recursive: true);
        }
    }
}
