namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>A credentials profile that does not exist or cannot be used.</summary>
internal sealed class NatsProfileException(string message) : Exception(message);

/// <summary>
/// NATS credentials kept in the scaler's own configuration, never in trigger metadata (KEDA passes no
/// TriggerAuthentication secrets to external scalers): profile <c>p</c> is the directory
/// <c>UPDRAFT_NATS_CREDENTIALS_DIR/p</c> (a mounted Secret) holding <c>user</c> and <c>password</c>, or <c>token</c>.
/// The files are read at every (re)connection, so a rotated Secret applies at the next one. Values are never logged.
/// </summary>
internal sealed class NatsCredentialProfiles(NatsOptions options)
{
    public const string UserFile = "user";
    public const string PasswordFile = "password";
    public const string TokenFile = "token";

    /// <summary>Whether <paramref name="name"/> is usable as a profile name (letters, digits, <c>-</c>, <c>_</c>, <c>.</c>; not <c>.</c>/<c>..</c>).</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 253
        && name is not ("." or "..")
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>The credentials of <paramref name="profile"/>, or null for none.</summary>
    /// <exception cref="NatsProfileException">The profile's directory or files are missing.</exception>
    public NatsCredentials? Load(string? profile)
    {
        if (profile is null)
        {
            return null;
        }

        var directory = Path.Combine(options.CredentialsDirectory, profile);
        if (!Directory.Exists(directory))
        {
            throw new NatsProfileException($"credentials profile \"{profile}\" does not exist (no directory {profile} under {NatsOptions.CredentialsDirectoryVariable})");
        }

        var token = ReadFile(directory, TokenFile);
        var user = ReadFile(directory, UserFile);
        var password = ReadFile(directory, PasswordFile);
        if (token is null && user is null)
        {
            throw new NatsProfileException($"credentials profile \"{profile}\" has neither a {UserFile} nor a {TokenFile} file");
        }

        return new NatsCredentials(user, password, token);
    }

    private static string? ReadFile(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        return File.Exists(path) ? File.ReadAllText(path).TrimEnd('\r', '\n') : null;
    }
}
