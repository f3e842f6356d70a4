using Updraft.Interceptor.Local;

namespace Updraft.Interceptor.Tests.Local;

/// <summary>What the feed and <c>UPDRAFT_LOCAL_REPLICAS</c> accept as <c>host:port</c>, and its canonical forms.</summary>
public sealed class ReplicaAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1:8080")]
    [InlineData("10.1.2.3:1", "10.1.2.3:1", "10.1.2.3:1")]
    [InlineData("[::1]:65535", "[::1]:65535", "::1:65535")]
    [InlineData("[0:0:0:0:0:0:0:1]:9092", "[::1]:9092", "::1:9092")]
    [InlineData("LocalHost:9092", "localhost:9092", "localhost:9092")]
    [InlineData("replica-1.example.com:443", "replica-1.example.com:443", "replica-1.example.com:443")]
    [InlineData("a:80", "a:80", "a:80")]
    public void TryParse_Valid_CanonicalAuthorityAndEndpoint(string text, string authority, string endpoint)
    {
        Assert.True(ReplicaAddress.TryParse(text, out var address));
        Assert.Equal(authority, address.Authority);
        Assert.Equal(endpoint, address.Endpoint);
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData(":8080")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("127.0.0.1:-1")]
    [InlineData("127.0.0.1:+80")]
    [InlineData("127.0.0.1:8 0")]
    [InlineData("127.0.0.1:123456")]
    [InlineData(" 127.0.0.1:80")]
    [InlineData("127.0.0.1:80 ")]
    [InlineData("http://127.0.0.1:80")]
    [InlineData("127.0.0.1:80/path")]
    [InlineData("::1:80")]
    [InlineData("[::1]")]
    [InlineData("[::1]80")]
    [InlineData("[::1:80")]
    [InlineData("[fe80::1%eth0]:80")]
    [InlineData("[127.0.0.1]:80")]
    [InlineData("127.1:80")]
    [InlineData("256.0.0.1:80")]
    [InlineData("01.2.3.4:80")]
    [InlineData("1.2.3.4.5:80")]
    [InlineData("foo.123:80")]
    [InlineData("-host:80")]
    [InlineData("host-:80")]
    [InlineData("a..b:80")]
    [InlineData(".a:80")]
    [InlineData("under_score:80")]
    [InlineData("user@host:80")]
    [InlineData("h\u00f6st:80")]
    [InlineData("host\n:80")]
    public void TryParse_Malformed_Refused(string text) => Assert.False(ReplicaAddress.TryParse(text, out _));

    [Fact]
    public void TryParse_OverlongNames_Refused()
    {
        Assert.False(ReplicaAddress.TryParse(new string('a', 64) + ":80", out _));
        Assert.True(ReplicaAddress.TryParse(new string('a', 63) + ":80", out _));
        Assert.False(ReplicaAddress.TryParse(string.Join('.', Enumerable.Repeat(new string('a', 50), 6)) + ":80", out _));
        Assert.False(ReplicaAddress.TryParse(new string('1', 10_000) + ":80", out _));
        Assert.False(ReplicaAddress.TryParse(null, out _));
    }
}
