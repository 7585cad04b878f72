using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Sampling;
using Workbench.Tests.Cli;
using Workbench.Tests.Storage;

namespace Workbench.Tests.Studies;

public sealed class ResourceEstimateTests
{
    private static (INetwork Network, ISampler Sampler) Build(string sampler, SampleOptions o)
    {
        var network = ModelCatalog.Create(new ModelOptions("mlp", Inputs: 784, Outputs: 10, Widths: [8]));
        var context = new SamplerContext(new Tempering(1000, o.BatchSize, 1, 1), o.Steps);
        return (network, SamplerRegistry.Create(sampler, context, new Dictionary<string, double>()));
    }

    [Fact]
    public void Memory_and_time_follow_the_documented_formula()
    {
        var o = new SampleOptions { Model = new ModelOptions("mlp"), Out = "unused", Chains = 4, Steps = 1000, Warmup = 200, Thin = 10, BatchSize = 100, Track = 8 };
        var (network, sampler) = Build("sgld", o);
        using var _ = network as IDisposable;
        long p = network.TrainableCount; // 784·8 + 8 (Linear) + 2·8 (LayerNorm) + 8·10 + 10 (head) = 6,386
        Assert.Equal(6386, p);
        var e = ResourceEstimate.Of(o, network, sampler, trainExamples: 1000, inputFeatures: 784, tracked: 8);
        // K·P·6·4 + K·B·D·4·4 + N·D·4 + 2·K·draws·tracked·8 with draws = (1000 − 200) / 10 = 80.
        double bytes = 4.0 * p * 6 * 4 + 4.0 * 100 * 784 * 4 * 4 + 1000.0 * 784 * 4 + 2.0 * 4 * 80 * 8 * 8;
        Assert.Equal((long)bytes, e.Bytes);
        // 6·P·B FLOP per chain and step at 1e11 FLOP/s.
        Assert.Equal(4.0 * 1000 * 6 * p * 100 / ResourceEstimate.AssumedFlops, e.Seconds, 12);
        Assert.Null(e.Refusal(o, availableBytes: 1L << 30));
    }

    [Fact]
    public void A_low_rank_method_counts_its_factors_and_a_small_machine_refuses()
    {
        var o = new SampleOptions { Model = new ModelOptions("mlp"), Out = "unused", Chains = 2, Steps = 100, Warmup = 0, BatchSize = 100, Draws = 20, Track = 8 };
        var (network, elrg) = Build("elrg", o);
        var (_, mfvi) = Build("mfvi", o);
        using var _ = network as IDisposable;
        long rankBytes = ResourceEstimate.Of(o, network, elrg, 1000, 784, 8).Bytes - ResourceEstimate.Of(o, network, mfvi, 1000, 784, 8).Bytes;
        // ELRG's default rank 4: 3·4 more values per parameter and chain than MFVI's.
        Assert.Equal(2L * network.TrainableCount * 3 * 4 * 4, rankBytes);
        var estimate = ResourceEstimate.Of(o, network, elrg, 1000, 784, 8);
        string? refusal = estimate.Refusal(o, availableBytes: estimate.Bytes);
        Assert.NotNull(refusal);
        Assert.Contains("of memory", refusal);
        Assert.Contains("--yes-i-know", refusal);
    }

    [Fact]
    public void Yes_i_know_lets_a_run_past_the_estimate()
    {
        using var dir = new TempFolder();
        // 200 chains × 10⁸ steps of a small MLP is far beyond a day; --max-wall-time ends it after a second.
        string[] args = ["sample", "--model", "mlp", "--widths", "8", "--chains", "200", "--steps", "100000000", "--warmup", "0",
            "--thin", "1", "--checkpoint-every", "0", "--max-wall-time", "1", "--out", dir.Combine("run")];
        var (refused, _, error) = InProcessCli.Run(args);
        Assert.Equal(2, refused);
        Assert.Contains("--yes-i-know", error);
        var (code, _, error2) = InProcessCli.Run([.. args, "--yes-i-know"]);
        Assert.True(code == 0, error2);
        Assert.True(File.Exists(dir.Combine("run", "manifest.json")));
    }

    /// <summary>A study's cells are estimated as `sample` runs are: refused with the advice to pass --yes-i-know, which
    /// compare and plan take (also beside a --config) and study.json records as yes_i_know, so run-cell and resume of
    /// the study keep it.</summary>
    [Fact]
    public void Compare_and_plan_take_yes_i_know_for_their_cells()
    {
        using var dir = new TempFolder();
        string[] study = ["--model", "mlp", "--widths", "8", "--chains", "200", "--steps", "100000000", "--max-wall-time", "1",
            "--variants", "standard", "--sampler", "sgld", "--checkpoint-every", "0"];
        var (refused, output, _) = InProcessCli.Run(["compare", .. study, "--out", dir.Combine("refused")]);
        Assert.Equal(2, refused);
        Assert.Contains("pass --yes-i-know", output);
        Assert.False(File.Exists(dir.Combine("refused", "runs", "mlp-standard-sgld-seed0", "manifest.json")));

        // Let through, the cell starts (its run folder exists); one second is too short for a draw, which is not this test's point.
        (_, output, _) = InProcessCli.Run(["compare", .. study, "--yes-i-know", "--out", dir.Combine("let")]);
        Assert.DoesNotContain("pass --yes-i-know", output);
        Assert.True(File.Exists(dir.Combine("let", "runs", "mlp-standard-sgld-seed0", "manifest.json")), output);

        var (code, _, error) = InProcessCli.Run(["plan", .. study, "--yes-i-know", "--out", dir.Combine("plan")]);
        Assert.True(code == 0, error);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.Combine("plan", "study.json")))!;
        Assert.True(config["yes_i_know"]!.GetValue<bool>());
    }
}
