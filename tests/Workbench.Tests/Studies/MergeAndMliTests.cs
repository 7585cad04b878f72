using Workbench.Architectures;
using Workbench.Studies.ModeConnectivity;
using Workbench.Studies.Storage;
using static TorchSharp.torch;
using static Workbench.Tests.Cli.InProcessCli;
using static Workbench.Tests.Studies.LinearModeConnectivityTests;

namespace Workbench.Tests.Studies;

public sealed class MergeAndMliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-merge-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(Variant.Standard, false, 3)]
    [InlineData(Variant.Standard, true, 4)]
    [InlineData(Variant.WAsym, false, 5)]
    [InlineData(Variant.SigmaAsym, false, 2)]
    public void Merging_identical_copies_gives_exactly_that_network(Variant variant, bool match, int copies)
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp", variant, Inputs: 12, Outputs: 3, Widths: [16, 16]));
        var data = Toy(200, 5);
        var theta = Trained(network, data);
        using var merged = NetworkMerging.Merge(network, theta.unsqueeze(0).expand(copies, -1).contiguous(), match, 0);
        Assert.True(merged.eq(theta).all().item<bool>(), "the merged θ should equal the copies' θ exactly");
        foreach (var (x, y) in data.Values)
        {
            var (loss, error) = InterpolationPath.EvaluateMany(network, theta.unsqueeze(0), x, y);
            var (mergedLoss, mergedError) = InterpolationPath.EvaluateMany(network, merged.unsqueeze(0), x, y);
            Assert.Equal(loss, mergedLoss);
            Assert.Equal(error, mergedError);
        }
    }

    [Fact]
    public void Merging_a_permuted_copy_with_matching_gives_the_network_back()
    {
        using var network = (Mlp)ModelCatalog.Create(new ModelOptions("mlp", Variant.Standard, Inputs: 12, Outputs: 3, Widths: [32, 32]));
        var data = Toy(400, 6);
        var theta = Trained(network, data);
        var order = Enumerable.Range(0, 32).Select(i => (long)i).ToArray();
        new Random(7).Shuffle(order);
        var permuted = HiddenUnitPermutation.Apply(network, theta, 0, order);
        var pair = stack([theta, permuted]);
        using var matched = NetworkMerging.Merge(network, pair, match: true, seed: 0);
        using var plain = NetworkMerging.Merge(network, pair, match: false, seed: 0);
        Assert.True(WeightMatching.Distance(theta, matched) < 1e-7, "matching should undo the permutation before averaging");
        Assert.True(WeightMatching.Distance(theta, plain) > 1e-6, "without matching the average is another network");
        Assert.Throws<ArgumentException>(() => NetworkMerging.Merge(ModelCatalog.Create(new ModelOptions("mlp", Variant.WAsym, Inputs: 12, Outputs: 3, Widths: [32, 32])), pair, true, 0));
    }

    [Fact]
    public void Tiny_merge_run_writes_its_files_and_one_row_per_network_split_and_merge()
    {
        string out_ = Path.Combine(_dir, "merge");
        var run = Run("merge", "--model", "mlp", "--widths", "32", "--networks", "3", "--match", "--epochs", "1",
            "--train-examples", "1000", "--eval-examples", "200", "--seed", "2", "--out", out_);
        AssertFinished(run, out_, "merge.parquet", "merge.png");
        var table = ParquetTable.Read(Path.Combine(out_, "merge.parquet"));
        // Members: 3 variants × 3 networks × 2 splits; merged: 3 variants × 2 splits, and standard weight-matched × 2 splits.
        Assert.Equal(18 + 6 + 2, table.RowCount);
        var variant = table.Column<string>("variant");
        var matched = table.Column<int>("matched");
        var network = table.Column<string>("network");
        var split = table.Column<string>("split");
        var accuracy = table.Column<double>("accuracy");
        var loss = table.Column<double>("loss");
        Assert.Equal(["0", "1", "2", "merged"], network.Distinct().Order().ToArray());
        Assert.Equal(2, Enumerable.Range(0, table.RowCount).Count(i => matched[i] == 1 && variant[i] == "standard" && network[i] == "merged"));
        Assert.All(Enumerable.Range(0, table.RowCount), i => Assert.True(accuracy[i] is >= 0 and <= 1 && loss[i] > 0 && split[i] is "train" or "test"));
        Assert.Contains("W-Asym", File.ReadAllText(Path.Combine(out_, "report.md")));
        Assert.Contains("weight-matched", File.ReadAllText(Path.Combine(out_, "summary.md")));
    }

    [Fact]
    public void Tiny_mli_run_writes_curves_whose_statistics_follow()
    {
        string out_ = Path.Combine(_dir, "mli");
        var run = Run("mli", "--model", "mlp", "--widths", "32", "--networks", "2", "--points", "9", "--epochs", "1",
            "--train-examples", "1000", "--eval-examples", "200", "--seed", "3", "--out", out_);
        AssertFinished(run, out_, "mli.parquet", "mli-stats.parquet", "mli.png");
        var curves = ParquetTable.Read(Path.Combine(out_, "mli.parquet"));
        var stats = ParquetTable.Read(Path.Combine(out_, "mli-stats.parquet"));
        Assert.Equal(3 * 2 * 9, curves.RowCount);
        Assert.Equal(3 * 2, stats.RowCount);
        var variant = curves.Column<string>("variant");
        var net = curves.Column<int>("network");
        var alpha = curves.Column<double>("alpha");
        var loss = curves.Column<double>("loss");
        var sVariant = stats.Column<string>("variant");
        var sNet = stats.Column<int>("network");
        var delta = stats.Column<double>("delta");
        var monotonic = stats.Column<int>("monotonic");
        var local = stats.Column<double>("local_convexity");
        var global = stats.Column<double>("global_convexity");
        for (int r = 0; r < stats.RowCount; r++)
        {
            var points = Enumerable.Range(0, curves.RowCount).Where(i => variant[i] == sVariant[r] && net[i] == sNet[r]).OrderBy(i => alpha[i]).ToList();
            Assert.Equal(9, points.Count);
            var expected = MonotonicInterpolation.Of(points.Select(i => alpha[i]).ToList(), points.Select(i => loss[i]).ToList());
            Assert.Equal(expected.Delta, delta[r], 12);
            Assert.Equal(expected.Monotonic ? 1 : 0, monotonic[r]);
            Assert.Equal(expected.LocalConvexity, local[r], 12);
            Assert.Equal(expected.GlobalConvexity, global[r], 12);
            // Training lowered the loss from θ_0 to θ_T.
            Assert.True(loss[points[^1]] < loss[points[0]], $"{sVariant[r]} network {sNet[r]}: L(1) {loss[points[^1]]} ≥ L(0) {loss[points[0]]}");
        }
        Assert.Contains("W-Asym", File.ReadAllText(Path.Combine(out_, "report.md")));
    }

    [Theory]
    [InlineData("merge", "--networks", "1")]
    [InlineData("merge", "--variant", "resnet")]
    [InlineData("merge", "--preset", "big")]
    [InlineData("merge", "--epochs", "0")]
    [InlineData("mli", "--networks", "0")]
    [InlineData("mli", "--points", "2")]
    [InlineData("mli", "--variant", "w_asym")]
    [InlineData("mli", "--model", "linreg")]
    public void A_bad_option_is_one_line_and_exit_2(string command, string option, string value)
    {
        var (code, _, stderr) = Run(command, option, value, "--out", Path.Combine(_dir, "bad"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Match_without_standard_networks_is_a_one_line_error()
    {
        var (code, _, stderr) = Run("merge", "--variant", "w-asym", "--match", "--out", Path.Combine(_dir, "bad"));
        Assert.Equal(2, code);
        Assert.Contains("--match", stderr);
    }
}
