using Updraft.Operator.Hosting;
using Updraft.Shared.Hosting;

return await ServiceMain.RunAsync(
    "updraft-operator",
    () => OperatorApplication.Build(args),
    "Choose free addresses with --metrics-bind-address (UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS) and --health-probe-bind-address (UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS).");
