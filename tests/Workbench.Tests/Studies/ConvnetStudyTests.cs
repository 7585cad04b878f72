using System.Text.Json.Nodes;
using Workbench.Studies.ModeConnectivity;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using static Workbench.Tests.Cli.InProcessCli;
using static Workbench.Tests.Studies.LinearModeConnectivityTests;

namespace Workbench.Tests.Studies;

/// <summary>
/// Every study runs with the convolutional models (--model cnn|resnet8|resnet20) on the embedded MNIST subset, read as
/// 1×28×28 images, at the smallest sizes that still exercise each path: sampling with the canonical (weight-matched)
/// view, a comparison study, lmc with weight matching through residual connections, merge and mli, and the presets.
/// </summary>
public sealed class ConvnetStudyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-convnet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("cnn", "standard", true)]
    [InlineData("resnet8", "standard", true)]
    [InlineData("resnet8", "w-asym", false)]
    public void Sampling_runs_a_convnet_and_aligns_standard_draws(string model, string variant, bool canonical)
    {
        string out_ = Path.Combine(_dir, $"sample-{model}-{variant}");
        string[] args = ["sample", "--model", model, "--variant", variant, "--sampler", "sgld", "--lr", "1e-5", "--steps", "12", "--warmup", "4", "--thin", "2",
            "--chains", "2", "--batch-size", "16", "--eval-train", "false", "--out", out_];
        var run = Run(model == "cnn" ? [.. args, "--widths", "4,8"] : args);
        Assert.True(run.Code == 0, run.Err + run.Out);
        var manifest = Manifest.Load(out_);
        Assert.Equal(RunStatus.Finished, manifest.Status);
        Assert.Equal("1x28x28", manifest.Get("data")!["sample_shape"]!.GetValue<string>());
        Assert.Equal(model, manifest.Get("model")!["name"]!.GetValue<string>());
        // The auto chain mode runs convnets' chains one after another on the CPU, and the manifest records what it chose.
        Assert.Equal("sequential", manifest.Get("config")!["chain_mode"]!.GetValue<string>());
        Assert.Contains("chains run one after another", run.Out);
        // Standard convnets have channel permutations: their draws get a canonical view; W-Asym has no symmetry to remove.
        Assert.Equal(canonical, File.Exists(Path.Combine(out_, ChainLoop.CanonicalTable)));
        var draws = ParquetTable.Read(Path.Combine(out_, "draws.parquet"));
        Assert.Equal(2 * 4, draws.RowCount); // 2 chains × (12 − 4)/2 draws
    }

    [Fact]
    public void Auto_chain_mode_keeps_mlp_chains_batched_and_an_explicit_mode_wins()
    {
        string mlp = Path.Combine(_dir, "auto-mlp");
        var run = Run("sample", "--model", "mlp", "--widths", "8", "--steps", "4", "--warmup", "2", "--thin", "1", "--chains", "2", "--eval-train", "false", "--out", mlp);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Equal("batched", Manifest.Load(mlp).Get("config")!["chain_mode"]!.GetValue<string>());

        string cnn = Path.Combine(_dir, "batched-cnn");
        run = Run("sample", "--model", "cnn", "--widths", "4,8", "--chain-mode", "batched", "--lr", "1e-5", "--steps", "4", "--warmup", "2", "--thin", "1",
            "--chains", "2", "--batch-size", "16", "--eval-train", "false", "--out", cnn);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Equal("batched", Manifest.Load(cnn).Get("config")!["chain_mode"]!.GetValue<string>());
    }

    [Fact]
    public void A_comparison_study_runs_convnet_models_side_by_side()
    {
        string config = Path.Combine(_dir, "convnets.json");
        File.WriteAllText(config, """
        {
          "name": "convnets",
          "models": [ { "label": "cnn", "model": "cnn", "widths": [4, 8] }, { "label": "r8", "model": "resnet8" } ],
          "variants": [ "standard", "w-asym" ],
          "samplers": [ { "name": "sgld", "lr": 1e-5 } ],
          "seeds": [ 0 ],
          "chains": 1,
          "budget": { "steps": 6 },
          "batch_size": 16,
          "warmup_fraction": 0.5,
          "draws": 3,
          "eval_train": false
        }
        """);
        string study = Path.Combine(_dir, "study");
        var run = Run("compare", "--config", config, "--out", study);
        Assert.True(run.Code == 0, run.Err + run.Out);
        var runs = Directory.GetDirectories(Path.Combine(study, "runs")).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal(["cnn-standard-sgld-seed0", "cnn-w-asym-sgld-seed0", "r8-standard-sgld-seed0", "r8-w-asym-sgld-seed0"], runs);
        var summary = File.ReadAllText(Path.Combine(study, "summary.csv"));
        Assert.Contains("r8", summary);
        Assert.Contains("cnn", summary);
    }

    [Fact]
    public void Lmc_on_a_resnet_weight_matches_through_the_residual_streams()
    {
        string out_ = Path.Combine(_dir, "lmc-resnet8");
        var run = Run("lmc", "--model", "resnet8", "--pairs", "1", "--epochs", "1", "--batch-size", "32", "--train-examples", "128",
            "--eval-examples", "64", "--points", "3", "--out", out_);
        AssertFinished(run, out_, "interpolation.parquet", "barriers.parquet");
        var barriers = ParquetTable.Read(Path.Combine(out_, "barriers.parquet"));
        var column = barriers.Column<string>("column");
        var distance = barriers.Column<double>("distance_per_parameter");
        double Distance(string c) => Enumerable.Range(0, barriers.RowCount).Where(i => column[i] == c).Select(i => distance[i]).First();
        // Weight matching maximises ⟨θ_A, π(θ_B)⟩ over permutations that include the identity, so with ‖π(θ_B)‖ = ‖θ_B‖ it
        // cannot move θ_B further from θ_A: ‖θ_A − π(θ_B)‖² = ‖θ_A‖² + ‖θ_B‖² − 2⟨θ_A, π(θ_B)⟩.
        Assert.True(Distance("standard-matched") <= Distance("standard") + 1e-12, $"matched {Distance("standard-matched")} > unmatched {Distance("standard")}");
        Assert.Equal("resnet8", Manifest.Load(out_).Get("config")!["model"]!.GetValue<string>());
    }

    [Fact]
    public void Merge_and_mli_run_with_convnets()
    {
        string merge = Path.Combine(_dir, "merge-cnn");
        var run = Run("merge", "--model", "cnn", "--widths", "4,8", "--networks", "2", "--match", "--epochs", "1", "--batch-size", "32",
            "--train-examples", "128", "--eval-examples", "64", "--out", merge);
        AssertFinished(run, merge, "merge.parquet");

        string mli = Path.Combine(_dir, "mli-resnet8");
        run = Run("mli", "--model", "resnet8", "--variant", "w-asym", "--networks", "1", "--epochs", "1", "--batch-size", "32",
            "--train-examples", "128", "--eval-examples", "64", "--points", "5", "--out", mli);
        AssertFinished(run, mli, "mli.parquet");
    }

    [Fact]
    public void Training_study_presets_set_the_convnet_and_its_optimiser_and_flags_override_them()
    {
        string out_ = Path.Combine(_dir, "lmc-preset");
        // The preset's batch of 128 does not fit 64 examples: refused in one line before anything is written.
        var refused = Run("lmc", "--preset", "lmc-resnet20", "--train-examples", "64", "--out", out_);
        Assert.Equal(2, refused.Code);
        Assert.Contains("--batch-size 128 exceeds the 64 training examples", refused.Err);
        Assert.False(Directory.Exists(out_));

        var run = Run("lmc", "--preset", "lmc-resnet20", "--pairs", "1", "--epochs", "1", "--batch-size", "32", "--train-examples", "64",
            "--eval-examples", "32", "--points", "3", "--out", out_);
        AssertFinished(run, out_);
        var config = Manifest.Load(out_).Get("config")!;
        var preset = TrainingStudyPresets.Get("lmc-resnet20").Cpu;
        Assert.Equal("lmc-resnet20", config["preset"]!.GetValue<string>());
        Assert.False(config["full_size"]!.GetValue<bool>());
        Assert.Equal("resnet20", config["model"]!.GetValue<string>());
        Assert.Equal(preset.Training.WeightDecay, config["weight_decay"]!.GetValue<double>());
        Assert.Equal(32, config["batch_size"]!.GetValue<int>()); // the flag, not the preset's 128
        Assert.Equal("cosine", config["schedule"]!.GetValue<string>());
        Assert.Equal(1, config["epochs"]!.GetValue<int>()); // the flag, not the preset
    }

    [Theory]
    [InlineData("lmc", "lmc-resnet20")]
    [InlineData("mli", "mli-resnet8")]
    public void Full_size_convnet_presets_without_cifar10_are_one_line_and_exit_2(string command, string preset)
    {
        string missing = Path.Combine(_dir, "no-cifar");
        var run = Run(command, "--preset", preset, "--full-size", "--data", missing, "--out", Path.Combine(_dir, "never"));
        Assert.Equal(2, run.Code);
        Assert.StartsWith("error: ", run.Err);
        Assert.Single(run.Err.TrimEnd().Split('\n'));
        Assert.Contains("no-cifar", run.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "never")), "nothing is written for a refused study");
    }

    [Fact]
    public void Bnn_resnet20_preset_is_the_papers_elrg_study_and_its_full_size_reads_cifar10()
    {
        var run = Run("compare", "--preset", "bnn-resnet20", "--print-config");
        Assert.True(run.Code == 0, run.Err);
        var config = JsonNode.Parse(run.Out)!;
        Assert.Equal("resnet20-bnn", config["models"]![0]!["model"]!.GetValue<string>());
        Assert.Equal("elrg", config["samplers"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(250, config["batch_size"]!.GetValue<int>());

        run = Run("compare", "--preset", "bnn-resnet20", "--full-size", "--print-config");
        Assert.True(run.Code == 0, run.Err);
        var full = JsonNode.Parse(run.Out)!;
        Assert.Equal(TrainingStudyPresets.Cifar10Folder, full["data"]!.GetValue<string>());
        Assert.True(full["augment"]!.GetValue<bool>());
    }

    /// <summary>
    /// The metanetwork pipeline from the command line: a tiny CNN zoo, then metanet on it. The W-Asym CNN with widths 4,8
    /// fixes all 8 entries of every head row (n_fix 8 of 8), so its head has no trainable entry: the metanets skip that
    /// empty tensor instead of refusing the zoo.
    /// </summary>
    [Fact]
    public void Zoo_then_metanet_runs_from_the_command_line_on_convnets()
    {
        string zoo = Path.Combine(_dir, "zoo-cnn");
        var run = Run("zoo", "--preset", "zoo-cnn", "--networks", "8", "--epochs-min", "1", "--epochs-max", "1", "--batch-size", "32",
            "--train-examples", "128", "--eval-examples", "64", "--threads", "1", "--out", zoo);
        Assert.True(run.Code == 0, run.Err + run.Out);
        string metanet = Path.Combine(_dir, "metanet");
        run = Run("metanet", zoo, "--runs", "1", "--epochs", "2", "--metanets", "mlp,statnn", "--out", metanet);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.DoesNotContain("Unsupported path effect", run.Out);
        var scores = ParquetTable.Read(Path.Combine(metanet, "metanet.parquet"));
        Assert.Equal(2 * 2, scores.RowCount); // 2 variants × 2 metanets × 1 run
        Assert.Equal(RunStatus.Finished, Manifest.Load(metanet).Status);

        var refused = Run("metanet", Path.Combine(_dir, "no-zoo"), "--out", Path.Combine(_dir, "never"));
        Assert.Equal(2, refused.Code);
        Assert.Single(refused.Err.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_dir, "never")));
    }
}
