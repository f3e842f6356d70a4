using Updraft.Operator.Hosting;
using Updraft.Shared.Hosting;

try
{
    var app = OperatorApplication.Build(args);
    await app.RunAsync();
    return 0;
}
catch (StartupProblemsException e)
{
    foreach (var problem in e.Problems)
    {
        Console.Error.WriteLine($"updraft-operator: {problem}");
    }

    return 2;
}
