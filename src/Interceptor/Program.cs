using Microsoft.Extensions.Options;
using Updraft.Interceptor.Hosting;
using Updraft.Shared.Hosting;

InlineIo.ApplyToRuntime(Environment.GetEnvironmentVariable, Environment.SetEnvironmentVariable);
try
{
    var app = InterceptorApplication.Build(args);
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException e)
{
    foreach (var failure in e.Failures)
    {
        Console.Error.WriteLine($"updraft-interceptor: {failure}");
    }

    return 2;
}
catch (StartupProblemsException e)
{
    foreach (var problem in e.Problems)
    {
        Console.Error.WriteLine($"updraft-interceptor: {problem}");
    }

    return 2;
}
