using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Updraft.Shared.Routes;

/// <summary>
/// Follows a standalone routes file: reads it, and re-reads it whenever it changes (file-system events, plus a poll for
/// the cases events miss, such as a Kubernetes ConfigMap's symlink swap). A changed version is acted on only once its
/// content has stayed the same for <see cref="SettleTime"/>, so a file still being written is never applied half-way.
/// Each settled version that parses is handed to <c>applied</c>; a version with problems (or a file that cannot be
/// read) goes to <c>rejected</c> and nothing else happens, so the previous routes stay in force. Used by both the
/// interceptor and the scaler.
/// </summary>
public sealed class RoutesFileWatcher : IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a new version must stay unchanged before it is applied. Short enough for a change to take effect at
    /// once and for a file rewritten every second to apply each version; writers that pause for longer in the middle of
    /// a file should write another file and rename it over this one.
    /// </summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(500);

    private const int HashChunkBytes = 64 * 1024;

    // A burst of file events (an editor's save, other files in the directory) costs one read, not one per event.
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(50);

    private readonly string _path;
    private readonly RouteEnvironment _environment;
    private readonly TimeProvider _time;
    private readonly Action<RouteFileResult, int> _applied;
    private readonly Action<string> _rejected;
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private string? _handledVersion;
    private string? _pendingVersion;
    private DateTimeOffset _pendingSince;
    private int _routeCount;
    private FileSystemWatcher? _watcher;
    private long _confirmedAt;
    private string? _lastProblem;

    /// <param name="path">The file, as the user named it (messages use this form).</param>
    /// <param name="environment">Standalone or Kubernetes rules for targets.</param>
    /// <param name="time">Clock for the poll and the settle time.</param>
    /// <param name="applied">Receives every new version that parsed, and how many routes were in force before it.</param>
    /// <param name="rejected">Receives one line per rejected version or read failure.</param>
    public RoutesFileWatcher(string path, RouteEnvironment environment, TimeProvider time, Action<RouteFileResult, int> applied, Action<string> rejected)
    {
        DisplayPath = path;
        _path = Path.GetFullPath(path);
        _environment = environment;
        _time = time;
        _applied = applied;
        _rejected = rejected;
    }

    public string DisplayPath { get; }

    /// <summary>
    /// When the file was last read whole (a <see cref="TimeProvider"/> timestamp; 0 before the first read): the routes in
    /// force are known to match it, or a version with problems was found in it and reported. Read at least every
    /// <see cref="PollInterval"/> while <see cref="RunAsync"/> runs.
    /// </summary>
    public long ConfirmedAt => Interlocked.Read(ref _confirmedAt);

    /// <summary>Why the last read failed (missing, unreadable, too large), or null when it succeeded.</summary>
    public string? LastProblem => Volatile.Read(ref _lastProblem);

    /// <summary>How many reads kept the whole file (and decoded it, unless too large): only those of a pipe, or of a
    /// version other than the one in force.</summary>
    internal int WholeReads { get; private set; }

    /// <summary>Why events are not available (the poll still runs), or null.</summary>
    public string? WatchProblem { get; private set; }

    /// <summary>Reads and parses the file once, for start-up: the caller decides what problems mean.</summary>
    /// <returns>Lines describing every problem (empty when the file was applied).</returns>
    public async Task<IReadOnlyList<string>> LoadAsync(CancellationToken cancellationToken)
    {
        var version = await ReadAsync(cancellationToken);
        if (version.Problem is not null)
        {
            return [$"{DisplayPath}: {version.Problem}"];
        }

        var result = Parse(version);
        if (!result.Succeeded)
        {
            return [.. result.Problems.Select(p => p.Format(DisplayPath))];
        }

        _handledVersion = version.Id;
        Apply(result);
        return [];
    }

    /// <summary>Watches until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _watcher ??= TryWatch();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var next = await CheckAsync(cancellationToken);
                await WaitForChangeAsync(next, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Reads the file once. A version not seen before starts its settle time; one that has stayed the same for
    /// <see cref="SettleTime"/> is applied (or rejected). Returns when to look again at the latest.
    /// </summary>
    internal async Task<TimeSpan> CheckAsync(CancellationToken cancellationToken)
    {
        var version = await ReadAsync(cancellationToken);
        if (version.Id == _handledVersion)
        {
            _pendingVersion = null; // back to what is in force
            return PollInterval;
        }

        var now = _time.GetUtcNow();
        if (version.Id != _pendingVersion)
        {
            _pendingVersion = version.Id;
            _pendingSince = now;
            return SettleTime;
        }

        var unchangedFor = now - _pendingSince;
        if (unchangedFor < SettleTime)
        {
            return SettleTime - unchangedFor;
        }

        _pendingVersion = null;
        _handledVersion = version.Id; // act once per version: a rejected or unreadable file is reported once
        if (version.Problem is not null)
        {
            _rejected(version.Problem);
            return PollInterval;
        }

        var result = Parse(version);
        if (result.Succeeded)
        {
            Apply(result);
        }
        else
        {
            _rejected(string.Join("; ", result.Problems.Select(p => p.Format())));
        }

        return PollInterval;
    }

    private void Apply(RouteFileResult result)
    {
        var before = _routeCount;
        _routeCount = result.Routes.Count;
        _applied(result, before);
    }

    private RouteFileResult Parse(FileVersion version)
    {
        try
        {
            return RouteFileParser.Parse(version.Text!, _environment, Path.GetDirectoryName(_path));
        }
        finally
        {
            ReleaseParserMemory();
        }
    }

    /// <summary>
    /// Reads the whole file, but never more than <see cref="RouteFileLimits.MaxBytes"/> of it. The version's id is a
    /// hash of the bytes (or names the read failure), so an unchanged file is recognised without keeping its text.
    /// </summary>
    private async Task<FileVersion> ReadAsync(CancellationToken cancellationToken)
    {
        var version = await ReadVersionAsync(cancellationToken);
        if (version.Problem is null)
        {
            Interlocked.Exchange(ref _confirmedAt, _time.GetTimestamp());
        }

        Volatile.Write(ref _lastProblem, version.Problem);
        return version;
    }

    /// <summary>
    /// Reads the file. It is polled every <see cref="PollInterval"/>, and what almost every poll finds is the version in
    /// force, so a regular file is first only hashed, in one small pooled chunk at a time: that leaves no garbage and
    /// keeps no copy of a large file in a pool. Only a new version (or a pipe, which can be read once) is read whole,
    /// into pooled buffers, and decoded.
    /// </summary>
    private async Task<FileVersion> ReadVersionAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
            if (file.CanSeek)
            {
                var (id, tooLarge) = await HashAsync(file, cancellationToken);
                if (id == _handledVersion || tooLarge)
                {
                    return tooLarge ? FileVersion.Unusable(id, RouteFileLimits.TooLarge) : FileVersion.InForce(id);
                }

                file.Position = 0;
            }

            return await ReadWholeAsync(file, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var problem = $"cannot read the routes file: {e.Message}";
            return FileVersion.Unusable("unreadable:" + problem, problem);
        }
    }

    /// <summary>The version id <see cref="ReadWholeAsync"/> would give the same bytes, without keeping them.</summary>
    private async Task<(string Id, bool TooLarge)> HashAsync(FileStream file, CancellationToken cancellationToken)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(HashChunkBytes);
        try
        {
            // One byte past the limit tells a file at the limit from a larger one, as in the whole read.
            var length = 0L;
            while (length <= RouteFileLimits.MaxBytes)
            {
                var read = await file.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, RouteFileLimits.MaxBytes + 1L - length)), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                _hash.AppendData(chunk, 0, read);
                length += read;
            }

            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            _hash.GetHashAndReset(digest);
            var hex = Convert.ToHexString(digest);
            return length > RouteFileLimits.MaxBytes ? (TooLargeId(hex), true) : (hex, false);
        }
        catch
        {
            _hash.GetHashAndReset(); // a read failed part-way: the next poll starts from nothing
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>Reads the whole file, but never more than <see cref="RouteFileLimits.MaxBytes"/> of it, and decodes it.</summary>
    private async Task<FileVersion> ReadWholeAsync(FileStream file, CancellationToken cancellationToken)
    {
        WholeReads++;
        var buffer = Array.Empty<byte>();
        var length = 0;
        try
        {
            // Size from the file system when it has one, but read to the end regardless: the file can grow meanwhile,
            // and special files report 0. One byte past the limit tells a file at the limit from a larger one.
            buffer = ArrayPool<byte>.Shared.Rent(file.CanSeek ? (int)Math.Min(file.Length + 1, RouteFileLimits.MaxBytes + 1L) : HashChunkBytes);
            while (true)
            {
                var capacity = Math.Min(buffer.Length, RouteFileLimits.MaxBytes + 1);
                if (length == capacity)
                {
                    if (length > RouteFileLimits.MaxBytes)
                    {
                        return FileVersion.Unusable(TooLargeId(Hash(buffer, length)), RouteFileLimits.TooLarge);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, RouteFileLimits.MaxBytes + 1L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                    continue;
                }

                var read = await file.ReadAsync(buffer.AsMemory(length, capacity - length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            var id = Hash(buffer, length);
            if (id == _handledVersion)
            {
                return FileVersion.InForce(id); // a pipe, or a file changed back between the hash and this read
            }

            // As File.ReadAllText: UTF-8 unless a byte order mark says otherwise.
            using var reader = new StreamReader(new MemoryStream(buffer, 0, length, writable: false), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return FileVersion.New(id, await reader.ReadToEndAsync(cancellationToken));
        }
        finally
        {
            if (buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static string Hash(byte[] buffer, int length) => Convert.ToHexString(SHA256.HashData(buffer.AsSpan(0, length)));

    private static string TooLargeId(string hash) => "too-large:" + hash;

    /// <summary>Waits for a file event or for <paramref name="timeout"/> on the watcher's clock, whichever is first.</summary>
    private async Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            await _changed.WaitAsync(either.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return; // time to poll, or the settle time is over
        }

        await Task.Delay(Debounce, _time, cancellationToken);
    }

    /// <summary>
    /// Reading thousands of routes leaves tens of megabytes of parser garbage, which the GC would otherwise keep
    /// committed for good; a routes file changes rarely, so compact and return that memory to the OS now (also after a
    /// rejected version, which may have been as large).
    /// </summary>
    private static void ReleaseParserMemory() => Hosting.UnusedMemory.Release();

    private FileSystemWatcher? TryWatch()
    {
        try
        {
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += OnFileEvent;
            watcher.Created += OnFileEvent;
            watcher.Deleted += OnFileEvent;
            watcher.Renamed += OnFileEvent;
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            WatchProblem = $"file events unavailable, polling every {PollInterval.TotalSeconds} s: {e.Message}";
            return null;
        }
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // A check is already pending.
        }
        catch (ObjectDisposedException)
        {
            // Shutting down.
        }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _changed.Dispose();
        _hash.Dispose();
    }

    /// <summary>
    /// One reading of the file, named by <see cref="Id"/>: the version in force (not decoded again), a new version and
    /// its text, or the problem that stops it from being used.
    /// </summary>
    private readonly record struct FileVersion(string Id, string? Text, string? Problem)
    {
        public static FileVersion InForce(string id) => new(id, null, null);

        public static FileVersion New(string id, string text) => new(id, text, null);

        public static FileVersion Unusable(string id, string problem) => new(id, null, problem);
    }
}
