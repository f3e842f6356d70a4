using Updraft.ExternalScaler.Hosting;
using Updraft.Shared.Hosting;

try
{
    var app = ScalerApplication.Build(args);
    await app.RunAsync();
    return 0;
}
catch (StartupProblemsException e)
{
    foreach (var problem in e.Problems)
    {
        Console.Error.WriteLine($"updraft-scaler: {problem}");
    }

    return 2;
}
