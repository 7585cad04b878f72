using Workbench.Architectures;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Studies;

/// <summary>
/// progress.parquet: every --progress-every steps (and at the last step) a fitted method's current distribution is
/// evaluated with --progress-draws draws of its own, which neither disturb the fit nor change on a resume.
/// </summary>
public sealed class ProgressEvaluationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-progress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SampleOptions Tiny(string name, string sampler) => new()
    {
        Model = new ModelOptions("mlp", Variant.WAsym, Widths: [8]), Sampler = sampler, StepSize = 1e-3,
        Chains = 2, Steps = 30, Warmup = 10, Thin = 2, BatchSize = 16, Draws = 3, Track = 3, EvalTrain = true,
        ProgressEvery = 10, ProgressDraws = 4, Threads = 1, Device = "cpu", CheckpointEvery = 0, Seed = 3, Out = Path.Combine(_dir, name),
    };

    private static ParquetTable Progress(string folder) => ParquetTable.Read(Path.Combine(folder, ChainLoop.ProgressTable));

    [Theory]
    [InlineData("mfvi")]
    [InlineData("elrg")]
    public void Fitted_method_writes_a_progress_row_per_evaluation_chain_and_split_reproducibly(string sampler)
    {
        // --max-epochs 0.05 stops the fit at step 25 (batch 16 of 8,000), so the evaluations are at 10, 20 and 25.
        var options = Tiny(sampler, sampler) with { MaxEpochs = 0.05 };
        var first = SamplingRun.Execute(options, TextWriter.Null);
        var progress = Progress(first.Folder);
        Assert.Equal(["chain", "iteration", "epoch", "grad_evals", "wall_time_s", "split", "nll", "accuracy", "brier", "ece"], progress.Columns);
        var rows = Enumerable.Range(0, progress.RowCount)
            .Select(r => (progress.Column<long>("iteration")[r], progress.Column<string>("split")[r], progress.Column<int>("chain")[r])).ToArray();
        var expected = from iteration in new long[] { 10, 20, 25 } from split in new[] { "test", "train" } from chain in new[] { 0, 1 }
                       select (iteration, split, chain);
        Assert.Equal(expected, rows);
        Assert.Equal(progress.Column<long>("iteration"), progress.Column<long>("grad_evals"));
        Assert.Equal(progress.Column<long>("iteration").Select(i => i * 16 / 8000.0), progress.Column<double>("epoch"));
        Assert.All(progress.Column<double>("accuracy"), a => Assert.InRange(a, 0.0, 1.0));
        Assert.All(progress.Column<double>("nll"), v => Assert.True(double.IsFinite(v) && v > 0));
        Assert.Equal(12L, Manifest.Load(first.Folder).Tables["progress"]);

        // The same options give the same rows, bit for bit.
        var second = SamplingRun.Execute(options with { Out = Path.Combine(_dir, sampler + "-again") }, TextWriter.Null);
        ResumeTests.AssertSameTables(first.Folder, second.Folder);
    }

    [Fact]
    public void Progress_rows_of_a_snapshot_are_the_bma_of_its_own_draws()
    {
        // More draws per snapshot average more of q: the BMA's rows must differ between 1 and 4 draws.
        var one = SamplingRun.Execute(Tiny("one", "mfvi") with { ProgressDraws = 1 }, TextWriter.Null);
        var four = SamplingRun.Execute(Tiny("four", "mfvi"), TextWriter.Null);
        Assert.NotEqual(Progress(one.Folder).Column<double>("nll"), Progress(four.Folder).Column<double>("nll"));
        Assert.Equal(Progress(one.Folder).RowCount, Progress(four.Folder).RowCount);
    }

    [Theory]
    [InlineData("mfvi")]
    [InlineData("swag")]
    [InlineData("ensemble")]
    public void Progress_evaluations_do_not_change_the_fit(string sampler)
    {
        var without = SamplingRun.Execute(Tiny(sampler + "-none", sampler) with { ProgressEvery = 0 }, TextWriter.Null);
        var with = SamplingRun.Execute(Tiny(sampler + "-every-5", sampler) with { ProgressEvery = 5 }, TextWriter.Null);
        Assert.False(File.Exists(Path.Combine(without.Folder, ChainLoop.ProgressTable)));
        Assert.False(Manifest.Load(without.Folder).Tables.ContainsKey("progress"));
        Assert.True(Progress(with.Folder).RowCount > 0);
        ResumeTests.AssertSameTables(without.Folder, with.Folder, "draws", "stats", "eval", "function");
    }

    [Fact]
    public void Swag_progress_starts_with_its_first_snapshot()
    {
        // SWAG collects from step ⌊0.5·30⌋ + 1 = 16 on: there is no SWAG Gaussian to evaluate at step 10.
        var result = SamplingRun.Execute(Tiny("swag", "swag"), TextWriter.Null);
        Assert.Equal([20L, 30L], Progress(result.Folder).Column<long>("iteration").Distinct());
    }

    [Fact]
    public void Regression_progress_has_nll_and_rmse()
    {
        var random = new Random(3);
        var lines = new List<string> { "a,b,y" };
        for (int i = 0; i < 100; i++)
        {
            double a = random.NextDouble() - 0.5, b = random.NextDouble() - 0.5;
            lines.Add(FormattableString.Invariant($"{a},{b},{2 * a - b}"));
        }
        string csv = Path.Combine(_dir, "linreg.csv");
        File.WriteAllLines(csv, lines);
        var result = SamplingRun.Execute(Tiny("linreg", "mfvi") with
        {
            Model = new ModelOptions("linreg"), Data = csv, Target = "y", NoiseStd = 0.1, BatchSize = 20,
        }, TextWriter.Null);
        var progress = Progress(result.Folder);
        Assert.Equal(["chain", "iteration", "epoch", "grad_evals", "wall_time_s", "split", "nll", "rmse"], progress.Columns);
        Assert.All(progress.Column<double>("rmse"), v => Assert.True(double.IsFinite(v) && v > 0));
    }
}
