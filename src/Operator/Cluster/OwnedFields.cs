using System.Text.Json.Nodes;

namespace Updraft.Operator.Cluster;

/// <summary>
/// Compares the fields the operator owns with what an object has. A desired document lists exactly those fields;
/// a null in it means "must be absent" (and, sent as a merge patch, removes the field). Anything the desired
/// document does not mention (KEDA's annotations, fields users add) is not compared and never touched.
/// </summary>
internal static class OwnedFields
{
    /// <summary>True when <paramref name="current"/> already has every owned field of <paramref name="desired"/>.</summary>
    public static bool Match(JsonNode? current, JsonNode? desired)
    {
        switch (desired)
        {
            case null:
                return current is null;
            case JsonObject desiredObject:
                if (current is not JsonObject currentObject)
                {
                    return false;
                }

                foreach (var (name, value) in desiredObject)
                {
                    currentObject.TryGetPropertyValue(name, out var currentValue);
                    if (!Match(currentValue, value))
                    {
                        return false;
                    }
                }

                return true;
            case JsonArray desiredArray:
                if (current is not JsonArray currentArray || currentArray.Count != desiredArray.Count)
                {
                    return false;
                }

                for (var i = 0; i < desiredArray.Count; i++)
                {
                    if (!Match(currentArray[i], desiredArray[i]))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return current is JsonValue && current.ToJsonString() == desired.ToJsonString();
        }
    }

    /// <summary>A copy without the null members (a create carries only what is set).</summary>
    public static JsonObject WithoutNulls(JsonObject source)
    {
        var copy = new JsonObject();
        foreach (var (name, value) in source)
        {
            switch (value)
            {
                case null:
                    continue;
                case JsonObject child:
                    copy[name] = WithoutNulls(child);
                    break;
                default:
                    copy[name] = value.DeepClone();
                    break;
            }
        }

        return copy;
    }
}
