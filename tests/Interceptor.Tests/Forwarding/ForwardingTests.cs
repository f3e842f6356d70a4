using System.Net;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

public sealed class ForwardingTests
{
    [Fact]
    public async Task Forward_KnownRoute_ReachesUpstreamWithOriginalHostAndForwardedHeaders()
    {
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            var h = context.Request.Headers;
            return context.Response.WriteAsync($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}|{h.Host}|{h["X-Forwarded-For"]}|{h["X-Forwarded-Host"]}|{h["X-Forwarded-Proto"]}");
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.example.com"]));

        using var response = await interceptor.GetAsync("app.example.com:8080", "/a/b?x=1&y=%20");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("GET /a/b?x=1&y=%20|app.example.com:8080|127.0.0.1|app.example.com:8080|http", await response.Content.ReadAsStringAsync());
        Assert.Equal("false", response.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
    }

    [Fact]
    public async Task Forward_UnknownHost_Returns404PlainText()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.example.com"]));

        using var response = await interceptor.GetAsync("other.example.com", "/");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("Not Found\n", await response.Content.ReadAsStringAsync());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }
}
