using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using Updraft.Kubernetes.Model;

namespace Updraft.Kubernetes.Client;

/// <summary>
/// An authenticated HTTP client for the Kubernetes API, configured from a kubeconfig or the in-cluster service
/// account (KubernetesClient reads both; the requests themselves are plain HTTP so that list, watch, resource
/// versions and errors are handled exactly as Updraft needs).
/// </summary>
public sealed class KubeApiClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly KubernetesClientConfiguration _configuration;

    private KubeApiClient(KubernetesClientConfiguration configuration, string? kubeconfig)
    {
        _configuration = configuration;
        Kubeconfig = kubeconfig;
        BaseAddress = new Uri(configuration.Host.TrimEnd('/') + "/");
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // Watches are long-lived streams; one HTTP/1.1 connection each keeps them independent.
            EnableMultipleHttp2Connections = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = configuration.TlsServerName,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ValidateServer(configuration, certificate, errors),
            },
        };
        if (configuration.ClientCertificateData is not null || configuration.ClientCertificateFilePath is not null)
        {
            handler.SslOptions.ClientCertificates = [ClientCertificate(configuration)];
        }

        _http = new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("updraft");
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public Uri BaseAddress { get; }

    /// <summary>
    /// The kubeconfig file it was built from, when one was named; null means the in-cluster service account or the
    /// default lookup. A process that needs KubernetesClient's full typed client (the operator's leader election) builds
    /// that client's configuration from the same source: this library uses the trimmable <c>KubernetesClient.Aot</c>.
    /// </summary>
    public string? Kubeconfig { get; }

    /// <summary>
    /// The client for where this process runs: the in-cluster service account inside a pod, otherwise
    /// <paramref name="kubeconfig"/> (or <c>KUBECONFIG</c>, or <c>~/.kube/config</c>).
    /// </summary>
    /// <exception cref="KubeConfigurationException">The configuration is missing or unreadable (the message says which).</exception>
    public static KubeApiClient Create(string? kubeconfig)
    {
        var inCluster = KubernetesClientConfiguration.IsInCluster();
        var source = !string.IsNullOrEmpty(kubeconfig) ? $"UPDRAFT_KUBECONFIG={kubeconfig}"
            : inCluster ? "the pod's service account"
            : "KUBECONFIG or ~/.kube/config";
        // KubernetesClient falls back to http://localhost:8080 when it finds no configuration at all; that is never meant.
        if (string.IsNullOrEmpty(kubeconfig) && !inCluster && DefaultKubeconfig() is null)
        {
            throw new KubeConfigurationException($"Kubernetes mode found no cluster configuration: KUBECONFIG is not set and {Path.Combine("~", ".kube", "config")} does not exist", new FileNotFoundException());
        }

        try
        {
            var configuration = !string.IsNullOrEmpty(kubeconfig) ? KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig)
                : inCluster ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildDefaultConfig();
            return new KubeApiClient(configuration, kubeconfig);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            throw new KubeConfigurationException($"Kubernetes mode cannot read the cluster configuration from {source}: {e.Message}", e);
        }
    }

    /// <summary>The kubeconfig KubernetesClient's default lookup would read (<c>KUBECONFIG</c>, else <c>~/.kube/config</c>), or null when there is none.</summary>
    private static string? DefaultKubeconfig()
    {
        if (Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } paths)
        {
            return paths.Split(Path.PathSeparator).FirstOrDefault(File.Exists);
        }

        var home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var path = Path.Combine(home, ".kube", "config");
        return File.Exists(path) ? path : null;
    }

    /// <summary>Sends a GET; the response is returned as soon as its headers arrive (watches stream their body).</summary>
    public async Task<HttpResponseMessage> GetAsync(string pathAndQuery, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery.TrimStart('/'));
        await AuthenticateAsync(request, cancellationToken);
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    /// <summary>
    /// Sends a write (or a single GET) with a JSON body and returns the object the server answered with.
    /// </summary>
    /// <param name="method">POST, PUT, PATCH, DELETE or GET.</param>
    /// <param name="pathAndQuery">The object's or collection's path.</param>
    /// <param name="body">The JSON body, or null for none.</param>
    /// <param name="contentType">The body's media type, e.g. <c>application/merge-patch+json</c> for a PATCH.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="KubeApiException">The server answered with an error (its <c>Status</c> reason and message).</exception>
    public async Task<JsonObject?> SendAsync(HttpMethod method, string pathAndQuery, JsonNode? body, string contentType, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery.TrimStart('/'));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        await AuthenticateAsync(request, cancellationToken);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            KubeStatus? status = null;
            try
            {
                status = JsonSerializer.Deserialize(text, KubeJsonContext.Default.KubeStatus);
            }
            catch (JsonException)
            {
            }

            throw new KubeApiException(response.StatusCode, method.Method + " " + pathAndQuery, status?.Message ?? Truncate(text), status?.Reason);
        }

        return text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";

    private async Task AuthenticateAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_configuration.TokenProvider is { } provider)
        {
            request.Headers.Authorization = await provider.GetAuthenticationHeaderAsync(cancellationToken);
        }
        else if (!string.IsNullOrEmpty(_configuration.AccessToken))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _configuration.AccessToken);
        }
        else if (!string.IsNullOrEmpty(_configuration.Username))
        {
            var basic = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(_configuration.Username + ":" + _configuration.Password));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }
    }

    private static X509Certificate2 ClientCertificate(KubernetesClientConfiguration configuration)
    {
        if (configuration.ClientCertificateData is { } data && configuration.ClientCertificateKeyData is { } key)
        {
            static string Pem(string base64) => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            return X509Certificate2.CreateFromPem(Pem(data), Pem(key));
        }

        return X509Certificate2.CreateFromPemFile(configuration.ClientCertificateFilePath!, configuration.ClientKeyFilePath);
    }

    private static bool ValidateServer(KubernetesClientConfiguration configuration, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (configuration.SkipTlsVerify || errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || configuration.SslCaCerts is not { Count: > 0 } authorities || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }

        // The cluster's own CA, not the machine's trust store.
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The kubeconfig or in-cluster configuration could not be loaded.</summary>
public sealed class KubeConfigurationException(string message, Exception inner) : Exception(message, inner);

/// <summary>A non-success answer from the API server.</summary>
public sealed class KubeApiException(HttpStatusCode status, string path, string? message, string? reason = null)
    : Exception($"{(int)status} {status} from {path}{(string.IsNullOrEmpty(message) ? "" : ": " + message)}")
{
    public HttpStatusCode Status { get; } = status;

    /// <summary>The <c>Status</c> reason, e.g. <c>AlreadyExists</c> or <c>Conflict</c> (both are 409).</summary>
    public string? Reason { get; } = reason;
}
