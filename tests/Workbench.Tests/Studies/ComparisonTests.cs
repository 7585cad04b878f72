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
                ["stats"] = ["chain", "iteration", "epoch", "loss", "lp", "step_size", "grad_norm", "diverging", "wall_time_s", "grad_evals"],
                ["eval"] = ["chain", "draw", "iteration", "epoch", "grad_evals", "wall_time_s", "split", "nll", "accuracy", "brier", "ece", "bma_nll", "bma_accuracy", "bma_brier", "bma_ece", "bma_mce"],
            };
            foreach (var (table, columns) in expected)
            {
                await using var reader = await ParquetReader.CreateAsync(Path.Combine(run, $"{table}.parquet"));
                var names = reader.Schema.DataFields.Select(f => f.Name).ToArray();
                Assert.Equal(columns, names.Take(columns.Length));
                Assert.False(Directory.Exists(Path.Combine(run, $"{table}.parquet.parts")));
            }
            Assert.True(File.Exists(Path.Combine(run, "trace.png")) && File.Exists(Path.Combine(run, "trace.svg")));
            // The final BMA's bin table, per chain and pooled (chain −1): 15 bins each; its reliability diagram.
            var calibration = ParquetTable.Read(Path.Combine(run, "calibration.parquet"));
            Assert.Equal(3 * 15, calibration.RowCount);
            Assert.Equal(2000L, calibration.Column<long>("count").Where((_, i) => calibration.Column<int>("chain")[i] == -1).Sum());
            Assert.True(File.Exists(Path.Combine(run, "reliability.png")) && File.Exists(Path.Combine(run, "reliability.svg")));
            var diagnostics = ParquetTable.Read(Path.Combine(run, "diagnostics.parquet"));
            // raw: one row per tracked parameter; canonical: the same for the standard MLP only; function: 2 summaries.
            var spaces = diagnostics.Column<string>("space");
            Assert.Equal(4, spaces.Count(s => s == "raw"));
            Assert.Equal(variant == "standard" ? 4 : 0, spaces.Count(s => s == "canonical"));
            Assert.Equal(2, spaces.Count(s => s == "function"));

            var stats = ParquetTable.Read(Path.Combine(run, "stats.parquet"));
            Assert.Equal(2 * 40, stats.RowCount);
            var draws = ParquetTable.Read(Path.Combine(run, "draws.parquet"));
            Assert.Equal(2 * 3, draws.RowCount); // (40 − 10) / 10 draws per chain
            Assert.Equal(3 + 4, draws.Columns.Count); // 4 tracked parameters
            var eval = ParquetTable.Read(Path.Combine(run, "eval.parquet"));
            Assert.All(eval.Column<double>("bma_accuracy"), a => Assert.InRange(a, 0.0, 1.0));
        }
        foreach (var figure in new[] { "bma-test-accuracy", "bma-test-nll", "training-loss", "reliability" })
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

    [Fact]
    public void Batched_and_sequential_chains_give_the_same_draws()
    {
        var batched = SamplingRun.Execute(Tiny("batched") with { Chains = 3 }, TextWriter.Null);
        var sequential = SamplingRun.Execute(Tiny("sequential") with { Chains = 3, ChainMode = "sequential" }, TextWriter.Null);
        static (int[] Chain, int[] Draw, double[] Values) Read(RunResult r)
        {
            var t = ParquetTable.Read(Path.Combine(r.Folder, "draws.parquet"));
            var rows = Enumerable.Range(0, (int)t.RowCount).OrderBy(i => t.Column<int>("chain")[i]).ThenBy(i => t.Column<int>("draw")[i]).ToArray();
            return (rows.Select(i => t.Column<int>("chain")[i]).ToArray(), rows.Select(i => t.Column<int>("draw")[i]).ToArray(),
                t.Columns.Skip(3).SelectMany(c => rows.Select(i => t.ColumnAsDouble(c)[i])).ToArray());
        }
        var a = Read(batched);
        var b = Read(sequential);
        Assert.Equal(a.Chain, b.Chain);
        Assert.Equal(a.Draw, b.Draw);
        // Same seeds per chain; a batched matrix product may add in another order than K = 1: float32 rounding only.
        for (int i = 0; i < a.Values.Length; i++) Assert.Equal(a.Values[i], b.Values[i], 5);
    }

    [Fact]
    public void Diverged_chain_is_stopped_and_named_while_the_others_go_on()
    {
        var options = Tiny("one-diverges") with
        {
            Chains = 3,
            SamplerFactory = (context, h) => new DivergingChain(new Workbench.Samplers.Sgld(context.Tempering, h["step_size"]), chain: 1, atIteration: 15),
        };
        var result = SamplingRun.Execute(options, TextWriter.Null);
        Assert.Equal("finished_with_divergences", result.Status);
        var d = Assert.Single(result.Diverged);
        Assert.Equal((1, 15L), (d.Chain, d.Iteration));
        var manifest = Manifest.Load(result.Folder);
        Assert.Equal("finished_with_divergences", manifest.Status);
        Assert.Equal(1, manifest.Get("divergences")![0]!["chain"]!.GetValue<int>());
        var stats = ParquetTable.Read(Path.Combine(result.Folder, "stats.parquet"));
        var chain = stats.Column<int>("chain");
        Assert.Equal(15, chain.Count(c => c == 1));      // its last row is the diverging step
        Assert.Equal(40, chain.Count(c => c == 0));
        Assert.Equal(1, stats.Column<int>("diverging").Sum());
        var draws = ParquetTable.Read(Path.Combine(result.Folder, "draws.parquet")).Column<int>("chain");
        Assert.DoesNotContain(1, draws);
        Assert.Equal(3, draws.Count(c => c == 2));
        Assert.True(RunFolder.IsFinishedRun(result.Folder, out _));
    }

    /// <summary>Wraps a sampler and makes one chain's parameters non-finite at a given iteration.</summary>
    private sealed class DivergingChain(Workbench.Samplers.ISampler inner, int chain, int atIteration) : Workbench.Samplers.ISampler
    {
        private int _iteration;
        public string Name => inner.Name;
        public Workbench.Samplers.Tempering Tempering => inner.Tempering;
        public IReadOnlyDictionary<string, object> Hyperparameters => inner.Hyperparameters;
        public Workbench.Samplers.SamplerState Init(TorchSharp.torch.Tensor position) => inner.Init(position);

        public Workbench.Samplers.StepInfo Step(Workbench.Samplers.SamplerState state, Workbench.Samplers.ILogLikelihood target, IReadOnlyList<TorchSharp.torch.Generator> generators)
        {
            if (++_iteration == atIteration)
                using (TorchSharp.torch.no_grad()) state.Position[chain].fill_(double.NaN);
            return inner.Step(state, target, generators);
        }
    }

    [Fact]
    public void Plot_redraws_a_study_from_its_tables_and_leaves_out_an_interrupted_run()
    {
        var options = Tiny("replot");
        Comparison.Execute(options, [Variant.Standard, Variant.WAsym], TextWriter.Null);
        string study = options.Out;
        foreach (var f in Directory.GetFiles(study, "*.png").Concat(Directory.GetFiles(study, "*.svg"))) File.Delete(f);
        // Make w-asym look interrupted: status running, written by a process that is gone.
        string manifest = Path.Combine(study, "w-asym", "manifest.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifest))!;
        json["status"] = "running";
        using (var gone = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            gone.WaitForExit();
            json["machine"]!["pid"] = gone.Id;
        }
        File.WriteAllText(manifest, json.ToJsonString());

        var output = new StringWriter();
        var error = new StringWriter();
        int code = Workbench.Cli.WorkbenchCli.Run(["plot", study], output, error);
        Assert.True(code == 0, error.ToString());
        Assert.Contains("w-asym: interrupted", output.ToString());
        foreach (var figure in new[] { "bma-test-accuracy", "bma-test-nll", "training-loss", "reliability" })
            Assert.True(File.Exists(Path.Combine(study, figure + ".png")) && File.Exists(Path.Combine(study, figure + ".svg")), figure);
        // The legend's text elements name the runs drawn and not the interrupted one (Skia writes each label alone
        // between '>' and '<', padded with whitespace).
        var labels = System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(Path.Combine(study, "bma-test-accuracy.svg")), @">\s*([^<>]*?)\s*<")
            .Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("standard", labels);
        Assert.DoesNotContain("w-asym", labels);

        // Not a study: one line, exit 2.
        error = new StringWriter();
        Assert.Equal(2, Workbench.Cli.WorkbenchCli.Run(["plot", Path.Combine(study, "standard")], new StringWriter(), error));
        Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
