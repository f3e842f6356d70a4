using Updraft.Local.Hosting;
using Updraft.Shared.Hosting;

return await ServiceMain.RunAsync(
    "updraft-local",
    () => LocalApplication.Build(args),
    "Choose a free port for the replicas feed with UPDRAFT_LOCAL_PORT (default 9092).");
