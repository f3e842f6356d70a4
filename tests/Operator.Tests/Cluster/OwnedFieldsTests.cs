using System.Text.Json.Nodes;
using Updraft.Operator.Cluster;

namespace Updraft.Operator.Tests.Cluster;

/// <summary>
/// <see cref="OwnedFields.Match"/>: only the fields the desired document lists are compared; a null there means
/// "absent"; arrays are compared element by element and must have the same length.
/// </summary>
public sealed class OwnedFieldsTests
{
    /// <summary>current, desired (JSON text; "absent" for no node at all), expected.</summary>
    public static TheoryData<string, string, bool> Cases => new()
    {
        // Scalars.
        { """{"a":1}""", """{"a":1}""", true },
        { """{"a":1}""", """{"a":2}""", false },
        { """{"a":"1"}""", """{"a":1}""", false },
        { """{"a":1}""", """{"a":"1"}""", false },
        { """{"a":"true"}""", """{"a":true}""", false },
        { """{"a":true}""", """{"a":true}""", true },
        { """{"a":false}""", """{"a":true}""", false },
        { """{"a":"x"}""", """{"a":"x"}""", true },
        { """{"a":"x"}""", """{"a":"X"}""", false },
        { """{"a":"caf\u00e9 <b> & 'c'"}""", """{"a":"café <b> & 'c'"}""", true },
        { """{"a":0.5}""", """{"a":0.5}""", true },

        // Extra fields in current are not the operator's and are ignored, at any depth.
        { """{"a":1,"b":2}""", """{"a":1}""", true },
        { """{"m":{"a":1,"annotations":{"keda":"x"}},"s":{"k":2}}""", """{"m":{"a":1},"s":{"k":2}}""", true },
        { """{"a":1}""", """{}""", true },
        { "{}", "{}", true },

        // A missing owned field differs.
        { """{"a":1}""", """{"a":1,"b":2}""", false },
        { """{"m":{}}""", """{"m":{"a":1}}""", false },
        { "{}", """{"m":{}}""", false },

        // Null in desired: must be absent (or null).
        { """{"a":1}""", """{"a":1,"b":null}""", true },
        { """{"a":1,"b":null}""", """{"a":1,"b":null}""", true },
        { """{"a":1,"b":2}""", """{"a":1,"b":null}""", false },
        { """{"a":1,"b":{}}""", """{"a":1,"b":null}""", false },
        { """{"m":{"x":{"y":1}}}""", """{"m":{"x":null}}""", false },
        { """{"m":{"z":1}}""", """{"m":{"x":null}}""", true },

        // Null in current where desired has a value.
        { """{"a":null}""", """{"a":1}""", false },
        { """{"a":null}""", """{"a":{}}""", false },

        // Type changes.
        { """{"a":{"b":1}}""", """{"a":1}""", false },
        { """{"a":1}""", """{"a":{"b":1}}""", false },
        { """{"a":[1]}""", """{"a":{"0":1}}""", false },
        { """{"a":{"0":1}}""", """{"a":[1]}""", false },
        { """{"a":[1]}""", """{"a":1}""", false },

        // Arrays: same length, element by element, in order.
        { """{"a":[1,2]}""", """{"a":[1,2]}""", true },
        { """{"a":[2,1]}""", """{"a":[1,2]}""", false },
        { """{"a":[1,2,3]}""", """{"a":[1,2]}""", false },
        { """{"a":[1]}""", """{"a":[1,2]}""", false },
        { """{"a":[]}""", """{"a":[]}""", true },
        { """{"a":[1]}""", """{"a":[]}""", false },
        { """{}""", """{"a":[]}""", false },
        { """{"a":[{"n":"x","extra":true}]}""", """{"a":[{"n":"x"}]}""", true },
        { """{"a":[{"n":"x"}]}""", """{"a":[{"n":"y"}]}""", false },
        { """{"a":[{"n":"x"}]}""", """{"a":[{"n":"x","u":null}]}""", true },
        { """{"a":[null]}""", """{"a":[null]}""", true },
        { """{"a":[1]}""", """{"a":[null]}""", false },
        { """{"a":[null]}""", """{"a":[1]}""", false },

        // Whole documents.
        { "absent", "absent", true },
        { """{"a":1}""", "absent", false },
        { "absent", """{"a":1}""", false },
        { "absent", "{}", false },
        { "1", "1", true },
        { """[1,2]""", """[1,2]""", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Match_ParsedDocuments_ComparesOnlyOwnedFields(string current, string desired, bool expected)
    {
        Assert.Equal(expected, OwnedFields.Match(Parse(current), Parse(desired)));
    }

    [Fact]
    public void Match_NumbersFromParsedJsonAndConstructedInts_AreEqual()
    {
        var current = JsonNode.Parse("""{"spec":{"minReplicaCount":0,"maxReplicaCount":7,"cooldownPeriod":300,"big":5000000000}}""");
        var desired = new JsonObject
        {
            ["spec"] = new JsonObject
            {
                ["minReplicaCount"] = 0,
                ["maxReplicaCount"] = 7,
                ["cooldownPeriod"] = (long)300,
                ["big"] = 5_000_000_000L,
            },
        };

        Assert.True(OwnedFields.Match(current, desired));
        desired["spec"]!["maxReplicaCount"] = 8;
        Assert.False(OwnedFields.Match(current, desired));
    }

    [Fact]
    public void Match_ConstructedStringAndBoolValues_EqualParsedOnes()
    {
        var current = JsonNode.Parse("""{"metadata":{"labels":{"app":"web","tier":"a/b+c"}},"spec":{"paused":false,"url":"http://x/?q=<1>&r='2'"}}""");
        var desired = new JsonObject
        {
            ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = "web", ["tier"] = "a/b+c" } },
            ["spec"] = new JsonObject { ["paused"] = false, ["url"] = "http://x/?q=<1>&r='2'" },
        };

        Assert.True(OwnedFields.Match(current, desired));
    }

    [Fact]
    public void Match_ConstructedArrayOfObjects_ComparedElementWiseWithParsedOne()
    {
        var current = JsonNode.Parse("""
            {"spec":{"triggers":[{"type":"external-push","metadata":{"scalerAddress":"s.ns:9090","httpScaledObject":"web"},"authenticationRef":{"name":"x"}}]}}
            """);
        var desired = new JsonObject
        {
            ["spec"] = new JsonObject
            {
                ["triggers"] = new JsonArray(new JsonObject
                {
                    ["type"] = "external-push",
                    ["metadata"] = new JsonObject { ["scalerAddress"] = "s.ns:9090", ["httpScaledObject"] = "web" },
                }),
            },
        };

        Assert.True(OwnedFields.Match(current, desired));
        desired["spec"]!["triggers"]!.AsArray().Add(new JsonObject { ["type"] = "cpu" });
        Assert.False(OwnedFields.Match(current, desired));
    }

    [Fact]
    public void WithoutNulls_NestedNullMembers_AreLeftOutAndTheRestKept()
    {
        var source = new JsonObject
        {
            ["a"] = null,
            ["b"] = 1,
            ["c"] = new JsonObject { ["d"] = null, ["e"] = "x", ["f"] = new JsonObject { ["g"] = null } },
            ["h"] = new JsonArray(1, null, new JsonObject { ["i"] = null }),
            ["j"] = false,
            ["k"] = "",
        };

        var copy = OwnedFields.WithoutNulls(source);

        Assert.Equal("""{"b":1,"c":{"e":"x","f":{}},"h":[1,null,{"i":null}],"j":false,"k":""}""", copy.ToJsonString());
    }

    [Fact]
    public void WithoutNulls_Copy_SharesNoNodesWithTheSource()
    {
        var source = new JsonObject
        {
            ["spec"] = new JsonObject { ["n"] = 1, ["list"] = new JsonArray(1, 2) },
            ["gone"] = null,
        };
        var before = source.ToJsonString();

        var copy = OwnedFields.WithoutNulls(source);
        copy["spec"]!["n"] = 2;
        copy["spec"]!["list"]!.AsArray().Add(3);

        Assert.Equal(before, source.ToJsonString());
        Assert.Equal("""{"spec":{"n":2,"list":[1,2,3]}}""", copy.ToJsonString());
    }

    [Fact]
    public void WithoutNulls_ThenMatch_StillMatchesTheDesiredDocument()
    {
        var desired = (JsonObject)JsonNode.Parse("""{"spec":{"a":1,"b":null,"c":{"d":null,"e":[1,2]}}}""")!;

        var created = OwnedFields.WithoutNulls(desired);

        Assert.True(OwnedFields.Match(created, desired));
        Assert.False(OwnedFields.Match(desired, OwnedFields.WithoutNulls((JsonObject)JsonNode.Parse("""{"spec":{"b":1}}""")!)));
    }

    private static JsonNode? Parse(string json) => json == "absent" ? null : JsonNode.Parse(json);
}
