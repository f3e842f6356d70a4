using Updraft.Shared.Routes;

namespace Updraft.Shared.Tests.Routes;

public sealed class HostNamesTests
{
    [Theory]
    [InlineData("app.example.com", "app.example.com")]
    [InlineData("App.Example.COM", "app.example.com")]
    [InlineData("app.example.com:8080", "app.example.com")]
    [InlineData("app.example.com:", "app.example.com")]
    [InlineData("app.example.com.", "app.example.com")]
    [InlineData("  app.example.com  ", "app.example.com")]
    [InlineData("*.example.com", "*.example.com")]
    [InlineData("*.Example.COM:8443", "*.example.com")]
    [InlineData("*.b.example.com", "*.b.example.com")]
    [InlineData("*", "*")]
    [InlineData("", "*")]
    [InlineData(null, "*")]
    [InlineData("10.0.0.1:80", "10.0.0.1")]
    [InlineData("[::1]:8080", "::1")]
    [InlineData("[::1]", "::1")]
    [InlineData("::1", "::1")]
    [InlineData("[FE80::1]", "fe80::1")]
    [InlineData("my_host.local", "my_host.local")]
    [InlineData("localhost", "localhost")]
    public void TryNormalizeRouteHost_ValidHost_ReturnsNormalizedForm(string? host, string expected)
    {
        var error = HostNames.TryNormalizeRouteHost(host, out var normalized);

        Assert.Null(error);
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData("foo.*.com", "'*' is only allowed as the whole leftmost label")]
    [InlineData("*.*.example.com", "'*' is only allowed as the whole leftmost label")]
    [InlineData("**.example.com", "'*' is only allowed as the whole leftmost label")]
    [InlineData("*example.com", "'*' is only allowed as the whole leftmost label")]
    [InlineData("example.*", "'*' is only allowed as the whole leftmost label")]
    [InlineData("*.", "'*' is only allowed as the whole leftmost label")] // the trailing dot goes, leaving "*"+nothing
    [InlineData("*..", "a wildcard needs a domain after '*.'")]
    [InlineData(":8080", "is empty after removing the port")]
    [InlineData("[]:80", "is empty after removing the port")]
    [InlineData("a..example.com", "has an empty label")]
    [InlineData(".example.com", "has an empty label")]
    [InlineData("example.com..", "has an empty label")]
    [InlineData("a b.com", "contains ' '")]
    [InlineData("example.com/path", "contains '/'")]
    [InlineData("user@example.com", "contains '@'")]
    [InlineData("exämple.com", "contains 'ä'")]
    public void TryNormalizeRouteHost_InvalidHost_ReturnsError(string host, string expectedError)
    {
        var error = HostNames.TryNormalizeRouteHost(host, out var normalized);

        Assert.NotNull(error);
        Assert.Contains(expectedError, error, StringComparison.Ordinal);
        Assert.Equal(HostNames.CatchAll, normalized);
    }

    // Request hosts keep their case (the route table compares ignoring case) but lose port, brackets and one trailing dot.
    [Theory]
    [InlineData("app.example.com", "app.example.com")]
    [InlineData("App.Example.com:8080", "App.Example.com")]
    [InlineData("app.example.com.", "app.example.com")]
    [InlineData("app.example.com.:80", "app.example.com")]
    [InlineData("[::1]:8080", "::1")]
    [InlineData("[::1]", "::1")]
    [InlineData("::1", "::1")]
    [InlineData("[::1", "::1")]
    [InlineData("127.0.0.1:5000", "127.0.0.1")]
    [InlineData(".", ".")]
    [InlineData("", "")]
    public void ForMatching_RequestHost_StripsPortBracketsAndTrailingDot(string host, string expected) =>
        Assert.Equal(expected, HostNames.ForMatching(host).ToString());
}
