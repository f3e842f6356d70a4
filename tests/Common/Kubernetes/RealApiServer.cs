using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Updraft.Tests.Common.Kubernetes;

/// <summary>
/// A real kube-apiserver (v1.20, API level 1.20), etcd and the garbage collector (kube-controller-manager running only
/// that controller) on loopback, started by <c>tests/kube/apiserver.sh</c> with its state in a temp directory. Meant as an xUnit collection fixture (it takes a few seconds to start): tests that
/// share it keep to their own namespaces. Writes go through the small authenticated client here; the code under test
/// reads through <see cref="Kubeconfig"/>.
/// </summary>
/// <remarks>
/// The binaries are built once per machine (about 10 minutes) by <c>tests/kube/apiserver.sh build</c>; without it the
/// fixture fails rather than skips, so a missing build is never mistaken for passing tests.
/// </remarks>
public sealed class RealApiServer : IAsyncLifetime
{
    /// <summary>The bearer token <c>apiserver.sh</c> configures (also in the kubeconfig it writes).</summary>
    public const string KnownToken = "updraft-test-token";

    private const string CrdCollection = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan EstablishTimeout = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _crdGate = new(1, 1);
    private HttpClient? _http;
    private string? _directory;
    private readonly HashSet<string> _crdDirectoriesApplied = new(StringComparer.Ordinal);

    /// <summary>The kubeconfig <c>apiserver.sh</c> wrote (token auth, TLS verification skipped: loopback only).</summary>
    public string Kubeconfig { get; private set; } = "";

    /// <summary><c>https://127.0.0.1:port</c>.</summary>
    public Uri Server { get; private set; } = null!;

    public string Token { get; private set; } = KnownToken;

    /// <summary>The authenticated client (base address <see cref="Server"/>), for requests the helpers do not cover.</summary>
    public HttpClient Http => _http ?? throw new InvalidOperationException("the API server is not started");

    /// <summary>Where <c>apiserver.sh</c> caches kube-apiserver (same rule as the script).</summary>
    public static string CachedBinary() => Path.Combine(Cache(), "kube-apiserver-v1.20.2", "kube-apiserver");

    /// <summary>Where <c>apiserver.sh</c> caches kube-controller-manager, which runs the garbage collector.</summary>
    public static string CachedControllerManager() => Path.Combine(Cache(), "kube-controller-manager-v1.20.2", "kube-controller-manager");

    private static string Cache()
    {
        var cache = Environment.GetEnvironmentVariable("UPDRAFT_CACHE") is { Length: > 0 } configured
            ? configured
            : Path.Combine(
                Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                    ? xdg
                    : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "updraft");
        return cache;
    }

    public async Task InitializeAsync()
    {
        foreach (var binary in new[] { CachedBinary(), CachedControllerManager() })
        {
            if (!File.Exists(binary))
            {
                throw new InvalidOperationException(
                    $"The test kube-apiserver is not built ({binary} does not exist). Run `bash tests/kube/apiserver.sh build` once " +
                    "(about 10 minutes on 2 cores; `./updraft.sh test` does it), then run the tests again.");
            }
        }

        _directory = Directory.CreateTempSubdirectory("updraft-kube-").FullName;
        try
        {
            await RunScriptAsync("start");
            Kubeconfig = Path.Combine(_directory, "kubeconfig");
            (Server, Token) = ReadKubeconfig(Kubeconfig);
            // The server made itself a self-signed certificate in its cert dir: trust exactly that one.
            var pinned = new X509Certificate2Collection();
            pinned.ImportFromPemFile(Path.Combine(_directory, "certs", "apiserver.crt"));
            var handler = new SocketsHttpHandler { UseProxy = false };
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && pinned.Any(p => p.RawData.AsSpan().SequenceEqual(certificate.GetRawCertData()));
            _http = new HttpClient(handler) { BaseAddress = Server, Timeout = TimeSpan.FromSeconds(30) };
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        _http = null;
        if (_directory is null)
        {
            return;
        }

        try
        {
            await RunScriptAsync("stop");
        }
        finally
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            _directory = null;
        }
    }

    /// <summary>POSTs <paramref name="value"/> to <paramref name="collectionPath"/> (e.g. <c>/api/v1/namespaces/ns/services</c>); returns what the server stored.</summary>
    public async Task<JsonObject> CreateAsync(string collectionPath, object value, CancellationToken cancellationToken = default)
    {
        using var response = await Http.PostAsJsonAsync(Relative(collectionPath), ToNode(value), cancellationToken);
        return await ReadObjectAsync(response, "POST " + collectionPath, cancellationToken);
    }

    /// <summary>
    /// Replaces the object at <paramref name="objectPath"/> with <paramref name="value"/>: reads the current
    /// resourceVersion (and a Service's allocated cluster IPs) and PUTs with it, retried on a conflict. Returns what the
    /// server stored.
    /// </summary>
    public async Task<JsonObject> ReplaceAsync(string objectPath, object value, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await GetAsync(objectPath, cancellationToken)
                ?? throw new InvalidOperationException($"PUT {objectPath}: the object does not exist");
            var node = ToNode(value);
            var metadata = node["metadata"] as JsonObject ?? throw new ArgumentException("the object has no metadata", nameof(value));
            metadata["resourceVersion"] = current["metadata"]?["resourceVersion"]?.GetValue<string>();
            // A Service keeps the cluster IP the server allocated; a PUT without it is invalid.
            if (node["spec"] is JsonObject spec && current["spec"] is JsonObject currentSpec && currentSpec["clusterIP"] is not null)
            {
                spec["clusterIP"] ??= currentSpec["clusterIP"]!.DeepClone();
                spec["clusterIPs"] ??= currentSpec["clusterIPs"]?.DeepClone();
            }

            using var response = await Http.PutAsJsonAsync(Relative(objectPath), node, cancellationToken);
            if (response.StatusCode == HttpStatusCode.Conflict && attempt < 5)
            {
                continue;
            }

            return await ReadObjectAsync(response, "PUT " + objectPath, cancellationToken);
        }
    }

    /// <summary>The object at <paramref name="objectPath"/>, or null when it does not exist.</summary>
    public async Task<JsonObject?> GetAsync(string objectPath, CancellationToken cancellationToken = default)
    {
        using var response = await Http.GetAsync(Relative(objectPath), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        return await ReadObjectAsync(response, "GET " + objectPath, cancellationToken);
    }

    /// <summary>Deletes the object at <paramref name="objectPath"/>; false when it did not exist.</summary>
    public async Task<bool> DeleteAsync(string objectPath, CancellationToken cancellationToken = default)
    {
        using var response = await Http.DeleteAsync(Relative(objectPath), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await ReadObjectAsync(response, "DELETE " + objectPath, cancellationToken);
        return true;
    }

    /// <summary>Creates the namespace unless it exists (the server is shared, and namespaces are never deleted).</summary>
    public async Task EnsureNamespaceAsync(string name, CancellationToken cancellationToken = default)
    {
        if (await GetAsync("/api/v1/namespaces/" + name, cancellationToken) is null)
        {
            await CreateNamespaceAsync(name, cancellationToken);
        }
    }

    /// <summary>Stops kube-apiserver and starts it again on the same port with the same etcd (watches break, data stays).</summary>
    public Task RestartAsync() => RunScriptAsync("restart");

    public Task<JsonObject> CreateNamespaceAsync(string name, CancellationToken cancellationToken = default) =>
        CreateAsync("/api/v1/namespaces", new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Namespace",
            ["metadata"] = new JsonObject { ["name"] = name },
        }, cancellationToken);

    /// <summary>
    /// Creates every CRD in <c>charts/updraft/crds</c> (once per server; later calls return at once) and waits until
    /// each is Established, so its resources can be written and watched.
    /// </summary>
    public Task ApplyCrdsAsync(CancellationToken cancellationToken = default) =>
        ApplyCrdDirectoryAsync(Path.Combine(Repository.Root(), "charts", "updraft", "crds"), cancellationToken);

    /// <summary>As <see cref="ApplyCrdsAsync"/>, plus the test-only CRDs in <c>tests/kube/fixtures</c> (KEDA ScaledObject, OpenFunction Function).</summary>
    public async Task ApplyCrdsWithKedaAsync(CancellationToken cancellationToken = default)
    {
        await ApplyCrdsAsync(cancellationToken);
        await ApplyCrdDirectoryAsync(Path.Combine(Repository.Root(), "tests", "kube", "fixtures"), cancellationToken);
    }

    /// <summary>Creates the CRDs of one file (those that exist are left as they are) and waits until each is Established.</summary>
    public async Task ApplyCrdFileAsync(string file, CancellationToken cancellationToken = default)
    {
        var names = new List<string>();
        foreach (var crd in YamlToJson(await File.ReadAllTextAsync(file, cancellationToken)))
        {
            var name = crd["metadata"]?["name"]?.GetValue<string>() ?? throw new InvalidOperationException(file + " has no metadata.name");
            using var response = await Http.PostAsJsonAsync(Relative(CrdCollection), crd, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Conflict)
            {
                await ReadObjectAsync(response, "POST " + CrdCollection + " (" + Path.GetFileName(file) + ")", cancellationToken);
            }

            names.Add(name);
        }

        foreach (var name in names)
        {
            await WaitEstablishedAsync(name, cancellationToken);
        }
    }

    private async Task ApplyCrdDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        await _crdGate.WaitAsync(cancellationToken);
        try
        {
            if (_crdDirectoriesApplied.Contains(directory))
            {
                return;
            }

            foreach (var file in Directory.GetFiles(directory, "*.yaml").Order(StringComparer.Ordinal))
            {
                await ApplyCrdFileAsync(file, cancellationToken);
            }

            _crdDirectoriesApplied.Add(directory);
        }
        finally
        {
            _crdGate.Release();
        }
    }

    /// <summary>
    /// The components' roles as the chart makes them, from the chart's rule files (<c>charts/updraft/rbac/</c>, the one
    /// source of those rules), for components installed in <paramref name="ns"/>: per <c>rbac/COMPONENT.yaml</c> a
    /// ClusterRole <c>updraft-COMPONENT</c> with a ClusterRoleBinding, per <c>rbac/COMPONENT-own-namespace.yaml</c> a
    /// Role and RoleBinding in <paramref name="ns"/>. Each binding names the ServiceAccount <c>updraft-COMPONENT</c>
    /// and the test user of the same name (<c>apiserver.sh</c> gives it the token <c>updraft-COMPONENT-token</c>).
    /// </summary>
    public static List<JsonObject> ChartRoles(string ns)
    {
        const string OwnNamespace = "-own-namespace";
        const string RbacApi = "rbac.authorization.k8s.io";
        var roles = new List<JsonObject>();
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root(), "charts", "updraft", "rbac"), "*.yaml").Order(StringComparer.Ordinal))
        {
            var stem = Path.GetFileNameWithoutExtension(file);
            var namespaced = stem.EndsWith(OwnNamespace, StringComparison.Ordinal);
            var account = "updraft-" + (namespaced ? stem[..^OwnNamespace.Length] : stem);
            var rules = YamlToJson(File.ReadAllText(file)).Single()["rules"]!.DeepClone();
            var metadata = new JsonObject { ["name"] = account };
            if (namespaced)
            {
                metadata["namespace"] = ns;
            }

            roles.Add(new JsonObject
            {
                ["apiVersion"] = RbacApi + "/v1",
                ["kind"] = namespaced ? "Role" : "ClusterRole",
                ["metadata"] = metadata.DeepClone(),
                ["rules"] = rules,
            });
            roles.Add(new JsonObject
            {
                ["apiVersion"] = RbacApi + "/v1",
                ["kind"] = namespaced ? "RoleBinding" : "ClusterRoleBinding",
                ["metadata"] = metadata.DeepClone(),
                ["roleRef"] = new JsonObject { ["apiGroup"] = RbacApi, ["kind"] = namespaced ? "Role" : "ClusterRole", ["name"] = account },
                ["subjects"] = new JsonArray(
                    new JsonObject { ["kind"] = "ServiceAccount", ["name"] = account, ["namespace"] = ns },
                    new JsonObject { ["kind"] = "User", ["apiGroup"] = RbacApi, ["name"] = account }),
            });
        }

        return roles;
    }

    /// <summary>Creates <see cref="ChartRoles"/> for <paramref name="ns"/> (and the namespace), skipping objects that exist.</summary>
    public async Task ApplyChartRolesAsync(string ns, CancellationToken cancellationToken = default)
    {
        await EnsureNamespaceAsync(ns, cancellationToken);
        foreach (var role in ChartRoles(ns))
        {
            var kind = role["kind"]!.GetValue<string>();
            var roleNamespace = role["metadata"]!["namespace"]?.GetValue<string>();
            var collection = "/apis/rbac.authorization.k8s.io/v1/" + (roleNamespace is null ? "" : $"namespaces/{roleNamespace}/") + kind.ToLowerInvariant() + "s";
            if (await GetAsync(collection + "/" + role["metadata"]!["name"]!.GetValue<string>(), cancellationToken) is null)
            {
                await CreateAsync(collection, role, cancellationToken);
            }
        }
    }

    /// <summary>Converts YAML documents to JSON; plain scalars become numbers, booleans and null where YAML says so.</summary>
    public static List<JsonObject> YamlToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var documents = new List<JsonObject>();
        foreach (var document in stream.Documents)
        {
            if (ToJson(document.RootNode) is JsonObject root)
            {
                documents.Add(root);
            }
        }

        return documents;
    }

    private static JsonNode? ToJson(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    obj[((YamlScalarNode)key).Value!] = ToJson(value);
                }

                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(ToJson(item));
                }

                return array;
            case YamlScalarNode { Style: ScalarStyle.Plain, Value: var text }:
                return text switch
                {
                    null or "" or "~" or "null" or "Null" or "NULL" => null,
                    "true" or "True" or "TRUE" => JsonValue.Create(true),
                    "false" or "False" or "FALSE" => JsonValue.Create(false),
                    _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) => JsonValue.Create(integer),
                    _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
                    _ => JsonValue.Create(text),
                };
            case YamlScalarNode scalar:
                return JsonValue.Create(scalar.Value ?? "");
            default:
                throw new NotSupportedException("YAML node " + node.NodeType + " (aliases are not supported)");
        }
    }

    private async Task WaitEstablishedAsync(string name, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var crd = await GetAsync(CrdCollection + "/" + name, cancellationToken);
            if (crd?["status"]?["conditions"] is JsonArray conditions
                && conditions.Any(c => c?["type"]?.GetValue<string>() == "Established" && c["status"]?.GetValue<string>() == "True"))
            {
                return;
            }

            if (deadline.Elapsed > EstablishTimeout)
            {
                throw new TimeoutException($"CRD {name} was not Established within {EstablishTimeout.TotalSeconds:0} s: {crd?["status"]?.ToJsonString()}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{what}: {(int)response.StatusCode} {response.StatusCode}: {body}", null, response.StatusCode);
        }

        return JsonNode.Parse(body) as JsonObject ?? throw new InvalidOperationException($"{what}: the answer is not an object: {body}");
    }

    private static JsonObject ToNode(object value) =>
        value is JsonObject node ? (JsonObject)node.DeepClone() : JsonSerializer.SerializeToNode(value, JsonSerializerOptions.Web)!.AsObject();

    private static string Relative(string path) => path.TrimStart('/');

    private static (Uri Server, string Token) ReadKubeconfig(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var cluster = (YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)root["clusters"]).Children[0])["cluster"];
        var user = (YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)root["users"]).Children[0])["user"];
        var server = ((YamlScalarNode)cluster["server"]).Value ?? throw new InvalidOperationException(path + " names no server");
        var token = user.Children.TryGetValue(new YamlScalarNode("token"), out var tokenNode) ? ((YamlScalarNode)tokenNode).Value : null;
        return (new Uri(server.TrimEnd('/') + "/"), string.IsNullOrEmpty(token) ? KnownToken : token);
    }

    private async Task RunScriptAsync(string command)
    {
        var root = Repository.Root();
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(root, "tests", "kube", "apiserver.sh"));
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(_directory!);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(ScriptTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"apiserver.sh {command} did not finish within {ScriptTimeout.TotalSeconds:0} s: {Text(output)}");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"apiserver.sh {command} failed (exit code {process.ExitCode}): {Text(output)}");
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
