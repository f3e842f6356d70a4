using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Updraft.Shared.Routes;

/// <summary>
/// How big a routes file may be. A real file is far inside every limit: 10,000 routes written out in full (labels,
/// annotations, several rules each) are 6.5 MB, 690,000 YAML nodes and 6 levels deep. The limits exist because a hostile
/// or broken file must be rejected with a message, never take the process down: YamlDotNet recurses once per level
/// (a 100 KB file of brackets overflowed the stack) and the route binder writes an alias out each time it is used (a
/// 565-byte "billion laughs" file took gigabytes).
/// </summary>
internal static class RouteFileLimits
{
    /// <summary>The file's size in bytes (16 MiB: 2.5 times 10,000 fully written-out routes).</summary>
    public const int MaxBytes = 16 * 1024 * 1024;

    /// <summary>
    /// Mappings and sequences inside each other, an alias counting as the levels it stands for. A route needs 6; 32
    /// stays below the JSON binder's own limit (64), so a deep file always gets this message.
    /// </summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// Mappings, sequences and scalars in the whole file, each alias counting as the nodes it repeats (about 3 times
    /// 10,000 fully written-out routes). This bounds the parser's memory and what aliases can expand to.
    /// </summary>
    public const int MaxNodes = 2_000_000;

    public static string TooLarge => $"the file is larger than the limit of {MaxBytes / (1024 * 1024)} MiB";

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

/// <summary>A routes file went past one of <see cref="RouteFileLimits"/>; the message names the place and the limit.</summary>
internal sealed class RouteFileLimitException(int document, string message) : Exception(message)
{
    /// <summary>1-based, as in the other routes file problems.</summary>
    public int Document { get; } = document;
}

/// <summary>
/// Passes YamlDotNet's parsing events through and stops with <see cref="RouteFileLimitException"/> at the first event
/// past a limit. The events are produced without recursion; the document loader recurses once per level and copies
/// nothing for an alias, so checking each event before the loader sees it bounds both its stack and the expansion
/// done later. Aliases must name an anchor that is complete before them (YAML's rule; YamlDotNet also resolves
/// forward and self references, which would make a cycle).
/// </summary>
internal sealed class BoundedYamlParser(IParser inner) : IParser
{
    private readonly List<Collection> _open = [];
    private readonly Dictionary<AnchorName, (long Nodes, int Depth)> _anchors = [];
    private long _nodes;
    private int _document;

    public ParsingEvent? Current => inner.Current;

    public bool MoveNext()
    {
        if (!inner.MoveNext())
        {
            return false;
        }

        switch (inner.Current)
        {
            case DocumentStart:
                _document++;
                _anchors.Clear(); // anchors belong to their document
                break;
            case NodeEvent start and (MappingStart or SequenceStart):
                CountNodes(1, start, alias: null);
                if (_open.Count >= RouteFileLimits.MaxDepth)
                {
                    throw Fail($"nested deeper than the limit of {RouteFileLimits.MaxDepth} levels at {Where(start)}");
                }

                _open.Add(new Collection(start.Anchor));
                break;
            case MappingEnd or SequenceEnd:
                var closed = _open[^1];
                _open.RemoveAt(_open.Count - 1);
                if (!closed.Anchor.IsEmpty)
                {
                    _anchors[closed.Anchor] = (closed.Nodes, closed.Depth);
                }

                AddToParent(closed.Nodes, closed.Depth);
                break;
            case Scalar scalar:
                CountNodes(1, scalar, alias: null);
                if (!scalar.Anchor.IsEmpty)
                {
                    _anchors[scalar.Anchor] = (1, 0);
                }

                AddToParent(1, 0);
                break;
            case AnchorAlias alias:
                if (!_anchors.TryGetValue(alias.Value, out var target))
                {
                    var open = _open.Exists(c => c.Anchor.Equals(alias.Value));
                    throw Fail(open
                        ? $"alias *{alias.Value} at {Where(alias)} refers to a node that contains it"
                        : $"alias *{alias.Value} at {Where(alias)} refers to no anchor defined before it");
                }

                if (_open.Count + target.Depth > RouteFileLimits.MaxDepth)
                {
                    throw Fail($"alias *{alias.Value} at {Where(alias)} nests deeper than the limit of {RouteFileLimits.MaxDepth} levels");
                }

                CountNodes(target.Nodes, alias, alias.Value);
                AddToParent(target.Nodes, target.Depth);
                break;
        }

        return true;
    }

    private void CountNodes(long count, ParsingEvent at, AnchorName? alias)
    {
        _nodes += count;
        if (_nodes > RouteFileLimits.MaxNodes)
        {
            throw Fail(alias is { } name
                ? $"alias *{name} at {Where(at)} expands the file past the limit of {RouteFileLimits.Count(RouteFileLimits.MaxNodes)} YAML nodes (an alias counts as the nodes it repeats)"
                : $"more than the limit of {RouteFileLimits.Count(RouteFileLimits.MaxNodes)} YAML nodes at {Where(at)}");
        }
    }

    private void AddToParent(long nodes, int depth)
    {
        if (_open.Count > 0)
        {
            var parent = _open[^1];
            parent.Nodes += nodes;
            parent.Depth = Math.Max(parent.Depth, depth + 1);
        }
    }

    private RouteFileLimitException Fail(string message) => new(Math.Max(_document, 1), message);

    private static string Where(ParsingEvent at) => $"line {at.Start.Line}, column {at.Start.Column}";

    /// <summary>An open mapping or sequence: its nodes and levels so far (itself included), for an alias to it later.</summary>
    private sealed class Collection(AnchorName anchor)
    {
        public AnchorName Anchor { get; } = anchor;

        public long Nodes { get; set; } = 1;

        public int Depth { get; set; } = 1;
    }
}
