using System.Text;

namespace Updraft.Interceptor.Forwarding.Http1;

/// <summary>
/// The strings of the last response's header lines on one connection, by position: an upstream sends the same names
/// (and mostly the same values) in the same order on every response, so a keep-alive connection makes them once.
/// </summary>
internal sealed class HeaderStrings
{
    private const int Slots = 32;
    private const int MaxCachedLength = 256;

    private readonly Entry[] _names = new Entry[Slots];
    private readonly Entry[] _values = new Entry[Slots];

    public string Name(int index, ReadOnlySpan<byte> bytes) => Get(_names, index, bytes);

    public string Value(int index, ReadOnlySpan<byte> bytes) => Get(_values, index, bytes);

    private static string Get(Entry[] entries, int index, ReadOnlySpan<byte> bytes)
    {
        if (index >= Slots || bytes.Length > MaxCachedLength)
        {
            return Encoding.Latin1.GetString(bytes);
        }

        ref var entry = ref entries[index];
        if (entry.Text is not null && bytes.SequenceEqual(entry.Bytes))
        {
            return entry.Text;
        }

        entry = new Entry(bytes.ToArray(), Encoding.Latin1.GetString(bytes));
        return entry.Text;
    }

    private record struct Entry(byte[] Bytes, string Text);
}
