using Updraft.Local.Replicas;

namespace Updraft.Local.Tests.Replicas;

public sealed class ProcessGroupTests
{
    [Theory]
    [InlineData("4242 (sleep) S 4200 4200 4200 0 -1 4194304", 4200, true)]
    [InlineData("4242 (sleep) S 4200 4201 4200 0 -1 4194304", 4200, false)]
    [InlineData("4242 (sleep) Z 4200 4200 4200 0 -1 4194304", 4200, false)]
    [InlineData("4242 (sleep) X 4200 4200 4200 0 -1 4194304", 4200, false)]
    [InlineData("4242 (a (b) c) R 1 77 77 0", 77, true)]
    [InlineData("4242 (odd) 5 9) S 1 5 5 0", 5, true)]
    [InlineData("4242 (cut", 4242, false)]
    [InlineData("4242 (x) S 1", 1, false)]
    [InlineData("4242 (x) S 1 notanumber 1", 1, false)]
    public void IsLiveMember_ProcStatLines_ReadsStateAndGroupAfterTheLastParenthesis(string stat, int group, bool expected) =>
        Assert.Equal(expected, ProcessGroup.IsLiveMember(stat, group));

    [Fact]
    public void HasLiveMembers_OurOwnGroupYesAGroupNobodyHasNo()
    {
        var ours = int.Parse(File.ReadAllText("/proc/self/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(ProcessGroup.HasLiveMembers(ours));
        Assert.False(ProcessGroup.HasLiveMembers(int.MaxValue - 1));
    }
}
