using System.Text;

namespace Updraft.Local.Replicas;

/// <summary>
/// Re-prints a replica's stdout or stderr on ours, line by line, each prefixed with <c>[namespace/name#index] </c>.
/// Memory is bounded whatever the replica writes: a line longer than <see cref="MaxLineBytes"/> is printed cut, with
/// <see cref="CutMarker"/>, and the rest of it is skipped up to its end.
/// </summary>
internal static class ReplicaOutput
{
    public const int MaxLineBytes = 4096;
    public const string CutMarker = " [line cut at 4 KiB]";

    /// <summary>Copies until the end of the stream (every writer of the pipe closed it) or a read fails.</summary>
    public static async Task PumpAsync(Stream source, string prefix, TextWriter output)
    {
        var buffer = new byte[8192];
        var line = new byte[MaxLineBytes];
        var length = 0;
        var cut = false;
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer)) > 0)
            {
                var rest = buffer.AsSpan(0, read);
                while (rest.Length > 0)
                {
                    var newline = rest.IndexOf((byte)'\n');
                    var piece = newline < 0 ? rest : rest[..newline];
                    if (!cut)
                    {
                        var room = MaxLineBytes - length;
                        if (piece.Length > room)
                        {
                            piece[..room].CopyTo(line.AsSpan(length));
                            length = MaxLineBytes;
                            Write(output, prefix, line.AsSpan(0, length), cut: true);
                            cut = true;
                        }
                        else
                        {
                            piece.CopyTo(line.AsSpan(length));
                            length += piece.Length;
                        }
                    }

                    if (newline < 0)
                    {
                        break;
                    }

                    if (!cut)
                    {
                        Write(output, prefix, line.AsSpan(0, length), cut: false);
                    }

                    length = 0;
                    cut = false;
                    rest = rest[(newline + 1)..];
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The pipe broke or was closed with the process: print what was read.
        }

        if (length > 0 && !cut)
        {
            Write(output, prefix, line.AsSpan(0, length), cut: false);
        }
    }

    private static void Write(TextWriter output, string prefix, ReadOnlySpan<byte> line, bool cut)
    {
        if (!cut && line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        try
        {
            output.WriteLine(prefix + Encoding.UTF8.GetString(line) + (cut ? CutMarker : ""));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Our own stdout is gone: keep reading, so the replica never blocks on a full pipe.
        }
    }
}
