using System.Text;
using Updraft.Local.Replicas;

namespace Updraft.Local.Tests.Replicas;

public sealed class ReplicaOutputTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100_000)]
    public async Task PumpAsync_LinesInAnyChunks_PrefixedOneByOne(int chunk)
    {
        var text = "first\r\nsecond\n\nthird without newline";

        var lines = await PumpAsync(Encoding.UTF8.GetBytes(text), chunk);

        Assert.Equal(["[demo/echo#1] first", "[demo/echo#1] second", "[demo/echo#1] ", "[demo/echo#1] third without newline"], lines);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(100_000)]
    public async Task PumpAsync_LongLines_CutAt4KiBAndTheRestSkipped(int chunk)
    {
        var exact = new string('x', ReplicaOutput.MaxLineBytes);
        var input = exact + "\n" + new string('y', ReplicaOutput.MaxLineBytes + 1) + "\n" + new string('z', 100_000) + "\nafter\n" + new string('w', 5000);

        var lines = await PumpAsync(Encoding.UTF8.GetBytes(input), chunk);

        Assert.Equal(
            [
                "[demo/echo#1] " + exact,
                "[demo/echo#1] " + new string('y', ReplicaOutput.MaxLineBytes) + ReplicaOutput.CutMarker,
                "[demo/echo#1] " + new string('z', ReplicaOutput.MaxLineBytes) + ReplicaOutput.CutMarker,
                "[demo/echo#1] after",
                "[demo/echo#1] " + new string('w', ReplicaOutput.MaxLineBytes) + ReplicaOutput.CutMarker,
            ],
            lines);
    }

    private static async Task<string[]> PumpAsync(byte[] input, int chunk)
    {
        using var output = new StringWriter { NewLine = "\n" };
        await ReplicaOutput.PumpAsync(new ChunkedStream(input, chunk), "[demo/echo#1] ", output);
        return output.ToString().Split('\n')[..^1];
    }

    /// <summary>Hands out at most <c>chunk</c> bytes per read, as a pipe may.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var length = Math.Min(Math.Min(count, chunk), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, length);
            _position += length;
            return length;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
