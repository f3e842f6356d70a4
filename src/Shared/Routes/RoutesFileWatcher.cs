namespace Updraft.Shared.Routes;

/// <summary>
/// Follows a standalone routes file: reads it, and re-reads it whenever it changes (file-system events, plus a poll for
/// the cases events miss, such as a Kubernetes ConfigMap's symlink swap). Each changed version that parses is handed
/// to <c>applied</c>; a version with problems goes to <c>rejected</c> and nothing else happens, so the previous
/// routes stay in force. Used by both the interceptor and the scaler.
/// </summary>
public sealed class RoutesFileWatcher : IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(50);

    private readonly string _path;
    private readonly RouteEnvironment _environment;
    private readonly TimeProvider _time;
    private readonly Action<RouteFileResult> _applied;
    private readonly Action<string> _rejected;
    private readonly SemaphoreSlim _changed = new(0, 1);
    private string? _lastSeenText;
    private FileSystemWatcher? _watcher;

    /// <param name="path">The file, as the user named it (messages use this form).</param>
    /// <param name="environment">Standalone or Kubernetes rules for targets.</param>
    /// <param name="time">Clock for the poll and the debounce.</param>
    /// <param name="applied">Receives every new version that parsed.</param>
    /// <param name="rejected">Receives one line per rejected version or read failure.</param>
    public RoutesFileWatcher(string path, RouteEnvironment environment, TimeProvider time, Action<RouteFileResult> applied, Action<string> rejected)
    {
        DisplayPath = path;
        _path = Path.GetFullPath(path);
        _environment = environment;
        _time = time;
        _applied = applied;
        _rejected = rejected;
    }

    public string DisplayPath { get; }

    /// <summary>Why events are not available (the poll still runs), or null.</summary>
    public string? WatchProblem { get; private set; }

    /// <summary>Reads and parses the file once, for start-up: the caller decides what problems mean.</summary>
    /// <returns>Lines describing every problem (empty when the file was applied).</returns>
    public async Task<IReadOnlyList<string>> LoadAsync(CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(_path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [$"{DisplayPath}: cannot read the routes file: {e.Message}"];
        }

        var result = RouteFileParser.Parse(text, _environment);
        if (!result.Succeeded)
        {
            return [.. result.Problems.Select(p => p.Format(DisplayPath))];
        }

        _lastSeenText = text;
        _applied(result);
        ReleaseParserMemory();
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
                if (await _changed.WaitAsync(PollInterval, cancellationToken))
                {
                    // Editors often write a file in several steps; let them finish.
                    await Task.Delay(Debounce, _time, cancellationToken);
                }

                await ReloadAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Reads the file and applies it when it changed.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(_path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (_lastSeenText is not null)
            {
                _lastSeenText = null; // report once per outage, and re-apply when the file comes back
                _rejected($"cannot read the routes file: {e.Message}");
            }

            return;
        }

        if (text == _lastSeenText)
        {
            return;
        }

        _lastSeenText = text;
        var result = RouteFileParser.Parse(text, _environment);
        if (result.Succeeded)
        {
            _applied(result);
            ReleaseParserMemory();
        }
        else
        {
            _rejected(string.Join("; ", result.Problems.Select(p => p.Format())));
        }
    }

    /// <summary>
    /// Reading thousands of routes leaves tens of megabytes of parser garbage, which the GC would otherwise keep
    /// committed for good; a routes file changes rarely, so compact and return that memory to the OS now.
    /// </summary>
    private static void ReleaseParserMemory() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

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
            // A reload is already pending.
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
    }
}
