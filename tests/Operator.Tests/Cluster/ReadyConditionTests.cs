using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Operator.Cluster;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Tests.Cluster;

/// <summary>
/// <see cref="ReadyCondition"/>: written only when it differs, the transition time moving only with the status,
/// conditions of other types dropped.
/// </summary>
public sealed class ReadyConditionTests
{
    private static readonly DateTimeOffset Earlier = new(2024, 6, 1, 8, 30, 15, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = new(2025, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly ReadyCondition Reconciled = new(true, "Reconciled", "ScaledObject web is up to date");

    [Fact]
    public void IsCurrent_SameStatusReasonMessageAndGeneration_IsTrue()
    {
        Assert.True(Reconciled.IsCurrent([Ready("True", generation: 3)], 3));
        Assert.True(Reconciled.IsCurrent([Ready("True", generation: null)], null));
    }

    public static TheoryData<string, string, string, long?, long?> Differences => new()
    {
        { "False", "Reconciled", "ScaledObject web is up to date", 3, 3 },
        { "Unknown", "Reconciled", "ScaledObject web is up to date", 3, 3 },
        { "True", "Other", "ScaledObject web is up to date", 3, 3 },
        { "True", "Reconciled", "something else", 3, 3 },
        { "True", "Reconciled", "ScaledObject web is up to date", 2, 3 },
        { "True", "Reconciled", "ScaledObject web is up to date", null, 3 },
        { "True", "Reconciled", "ScaledObject web is up to date", 3, null },
    };

    [Theory]
    [MemberData(nameof(Differences))]
    public void IsCurrent_AnyFieldDiffers_IsFalse(string status, string reason, string message, long? observed, long? generation)
    {
        var current = new List<Condition> { new() { Type = "Ready", Status = status, Reason = reason, Message = message, ObservedGeneration = observed, LastTransitionTime = Earlier } };

        Assert.False(Reconciled.IsCurrent(current, generation));
    }

    [Fact]
    public void IsCurrent_NoConditions_IsFalse()
    {
        Assert.False(Reconciled.IsCurrent(null, 1));
        Assert.False(Reconciled.IsCurrent([], 1));
    }

    [Fact]
    public void IsCurrent_OtherConditionTypesPresent_IsFalseSoTheyGetDropped()
    {
        var old = new Condition { Type = "Created", Status = "True", Reason = "x", Message = "y" };

        Assert.False(Reconciled.IsCurrent([Ready("True", generation: 1), old], 1));
        Assert.False(Reconciled.IsCurrent([old, Ready("True", generation: 1)], 1));
        Assert.False(Reconciled.IsCurrent([old], 1));
    }

    [Fact]
    public void IsCurrent_ReadyFalse_MatchesStatusFalse()
    {
        var failing = new ReadyCondition(false, "CreateError", "boom");
        var current = new List<Condition> { new() { Type = "Ready", Status = "False", Reason = "CreateError", Message = "boom", ObservedGeneration = 4 } };

        Assert.True(failing.IsCurrent(current, 4));
        Assert.False(failing.IsCurrent([Ready("True", generation: 4)], 4));
    }

    [Fact]
    public void ToJson_StatusUnchanged_KeepsLastTransitionTime()
    {
        var updated = Reconciled with { Message = "new message" };

        var conditions = updated.ToJson([Ready("True", generation: 1)], 2, Now);

        var condition = Assert.Single(conditions)!.AsObject();
        Assert.Equal("2024-06-01T08:30:15Z", condition["lastTransitionTime"]!.GetValue<string>());
        Assert.Equal("new message", condition["message"]!.GetValue<string>());
        Assert.Equal(2, condition["observedGeneration"]!.GetValue<long>());
    }

    [Fact]
    public void ToJson_StatusChanged_MovesLastTransitionTimeToNow()
    {
        var failing = new ReadyCondition(false, "CreateError", "boom");

        var conditions = failing.ToJson([Ready("True", generation: 1)], 1, Now);

        var condition = Assert.Single(conditions)!.AsObject();
        Assert.Equal("2025-01-02T03:04:05Z", condition["lastTransitionTime"]!.GetValue<string>());
        Assert.Equal("False", condition["status"]!.GetValue<string>());
    }

    [Fact]
    public void ToJson_NoPreviousReadyOrNoPreviousTime_UsesNow()
    {
        var withoutTime = new Condition { Type = "Ready", Status = "True", Reason = "Reconciled", Message = "m" };

        Assert.Equal("2025-01-02T03:04:05Z", TransitionTime(Reconciled.ToJson(null, 1, Now)));
        Assert.Equal("2025-01-02T03:04:05Z", TransitionTime(Reconciled.ToJson([], 1, Now)));
        Assert.Equal("2025-01-02T03:04:05Z", TransitionTime(Reconciled.ToJson([withoutTime], 1, Now)));
    }

    [Fact]
    public void ToJson_TimeWithAnOffset_IsWrittenInUtc()
    {
        var previous = new Condition { Type = "Ready", Status = "True", LastTransitionTime = new DateTimeOffset(2024, 6, 1, 10, 30, 15, TimeSpan.FromHours(2)) };

        Assert.Equal("2024-06-01T08:30:15Z", TransitionTime(Reconciled.ToJson([previous], 1, Now)));
        Assert.Equal("2025-01-02T01:04:05Z", TransitionTime(Reconciled.ToJson(null, 1, new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)))));
    }

    [Fact]
    public void ToJson_OtherConditionTypes_AreDropped()
    {
        List<Condition> current =
        [
            new() { Type = "Created", Status = "True", Reason = "x", Message = "y", LastTransitionTime = Earlier },
            Ready("True", generation: 1),
            new() { Type = "Terminating", Status = "False", LastTransitionTime = Earlier },
        ];

        var conditions = Reconciled.ToJson(current, 1, Now);

        var condition = Assert.Single(conditions)!.AsObject();
        Assert.Equal("Ready", condition["type"]!.GetValue<string>());
        Assert.Equal("2024-06-01T08:30:15Z", condition["lastTransitionTime"]!.GetValue<string>());
    }

    [Fact]
    public void ToJson_Fields_AreThoseOfAMetav1Condition()
    {
        var conditions = new ReadyCondition(false, "CreateError", "boom").ToJson(null, 7, Now);

        Assert.Equal(
            """[{"type":"Ready","status":"False","reason":"CreateError","message":"boom","lastTransitionTime":"2025-01-02T03:04:05Z","observedGeneration":7}]""",
            conditions.ToJsonString());
    }

    [Fact]
    public void ToJson_NoGeneration_LeavesObservedGenerationOut()
    {
        var condition = Assert.Single(Reconciled.ToJson(null, null, Now))!.AsObject();

        Assert.False(condition.ContainsKey("observedGeneration"));
    }

    [Fact]
    public void ToJson_ThenIsCurrent_IsTrueForTheWrittenCondition()
    {
        var written = Reconciled.ToJson([Ready("False", generation: 1)], 2, Now);
        var read = written.Deserialize<List<Condition>>(Json);

        Assert.True(Reconciled.IsCurrent(read, 2));
        Assert.False(Reconciled.IsTransitionFrom(read));
    }

    [Fact]
    public void IsTransitionFrom_NoPreviousReady_IsTrue()
    {
        Assert.True(Reconciled.IsTransitionFrom(null));
        Assert.True(Reconciled.IsTransitionFrom([]));
        Assert.True(Reconciled.IsTransitionFrom([new() { Type = "Created", Status = "True", Reason = "Reconciled", Message = Reconciled.Message }]));
    }

    [Fact]
    public void IsTransitionFrom_StatusReasonOrMessageChanged_IsTrue()
    {
        Assert.True(Reconciled.IsTransitionFrom([Ready("False", generation: 1)]));
        Assert.True(Reconciled.IsTransitionFrom([new() { Type = "Ready", Status = "True", Reason = "Other", Message = Reconciled.Message }]));
        Assert.True(Reconciled.IsTransitionFrom([new() { Type = "Ready", Status = "True", Reason = Reconciled.Reason, Message = "other" }]));
    }

    [Fact]
    public void IsTransitionFrom_OnlyGenerationOrTimeChanged_IsFalse()
    {
        var previous = Ready("True", generation: 1);
        previous.LastTransitionTime = Now;

        Assert.False(Reconciled.IsTransitionFrom([previous]));
        Assert.False(Reconciled.IsTransitionFrom([new() { Type = "Created", Status = "False" }, Ready("True", generation: 9)]));
    }

    private static Condition Ready(string status, long? generation) => new()
    {
        Type = "Ready",
        Status = status,
        Reason = Reconciled.Reason,
        Message = Reconciled.Message,
        ObservedGeneration = generation,
        LastTransitionTime = Earlier,
    };

    private static string TransitionTime(JsonArray conditions) => conditions[0]!["lastTransitionTime"]!.GetValue<string>();
}
