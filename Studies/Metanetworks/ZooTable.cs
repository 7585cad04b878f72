using System.Text.Json.Nodes;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Metanetworks;

/// <summary>
/// The zoo's table <c>zoo.parquet</c>: one row per trained network, in the order they were trained (variant by variant,
/// ids ascending). Columns: id, variant, lr, weight_decay, label_smoothing, epochs, init_seed, data_order_seed,
/// train_accuracy, train_loss, test_accuracy, test_loss, and weights — a list&lt;float&gt; holding θ, the network's
/// trainable entries in layout order. The Parquet key/value metadata holds the model name (<see cref="ModelKey"/>) and,
/// per variant, θ's layout (<see cref="LayoutsKey"/>: segment name, shape, offset, count); the manifest records both too.
/// </summary>
public static class ZooTable
{
    public const string Name = "zoo";
    public const string ModelKey = "workbench.zoo.model";
    public const string LayoutsKey = "workbench.zoo.layouts";

    public static IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.Int("id"), TableColumn.String("variant"),
        TableColumn.Double("lr"), TableColumn.Double("weight_decay"), TableColumn.Double("label_smoothing"), TableColumn.Int("epochs"),
        TableColumn.Long("init_seed"), TableColumn.Long("data_order_seed"),
        TableColumn.Double("train_accuracy"), TableColumn.Double("train_loss"), TableColumn.Double("test_accuracy"), TableColumn.Double("test_loss"),
        TableColumn.FloatList("weights"),
    ];

    /// <summary>A member as the row <see cref="ParquetTableWriter.Append"/> takes (seeds fit a long: ChainSeeds keeps 63 bits).</summary>
    public static object?[] Row(ZooMember m) =>
    [
        m.Id, m.Variant, m.LearningRate, m.WeightDecay, m.LabelSmoothing, m.Epochs, checked((long)m.InitSeed), checked((long)m.DataOrderSeed),
        m.TrainAccuracy, m.TrainLoss, m.TestAccuracy, m.TestLoss, m.Weights,
    ];

    /// <summary>The key/value metadata every part and the finished table carry.</summary>
    public static Dictionary<string, string> Metadata(string model, IReadOnlyDictionary<string, IReadOnlyList<ZooSegment>> layouts) => new()
    {
        [ModelKey] = model,
        [LayoutsKey] = LayoutsJson(layouts).ToJsonString(),
    };

    public static JsonObject LayoutsJson(IReadOnlyDictionary<string, IReadOnlyList<ZooSegment>> layouts) =>
        new(layouts.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)SegmentsJson(p.Value))));

    public static JsonArray SegmentsJson(IReadOnlyList<ZooSegment> segments) => new(segments.Select(s => (JsonNode)new JsonObject
    {
        ["name"] = s.Name, ["shape"] = new JsonArray(s.Shape.Select(d => (JsonNode)d).ToArray()), ["offset"] = s.Offset, ["count"] = s.Count,
    }).ToArray());

    /// <summary>The rows of a table (finished, or the parts of an unfinished one) as members.</summary>
    public static IReadOnlyList<ZooMember> Members(ParquetTable table)
    {
        var id = table.Column<int>("id");
        var variant = table.Column<string>("variant");
        var lr = table.Column<double>("lr");
        var wd = table.Column<double>("weight_decay");
        var ls = table.Column<double>("label_smoothing");
        var epochs = table.Column<int>("epochs");
        var init = table.Column<long>("init_seed");
        var order = table.Column<long>("data_order_seed");
        var trainAccuracy = table.Column<double>("train_accuracy");
        var trainLoss = table.Column<double>("train_loss");
        var testAccuracy = table.Column<double>("test_accuracy");
        var testLoss = table.Column<double>("test_loss");
        var weights = table.Column<float[]>("weights");
        return Enumerable.Range(0, table.RowCount).Select(i => new ZooMember(id[i], variant[i], lr[i], wd[i], ls[i], epochs[i], (ulong)init[i], (ulong)order[i],
            trainAccuracy[i], trainLoss[i], testAccuracy[i], testLoss[i], weights[i])).ToList();
    }

    /// <summary>A finished zoo (what <c>workbench zoo</c> wrote into <paramref name="zooFolder"/>) with its layouts.</summary>
    /// <exception cref="RunFolderException">the folder holds no finished zoo (one line saying why).</exception>
    public static ZooData Read(string zooFolder)
    {
        if (!Directory.Exists(zooFolder)) throw new RunFolderException($"'{zooFolder}' does not exist; give the folder 'workbench zoo --out' wrote.");
        if (!RunFolder.IsFinishedRun(zooFolder, out string reason))
            throw new RunFolderException($"'{zooFolder}' is not a finished zoo ({reason}); finish it with 'workbench resume {zooFolder}' or run 'workbench zoo'.");
        var manifest = Manifest.Load(zooFolder);
        if (manifest.Study != ModelZoo.Study || !manifest.Tables.ContainsKey(Name))
            throw new RunFolderException($"'{zooFolder}' holds a '{manifest.Study}' run, not a zoo; give the folder 'workbench zoo --out' wrote.");
        var table = ParquetTable.Read(RunFolder.Open(zooFolder).TablePath(Name));
        if (!table.Metadata.TryGetValue(ModelKey, out var model) || !table.Metadata.TryGetValue(LayoutsKey, out var layoutsText))
            throw new RunFolderException($"'{zooFolder}/{Name}.parquet' lacks the zoo's model and layout metadata; it was not written by 'workbench zoo'.");
        var layouts = ParseLayouts(layoutsText);
        var members = Members(table);
        foreach (var m in members)
        {
            if (!layouts.TryGetValue(m.Variant, out var layout)) throw new InvalidDataException($"zoo member {m.Variant} {m.Id} has no layout in the table's metadata");
            long count = layout.Sum(s => s.Count);
            if (m.Weights.Length != count) throw new InvalidDataException($"zoo member {m.Variant} {m.Id} has {m.Weights.Length} weights; its layout has {count}");
        }
        return new ZooData(Path.GetFullPath(zooFolder), model, members, layouts);
    }

    private static Dictionary<string, IReadOnlyList<ZooSegment>> ParseLayouts(string json)
    {
        var node = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("the zoo's layout metadata is not a JSON object");
        return node.ToDictionary(p => p.Key, p => (IReadOnlyList<ZooSegment>)p.Value!.AsArray().Select(s => new ZooSegment(
            s!["name"]!.GetValue<string>(), s["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray(),
            s["offset"]!.GetValue<long>(), s["count"]!.GetValue<long>())).ToList());
    }
}
