using Updraft.Interceptor.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Updraft.Interceptor.Tests.Differential;

/// <summary>
/// nginx and the interceptor, each in front of its own <see cref="WireRecorder"/> (the same upstream code, so nothing
/// one proxy sends can be mistaken for the other's), for one test class.
/// </summary>
public sealed class DifferentialFixture : IAsyncLifetime
{
    internal WireRecorder NginxUpstream { get; } = WireRecorder.Start();

    internal WireRecorder InterceptorUpstream { get; } = WireRecorder.Start();

    internal NginxProcess Nginx { get; private set; } = null!;

    internal TestInterceptor Interceptor { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Nginx = await NginxProcess.StartAsync(NginxUpstream.Port);
        // A catch-all route: every odd Host reaches the upstream, as it does through nginx's one server block.
        Interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("differential", InterceptorUpstream.Port));
    }

    public async Task DisposeAsync()
    {
        if (Interceptor is not null)
        {
            await Interceptor.DisposeAsync();
        }

        if (Nginx is not null)
        {
            await Nginx.DisposeAsync();
        }

        await NginxUpstream.DisposeAsync();
        await InterceptorUpstream.DisposeAsync();
    }
}

/// <summary>
/// The differential test of the forwarding path: each <see cref="OddRequests"/> case goes as raw bytes to nginx and to
/// the interceptor, and what the client got and what the upstream received must be the same, or differ exactly as the
/// case's <see cref="DifferentialDecisions"/> entry says (a decision, or a known bug still to fix).
/// </summary>
public sealed class NginxDifferentialTests(DifferentialFixture fixture, ITestOutputHelper output) : IClassFixture<DifferentialFixture>
{
    public static TheoryData<string> Cases() => [.. OddRequests.All.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Forward_OddRequest_SameAsNginxOrRecordedDifference(string name)
    {
        var request = OddRequests.Named(name);
        var nginx = Observation.Of(await RawExchange.SendAsync(fixture.Nginx.Port, request), fixture.NginxUpstream.Take(), fixture.NginxUpstream.Port);
        var updraft = Observation.Of(await RawExchange.SendAsync(fixture.Interceptor.ProxyPort, request), fixture.InterceptorUpstream.Take(), fixture.InterceptorUpstream.Port);

        var nginxOnly = Observation.Except(nginx, updraft);
        var updraftOnly = Observation.Except(updraft, nginx);
        var report = $"""
            case {name}
            nginx only:
              {string.Join("\n  ", nginxOnly)}
            updraft only:
              {string.Join("\n  ", updraftOnly)}
            both:
              {string.Join("\n  ", Observation.Except(nginx, nginxOnly))}
            """;
        output.WriteLine(report);

        var recorded = DifferentialDecisions.For(name);
        if (recorded is null)
        {
            Assert.True(nginxOnly.Count == 0 && updraftOnly.Count == 0, "nginx and the interceptor differ, and no decision explains it (a bug, or a decision to record):\n" + report);
        }
        else
        {
            Assert.True(
                nginxOnly.SequenceEqual(recorded.NginxOnly) && updraftOnly.SequenceEqual(recorded.UpdraftOnly),
                $"the difference is no longer the recorded {recorded.Verdict} ({recorded.Why}); update DifferentialDecisions:\n{report}");
        }
    }

    [Fact]
    public void Decisions_EachNamesACase()
    {
        foreach (var name in DifferentialDecisions.All.Keys)
        {
            Assert.Contains(OddRequests.All, c => c.Name == name);
        }
    }
}
