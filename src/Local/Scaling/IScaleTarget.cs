namespace Updraft.Local.Scaling;

/// <summary>What a scaling loop drives: a workload's replica count. Must return at once (starts and stops run elsewhere).</summary>
internal interface IScaleTarget
{
    public void ScaleTo(int replicas, string reason);
}
