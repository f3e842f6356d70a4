namespace Updraft.Tests.Common;

/// <summary>The checkout the tests were built in, for tests that read its files (manifests, examples).</summary>
internal static class Repository
{
    public static string Root()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Updraft.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Updraft.slnx not found above " + AppContext.BaseDirectory);
    }
}
