using System.Net.Sockets;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary>
/// The admin and metrics listeners can be bound apart from the proxy (for example to localhost, so that only the pod
/// itself and a sidecar reach <c>/queue</c> and <c>/metrics</c>). 127.0.0.2 is a loopback address of its own on Linux.
/// </summary>
public sealed class BindAddressTests
{
    [Fact]
    public async Task AdminAndMetricsBoundApart_AnswerOnlyOnTheirOwnAddress()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("up");
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.example.com"]),
            new Dictionary<string, string?>
            {
                ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
                ["UPDRAFT_ADMIN_BIND_ADDRESS"] = "127.0.0.2",
                ["UPDRAFT_METRICS_BIND_ADDRESS"] = "127.0.0.2",
            });
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        using var proxied = await interceptor.GetAsync("app.example.com", "/");
        Assert.Equal(System.Net.HttpStatusCode.OK, proxied.StatusCode);
        Assert.Contains("\"default/app\"", await client.GetStringAsync(new Uri($"http://127.0.0.2:{interceptor.AdminPort}/queue")), StringComparison.Ordinal);
        Assert.Contains("# TYPE", await client.GetStringAsync(new Uri($"http://127.0.0.2:{interceptor.MetricsPort}/metrics")), StringComparison.Ordinal);

        await AssertRefusedAsync(client, $"http://127.0.0.1:{interceptor.AdminPort}/queue");
        await AssertRefusedAsync(client, $"http://127.0.0.1:{interceptor.MetricsPort}/metrics");
    }

    private static async Task AssertRefusedAsync(HttpClient client, string url)
    {
        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri(url)));
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(failure.InnerException).SocketErrorCode);
    }
}
