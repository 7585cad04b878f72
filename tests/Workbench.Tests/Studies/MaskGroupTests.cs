using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Architectures.Masks;
using Workbench.Studies.Storage;
using static Workbench.Tests.Cli.InProcessCli;
using static Workbench.Tests.Studies.LinearModeConnectivityTests;

namespace Workbench.Tests.Studies;

/// <summary>Issue #15: each pair (lmc), merged set (merge) and network (mli) draws its own masks and FiGLU matrices from the
/// mask seed, shared by the networks of that group; --shared-masks gives every group the mask seed's own.</summary>
public sealed class MaskGroupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-masks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const ulong MaskSeed = 5;

    /// <summary>A tiny run of a training study on the embedded data.</summary>
    private (int Code, string Out, string Err) Tiny(string command, string name, params string[] extra) => Run([command, "--model", "mlp", "--widths", "16",
        "--epochs", "1", "--train-examples", "256", "--eval-examples", "64", "--mask-seed", MaskSeed.ToString(), "--seed", "1", "--out", Path.Combine(_dir, name), .. extra]);

    /// <summary>The hashes of every fixed tensor of the network this mask seed builds (MNIST-shaped, one 16-wide hidden layer).</summary>
    private static string[] Hashes(Variant variant, ulong maskSeed, FiGluScale? figlu = null)
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp", variant, Inputs: 784, Outputs: 10, Widths: [16], FiGluStd: figlu, MaskSeed: maskSeed));
        return network.FixedTensors.Select(f => f.Sha256).ToArray();
    }

    private static string[] Hashes(JsonNode group) => group["fixed_tensors"]!.AsArray().Select(f => f!["sha256"]!.GetValue<string>()).ToArray();

    private static int[] Networks(JsonNode group) => group["networks"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();

    private static double[] TestLossMidpoints(string folder, string column)
    {
        var table = ParquetTable.Read(Path.Combine(folder, "barriers.parquet"));
        var columns = table.Column<string>("column");
        var split = table.Column<string>("split");
        var metric = table.Column<string>("metric");
        var pair = table.Column<int>("pair");
        var midpoint = table.Column<double>("midpoint_barrier");
        return Enumerable.Range(0, table.RowCount).Where(i => columns[i] == column && split[i] == "test" && metric[i] == "loss")
            .OrderBy(i => pair[i]).Select(i => midpoint[i]).ToArray();
    }

    [Fact]
    public void Each_lmc_pair_has_its_own_masks_shared_by_its_two_networks_and_drawn_from_the_mask_seed_and_pair()
    {
        var run = Tiny("lmc", "per-pair", "--pairs", "3", "--points", "3", "--figlu-std", "0.5");
        string folder = Path.Combine(_dir, "per-pair");
        AssertFinished(run, folder);
        var manifest = Manifest.Load(folder);
        Assert.Equal("per pair", manifest.Get("config")!["masks"]!.GetValue<string>());
        foreach (var (variant, figlu) in new[] { (Variant.WAsym, (FiGluScale?)null), (Variant.SigmaAsym, 0.5) })
        {
            var node = manifest.Get("variants")![variant.ToName()]!;
            Assert.Equal("per pair", node["masks"]!.GetValue<string>());
            var groups = node["mask_groups"]!.AsArray();
            Assert.Equal(3, groups.Count);
            for (int p = 0; p < 3; p++)
            {
                var group = groups[p]!;
                Assert.Equal(p, group["group"]!.GetValue<int>());
                // One set of masks per pair, trained into both of its networks.
                Assert.Equal([2 * p, 2 * p + 1], Networks(group));
                ulong seed = MaskSeeds.ForGroup(MaskSeed, p);
                Assert.Equal(seed, group["mask_seed"]!.GetValue<ulong>());
                // Reproducible: the network built from that seed alone has exactly these masks.
                Assert.Equal(Hashes(variant, seed, figlu), Hashes(group));
            }
            // Different pairs, different masks.
            Assert.Equal(3, groups.Select(g => string.Join(",", Hashes(g!))).Distinct().Count());
            var networks = node["networks"]!.AsArray();
            Assert.All(networks, n => Assert.Equal(MaskSeeds.ForGroup(MaskSeed, n!["network"]!.GetValue<int>() / 2), n["mask_seed"]!.GetValue<ulong>()));
        }
        Assert.Contains("each pair its own W-Asym masks", File.ReadAllText(Path.Combine(folder, "report.md")));

        // --shared-masks: one set, the mask seed's own, for every pair. Standard networks have no masks: their barriers are the
        // same either way; W-Asym's are those of other masks.
        var shared = Tiny("lmc", "shared", "--pairs", "3", "--points", "3", "--figlu-std", "0.5", "--shared-masks");
        string sharedFolder = Path.Combine(_dir, "shared");
        AssertFinished(shared, sharedFolder);
        var sharedManifest = Manifest.Load(sharedFolder);
        Assert.Equal("shared", sharedManifest.Get("config")!["masks"]!.GetValue<string>());
        var wasym = sharedManifest.Get("variants")!["w-asym"]!;
        Assert.Equal("shared", wasym["masks"]!.GetValue<string>());
        var only = Assert.Single(wasym["mask_groups"]!.AsArray())!;
        Assert.Equal([0, 1, 2, 3, 4, 5], Networks(only));
        Assert.Equal(MaskSeed, only["mask_seed"]!.GetValue<ulong>());
        Assert.Equal(Hashes(Variant.WAsym, MaskSeed), Hashes(only));
        Assert.Contains("--shared-masks", File.ReadAllText(Path.Combine(sharedFolder, "report.md")));
        Assert.Equal(TestLossMidpoints(folder, "standard"), TestLossMidpoints(sharedFolder, "standard"));
        Assert.NotEqual(TestLossMidpoints(folder, "w-asym"), TestLossMidpoints(sharedFolder, "w-asym"));
    }

    [Fact]
    public void Mli_networks_each_draw_their_own_masks_and_a_merged_set_shares_one()
    {
        var mli = Tiny("mli", "mli", "--networks", "2", "--points", "3", "--variant", "w-asym");
        string mliFolder = Path.Combine(_dir, "mli");
        AssertFinished(mli, mliFolder);
        var mliGroups = Manifest.Load(mliFolder).Get("variants")!["w-asym"]!["mask_groups"]!.AsArray();
        Assert.Equal(2, mliGroups.Count);
        for (int k = 0; k < 2; k++)
        {
            Assert.Equal([k], Networks(mliGroups[k]!));
            Assert.Equal(Hashes(Variant.WAsym, MaskSeeds.ForGroup(MaskSeed, k)), Hashes(mliGroups[k]!));
        }

        var merge = Tiny("merge", "merge", "--networks", "3", "--variant", "w-asym");
        string mergeFolder = Path.Combine(_dir, "merge");
        AssertFinished(merge, mergeFolder);
        var group = Assert.Single(Manifest.Load(mergeFolder).Get("variants")!["w-asym"]!["mask_groups"]!.AsArray())!;
        Assert.Equal([0, 1, 2], Networks(group));
        Assert.Equal(Hashes(Variant.WAsym, MaskSeeds.ForGroup(MaskSeed, 0)), Hashes(group));
    }
}
