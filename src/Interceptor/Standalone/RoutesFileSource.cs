using Microsoft.Extensions.Options;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Standalone;

/// <summary>
/// Standalone mode's route source: a YAML file of InterceptorRoute/HTTPScaledObject documents. At start-up any
/// problem stops the process (one line per problem). Afterwards the file is watched (file-system events, plus a
/// poll for the cases events miss, such as a Kubernetes ConfigMap's symlink swap) and each changed version is applied
/// with one atomic table swap; a version with problems is logged and counted, and the previous table stays.
/// </summary>
internal sealed class RoutesFileSource(
    IOptions<InterceptorOptions> options,
    RouteTablePublisher publisher,
    InterceptorMetrics metrics,
    TimeProvider time,
    ILogger<RoutesFileSource> logger) : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(50);

    private readonly SemaphoreSlim _changed = new(0, 1);
    private string? _lastSeenText;
    private FileSystemWatcher? _watcher;

    private string Path => System.IO.Path.GetFullPath(options.Value.RoutesFile!);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(Path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupProblemsException([$"{options.Value.RoutesFile}: cannot read the routes file: {e.Message}"]);
        }

        var result = RouteFileParser.Parse(text, RouteEnvironment.Standalone);
        if (!result.Succeeded)
        {
            throw new StartupProblemsException([.. result.Problems.Select(p => p.Format(options.Value.RoutesFile))]);
        }

        Apply(text, result);
        _watcher = TryWatch();
        await base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _watcher?.Dispose();
        _changed.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await _changed.WaitAsync(PollInterval, stoppingToken))
                {
                    // Editors often write a file in several steps; let them finish.
                    await Task.Delay(Debounce, time, stoppingToken);
                }

                await ReloadAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Reads the file and applies it when it changed. Public for tests that do not want to wait for events.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(Path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (_lastSeenText is not null)
            {
                _lastSeenText = null; // report once per outage, and re-apply when the file comes back
                Reject($"cannot read the routes file: {e.Message}");
            }

            return;
        }

        if (text == _lastSeenText)
        {
            return;
        }

        var result = RouteFileParser.Parse(text, RouteEnvironment.Standalone);
        if (!result.Succeeded)
        {
            _lastSeenText = text;
            Reject(string.Join("; ", result.Problems.Select(p => p.Format())));
            return;
        }

        Apply(text, result);
    }

    private void Apply(string text, RouteFileResult result)
    {
        publisher.Publish(result.Routes);
        _lastSeenText = text;
        metrics.RouteReloadSucceeded();
        Log.RoutesLoaded(logger, result.Routes.Count, options.Value.RoutesFile!);
    }

    private void Reject(string problem)
    {
        metrics.RouteReloadFailed();
        Log.RoutesReloadFailed(logger, options.Value.RoutesFile!, problem);
    }

    private FileSystemWatcher? TryWatch()
    {
        try
        {
            var watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(Path)!)
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
            Log.RoutesWatchFailed(logger, options.Value.RoutesFile!, PollInterval, e);
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
}
