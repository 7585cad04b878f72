using System.Text.Json.Nodes;
using Workbench.Architectures;

namespace Workbench.Studies;

/// <summary>What `workbench describe` prints and every run manifest records about its network.</summary>
public static class ModelDescription
{
    public static JsonObject Of(INetwork network)
    {
        var node = new JsonObject
        {
            ["name"] = network.Name,
            ["variant"] = network.Variant.ToName(),
            ["trainable_parameters"] = network.TrainableCount,
            ["fixed_parameters"] = network.FixedCount,
            ["segments"] = new JsonArray(network.Layout.Segments.Select(s => (JsonNode)new JsonObject
            {
                ["name"] = s.Name, ["shape"] = Array(s.Shape), ["trainable"] = s.Count,
            }).ToArray()),
            ["fixed_tensors"] = new JsonArray(network.FixedTensors.Select(f => (JsonNode)new JsonObject
            {
                ["layer"] = f.Layer, ["kind"] = f.Kind, ["shape"] = Array(f.Shape), ["fixed_entries"] = f.FixedEntries,
                ["sha256"] = f.Sha256, ["settings"] = new JsonObject(f.Settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            }).ToArray()),
        };
        // FiGLU's sd as the user gave it (each F's own sd is in its settings above).
        FiGluScale? figlu = network.Variant != Variant.SigmaAsym ? null : network switch
        {
            Mlp m => m.Spec.FiGluStd,
            Cnn c => c.Spec.FiGluStd,
            ResNet r => r.Spec.FiGluStd,
            _ => null,
        };
        if (figlu is { } f) node["figlu_std"] = f.ToString();
        if (network is Mlp mlp) node["hidden"] = new JsonArray(mlp.Spec.Hidden.Select(h => (JsonNode)h).ToArray());
        if (network is Cnn cnn) node["widths"] = new JsonArray(cnn.Spec.Widths.Select(w => (JsonNode)w).ToArray());
        return node;
    }

    private static JsonArray Array(long[] values) => new(values.Select(v => (JsonNode)v).ToArray());
}
