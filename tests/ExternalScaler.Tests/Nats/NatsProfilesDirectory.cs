namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// A temporary directory for a NATS test fixture: its own files (certificates, server configs) at the top, and
/// credentials profiles (one sub-directory each) under <see cref="Profiles"/>, as <c>UPDRAFT_NATS_CREDENTIALS_DIR</c>.
/// </summary>
internal sealed class NatsProfilesDirectory : IDisposable
{
    private readonly string _root;

    public NatsProfilesDirectory(string prefix)
    {
        _root = Directory.CreateTempSubdirectory(prefix).FullName;
        Profiles = System.IO.Path.Combine(_root, "profiles");
    }

    public string Profiles { get; }

    /// <summary>A path for one of the fixture's own files.</summary>
    public string Path(string file) => System.IO.Path.Combine(_root, file);

    public void WriteProfile(string name, params (string File, string Content)[] files)
    {
        var directory = Directory.CreateDirectory(System.IO.Path.Combine(Profiles, name)).FullName;
        foreach (var (file, content) in files)
        {
            File.WriteAllText(System.IO.Path.Combine(directory, file), content);
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
