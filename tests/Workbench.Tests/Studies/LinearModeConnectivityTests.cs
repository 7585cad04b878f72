using Workbench.Architectures;
using Workbench.Cli;
using Workbench.Studies.ModeConnectivity;
using Workbench.Studies.Storage;
using static TorchSharp.torch;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Studies;

public sealed class LinearModeConnectivityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-lmc-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A learnable toy task: the class is which of the first 3 inputs is largest.</summary>
    internal static Dictionary<string, (Tensor X, Tensor Y)> Toy(int n, ulong seed)
    {
        using var g = new Generator(seed);
        var x = randn([n, 12], generator: g);
        var y = x.narrow(1, 0, 3).argmax(1);
        return new() { ["test"] = (x.narrow(0, 0, n / 2), y.narrow(0, 0, n / 2)), ["train"] = (x.narrow(0, n / 2, n / 2), y.narrow(0, n / 2, n / 2)) };
    }

    internal static Tensor Trained(INetwork network, Dictionary<string, (Tensor X, Tensor Y)> data)
    {
        using var trained = NetworkTrainer.Train(network, data["train"].X, data["train"].Y, new TrainingOptions(Epochs: 5, BatchSize: 25, LearningRate: 1e-2), seed: 11, chains: [0]);
        return trained.Theta[0].clone();
    }

    [Theory]
    [InlineData(Variant.Standard, false)]
    [InlineData(Variant.Standard, true)]
    [InlineData(Variant.WAsym, false)]
    public void A_network_interpolated_with_itself_has_zero_barriers_and_distance(Variant variant, bool weightMatched)
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp", variant, Inputs: 12, Outputs: 3, Widths: [16, 16]));
        var data = Toy(200, 1);
        var theta = Trained(network, data);
        var (paths, distance) = LinearModeConnectivity.EvaluatePair(network, theta, theta, weightMatched, LossBarrier.Grid(25), data, 0);
        Assert.Equal(0.0, distance);
        var rows = LinearModeConnectivity.Barriers(0, "self", paths, distance).ToList();
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => { Assert.Equal(0.0, r.Midpoint, 5); Assert.Equal(0.0, r.Entezari, 5); });
    }

    [Fact]
    public void A_permuted_copy_has_a_barrier_that_weight_matching_removes()
    {
        using var network = (Mlp)ModelCatalog.Create(new ModelOptions("mlp", Variant.Standard, Inputs: 12, Outputs: 3, Widths: [32, 32]));
        var data = Toy(400, 2);
        var theta = Trained(network, data);
        var random = new Random(3);
        var permuted = theta.clone();
        for (int layer = 0; layer < 2; layer++)
        {
            var order = Enumerable.Range(0, 32).Select(i => (long)i).ToArray();
            random.Shuffle(order);
            permuted = HiddenUnitPermutation.Apply(network, permuted, layer, order);
        }
        var lambdas = LossBarrier.Grid(25);
        var (raw, rawDistance) = LinearModeConnectivity.EvaluatePair(network, theta, permuted, false, lambdas, data, 0);
        var (matched, matchedDistance) = LinearModeConnectivity.EvaluatePair(network, theta, permuted, true, lambdas, data, 0);
        var before = LinearModeConnectivity.Barriers(0, "standard", raw, rawDistance).Single(r => r.Split == "test" && r.Metric == "loss");
        var after = LinearModeConnectivity.Barriers(0, "standard-matched", matched, matchedDistance).Single(r => r.Split == "test" && r.Metric == "loss");
        Assert.True(before.Midpoint > 0.1, $"a permuted copy should sit across a barrier, got {before.Midpoint}");
        Assert.True(Math.Abs(after.Midpoint) < 1e-4 && after.Entezari < 1e-4, $"weight matching should undo the permutation: midpoint {after.Midpoint}, Entezari {after.Entezari}");
        Assert.True(rawDistance > 0);
        Assert.True(matchedDistance < 1e-7, $"aligned copy should coincide with θ_A, distance {matchedDistance}");
    }

    /// <summary>A CLI run exited 0 and its folder holds <paramref name="files"/>, summary.md, report.md and a finished manifest.</summary>
    internal static void AssertFinished((int Code, string Out, string Err) run, string folder, params string[] files)
    {
        Assert.True(run.Code == 0, run.Err + run.Out);
        foreach (var file in files.Concat(["summary.md", "report.md", "manifest.json"]))
            Assert.True(File.Exists(Path.Combine(folder, file)), $"missing {file}");
        Assert.Equal(RunStatus.Finished, Manifest.Load(folder).Status);
    }

    [Fact]
    public void Tiny_lmc_run_writes_tables_whose_barriers_follow_from_its_curves()
    {
        string out_ = Path.Combine(_dir, "lmc");
        var run = Run("lmc", "--model", "mlp", "--widths", "32", "--pairs", "2", "--epochs", "1", "--train-examples", "1000",
            "--eval-examples", "200", "--points", "9", "--seed", "4", "--out", out_);
        AssertFinished(run, out_, "interpolation.parquet", "barriers.parquet", "lmc-loss.png", "lmc-error.png", "lmc-barriers.png");

        var curves = ParquetTable.Read(Path.Combine(out_, "interpolation.parquet"));
        var barriers = ParquetTable.Read(Path.Combine(out_, "barriers.parquet"));
        // An MLP's σ-Asym at both FiGLU sds (1 and 1/√d): 5 columns.
        // 2 pairs × 5 columns × 2 splits × 9 λ; 2 pairs × 5 columns × 2 splits × 2 metrics.
        Assert.Equal(2 * 5 * 2 * 9, curves.RowCount);
        Assert.Equal(2 * 5 * 2 * 2, barriers.RowCount);
        var pair = curves.Column<int>("pair");
        var column = curves.Column<string>("column");
        var split = curves.Column<string>("split");
        var lambda = curves.Column<double>("lambda");
        var loss = curves.Column<double>("loss");
        var error = curves.Column<double>("error");
        var bPair = barriers.Column<int>("pair");
        var bColumn = barriers.Column<string>("column");
        var bSplit = barriers.Column<string>("split");
        var bMetric = barriers.Column<string>("metric");
        var midpoint = barriers.Column<double>("midpoint_barrier");
        var entezari = barriers.Column<double>("entezari_barrier");
        Assert.Equal(["sigma-asym@1", "sigma-asym@1/sqrt(d)", "standard", "standard-matched", "w-asym"], bColumn.Distinct().Order(StringComparer.Ordinal));
        for (int r = 0; r < barriers.RowCount; r++)
        {
            Assert.True(entezari[r] >= midpoint[r] - 1e-12, $"row {r}: Entezari {entezari[r]} < midpoint {midpoint[r]}");
            var points = Enumerable.Range(0, curves.RowCount).Where(i => pair[i] == bPair[r] && column[i] == bColumn[r] && split[i] == bSplit[r]).OrderBy(i => lambda[i]).ToList();
            Assert.Equal(9, points.Count);
            var l = points.Select(i => lambda[i]).ToList();
            var v = points.Select(i => bMetric[r] == "loss" ? loss[i] : error[i]).ToList();
            Assert.Equal(LossBarrier.Midpoint(l, v), midpoint[r], 12);
            Assert.Equal(LossBarrier.Entezari(l, v), entezari[r], 12);
        }
        Assert.Contains("W-Asym", File.ReadAllText(Path.Combine(out_, "report.md")));
    }

    [Fact]
    public void Augment_flag_of_a_training_study_is_recorded_in_its_manifest_and_report()
    {
        string out_ = Path.Combine(_dir, "lmc-augment");
        var run = Run("lmc", "--model", "mlp", "--widths", "8", "--pairs", "1", "--epochs", "1", "--train-examples", "256",
            "--eval-examples", "64", "--points", "3", "--augment", "--out", out_);
        AssertFinished(run, out_);
        Assert.True(Manifest.Load(out_).Get("config")!["augment"]!.GetValue<bool>());
        Assert.Contains("randomly mirrored and cropped", File.ReadAllText(Path.Combine(out_, "report.md")));
    }

    [Theory]
    [InlineData("--pairs", "0")]
    [InlineData("--points", "24")]
    [InlineData("--epochs", "0")]
    [InlineData("--lr", "-1")]
    [InlineData("--weight-decay", "-0.1")]
    [InlineData("--schedule", "step")]
    [InlineData("--model", "linreg")]
    [InlineData("--preset", "lmc-big")]
    [InlineData("--eval-examples", "-5")]
    [InlineData("--widths", "32")]
    [InlineData("--data", "/no/such/folder")]
    public void A_bad_lmc_option_is_one_line_and_exit_2(string option, string value)
    {
        var (code, _, stderr) = Run("lmc", option, value, "--out", Path.Combine(_dir, "bad"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }
}
