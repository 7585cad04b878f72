using Parquet;
using Workbench.Architectures;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Studies;

public sealed class ComparisonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-compare-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A tiny comparison on the embedded data: small MLP, 2 chains, a few dozen steps.</summary>
    private SampleOptions Tiny(string name) => new()
    {
        Model = new ModelOptions("mlp", Widths: [16]),
        StepSize = 0.05, Chains = 2, Steps = 40, Warmup = 10, Thin = 10, BatchSize = 32, Track = 4,
        Seed = 3, Threads = 1, Device = "cpu", Out = Path.Combine(_dir, name),
    };

    [Fact]
    public async Task Compare_writes_a_finished_run_per_variant_with_readable_tables_and_figures()
    {
        var results = Comparison.Execute(Tiny("study"), Comparison.DefaultVariants, TextWriter.Null);
        Assert.Equal(3, results.Count);
        foreach (var variant in VariantNames.All)
        {
            string run = Path.Combine(_dir, "study", variant);
            Assert.True(RunFolder.IsFinishedRun(run, out string reason), $"{variant}: {reason}");
            var manifest = Manifest.Load(run);
            Assert.Equal("finished", manifest.Status);
            Assert.Equal(variant, manifest.Get("model")!["variant"]!.GetValue<string>());
            Assert.NotNull(manifest.Get("tempering")!["weight_decay_equivalent"]);

            // Read with Parquet.Net's own reader, not ours: one file per table, the documented columns.
            var expected = new Dictionary<string, string[]>
            {
                ["draws"] = ["chain", "draw", "iteration"],
                ["stats"] = ["chain", "iteration", "epoch", "loss", "lp", "step_size", "grad_norm", "diverging", "wall_time_s"],
                ["eval"] = ["chain", "draw", "iteration", "epoch", "split", "nll", "accuracy", "bma_nll", "bma_accuracy"],
            };
            foreach (var (table, columns) in expected)
            {
                await using var reader = await ParquetReader.CreateAsync(Path.Combine(run, $"{table}.parquet"));
                var names = reader.Schema.DataFields.Select(f => f.Name).ToArray();
                Assert.Equal(columns, names.Take(columns.Length));
                Assert.False(Directory.Exists(Path.Combine(run, $"{table}.parquet.parts")));
            }
            Assert.True(File.Exists(Path.Combine(run, "trace.png")) && File.Exists(Path.Combine(run, "trace.svg")));

            var stats = ParquetTable.Read(Path.Combine(run, "stats.parquet"));
            Assert.Equal(2 * 40, stats.RowCount);
            var draws = ParquetTable.Read(Path.Combine(run, "draws.parquet"));
            Assert.Equal(2 * 3, draws.RowCount); // (40 − 10) / 10 draws per chain
            Assert.Equal(3 + 4, draws.Columns.Count); // 4 tracked parameters
            var eval = ParquetTable.Read(Path.Combine(run, "eval.parquet"));
            Assert.All(eval.Column<double>("bma_accuracy"), a => Assert.InRange(a, 0.0, 1.0));
        }
        foreach (var figure in new[] { "bma-test-accuracy", "bma-test-nll", "training-loss" })
            foreach (var ext in new[] { ".png", ".svg" })
                Assert.True(File.Exists(Path.Combine(_dir, "study", figure + ext)), figure + ext);
        Assert.Contains("w-asym", File.ReadAllText(Path.Combine(_dir, "study", "summary.md")));
    }

    [Fact]
    public void Same_seed_gives_the_same_chains_and_another_seed_does_not()
    {
        var a = SamplingRun.Execute(Tiny("a"), TextWriter.Null);
        var b = SamplingRun.Execute(Tiny("b"), TextWriter.Null);
        var c = SamplingRun.Execute(Tiny("c") with { Seed = 4 }, TextWriter.Null);
        static double[] Values(RunResult r)
        {
            var t = ParquetTable.Read(Path.Combine(r.Folder, "draws.parquet"));
            return t.Columns.Skip(3).SelectMany(t.ColumnAsDouble).ToArray(); // every tracked parameter
        }
        Assert.Equal(Values(a), Values(b));
        Assert.NotEqual(Values(a), Values(c));
    }

    [Fact]
    public void Chain_draws_do_not_depend_on_how_many_chains_run_beside_it()
    {
        // Every chain has its own generators (init, noise, batch order) derived from the run seed and its index.
        var two = SamplingRun.Execute(Tiny("two"), TextWriter.Null);
        var three = SamplingRun.Execute(Tiny("three") with { Chains = 3 }, TextWriter.Null);
        double[] Chain1(RunResult r)
        {
            var t = ParquetTable.Read(Path.Combine(r.Folder, "draws.parquet"));
            var chain = t.Column<int>("chain");
            return t.Columns.Skip(3).SelectMany(t.ColumnAsDouble).Where((_, i) => chain[i % chain.Length] == 1).ToArray();
        }
        var expected = Chain1(two);
        var actual = Chain1(three);
        Assert.Equal(expected.Length, actual.Length);
        // Batched matrix products may sum in another order for another K: equal to float32 rounding.
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 5);
    }

    [Fact]
    public void Failed_run_is_marked_failed_and_has_no_finished_tables()
    {
        // An absurd step size makes every chain diverge; the run must stop and say so, never look finished.
        var options = Tiny("diverged") with { StepSize = 1e12 };
        Assert.ThrowsAny<Exception>(() => SamplingRun.Execute(options, TextWriter.Null));
        var manifest = Manifest.Load(options.Out);
        Assert.Equal("failed", manifest.Status);
        Assert.Contains("diverged", manifest.Error);
        Assert.False(RunFolder.IsFinishedRun(options.Out, out _));
        Assert.False(File.Exists(Path.Combine(options.Out, "draws.parquet")));
    }
}
