using Parquet;
using Workbench.Architectures;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Studies;

public sealed class SamplingRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A tiny run on the embedded data: small MLP, 2 chains, a few dozen steps.</summary>
    private SampleOptions Tiny(string name) => new()
    {
        Model = new ModelOptions("mlp", Widths: [16]),
        StepSize = 0.05, Chains = 2, Steps = 40, Warmup = 10, Thin = 10, BatchSize = 32, Track = 4,
        Seed = 3, Threads = 1, Device = "cpu", Out = Path.Combine(_dir, name),
    };

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

    [Theory]
    // n = ⌈rows / (0.05 · 3 · batch · thin)⌉: the MNIST subset's 2,000 test rows at batch 128, thin 10 give 2000/192 = 10.4;
    // with its 8,000 training rows as well 10000/192 = 52.1; 192 rows exactly fit one draw's 5 %; fitted methods evaluate all.
    [InlineData(2000, 128, 10, false, 11)]
    [InlineData(10000, 128, 10, false, 53)]
    [InlineData(192, 128, 10, false, 1)]
    [InlineData(193, 128, 10, false, 2)]
    [InlineData(2000, 128, 10, true, 1)]
    [InlineData(0, 128, 10, false, 1)]
    public void Default_evaluation_cadence_keeps_evaluation_within_five_percent_of_sampling(long rows, long batch, int thin, bool fitted, int expected) =>
        Assert.Equal(expected, SampleOptions.AutoEvalEvery(rows, batch, thin, fitted));

    [Fact]
    public void Default_cadence_is_resolved_recorded_and_evaluates_every_nth_draw_and_the_last()
    {
        // Tiny: 2,000 test rows, batch 32, thin 10 → n = ⌈2000 / 48⌉ = 42; 3 draws (iterations 20, 30, 40): draw 0 and the last.
        var run = SamplingRun.Execute(Tiny("auto"), TextWriter.Null);
        var config = Manifest.Load(run.Folder).Get("config")!;
        Assert.Equal(42, config["eval_every"]!.GetValue<int>());
        Assert.True(config["eval_every_auto"]!.GetValue<bool>());
        var eval = ParquetTable.Read(Path.Combine(run.Folder, "eval.parquet"));
        Assert.Equal(["test"], eval.Column<string>("split").Distinct().ToArray()); // no training split by default
        Assert.Equal([0, 2], eval.Column<int>("draw").Distinct().Order().ToArray());
        var every = SamplingRun.Execute(Tiny("every") with { EvalEvery = 1 }, TextWriter.Null);
        Assert.False(Manifest.Load(every.Folder).Get("config")!["eval_every_auto"]!.GetValue<bool>());
        Assert.Equal([0, 1, 2], ParquetTable.Read(Path.Combine(every.Folder, "eval.parquet")).Column<int>("draw").Distinct().Order().ToArray());
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

    /// <summary>Every tracked parameter of every draw, ordered by chain and draw.</summary>
    private static double[] DrawsByChain(RunResult r)
    {
        var t = ParquetTable.Read(Path.Combine(r.Folder, "draws.parquet"));
        var rows = Enumerable.Range(0, (int)t.RowCount).OrderBy(i => t.Column<int>("chain")[i]).ThenBy(i => t.Column<int>("draw")[i]).ToArray();
        return t.Columns.Skip(3).SelectMany(c => rows.Select(i => t.ColumnAsDouble(c)[i])).ToArray();
    }

    [Fact]
    public void Augmented_run_differs_from_a_plain_one_and_its_batched_and_sequential_chains_agree()
    {
        var plain = SamplingRun.Execute(Tiny("plain"), TextWriter.Null);
        var batched = SamplingRun.Execute(Tiny("augmented") with { Augment = true }, TextWriter.Null);
        var sequential = SamplingRun.Execute(Tiny("augmented-sequential") with { Augment = true, ChainMode = "sequential" }, TextWriter.Null);
        double[] p = DrawsByChain(plain), a = DrawsByChain(batched), s = DrawsByChain(sequential);
        Assert.Equal(p.Length, a.Length);
        Assert.NotEqual(p, a);
        // Each chain augments from its own generator: alone or batched, the same batches (float32 rounding aside).
        Assert.Equal(a.Length, s.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], s[i], 5);
        var manifest = Manifest.Load(batched.Folder);
        Assert.True(manifest.Get("config")!["augment"]!.GetValue<bool>());
        Assert.False(Manifest.Load(plain.Folder).Get("config")!["augment"]!.GetValue<bool>());
        Assert.NotNull(manifest.Get("seeds")!["chains"]![0]!["augment"]);
    }

    [Fact]
    public void Augment_is_refused_for_feature_data_and_full_batch_methods_with_one_line_and_exit_2()
    {
        string csv = Path.Combine(_dir, "classes.csv");
        File.WriteAllLines(csv, ["a,b,y", .. Enumerable.Range(0, 40).Select(i => $"{i % 7},{i % 5},{i % 2}")]);
        string[] common = ["sample", "--model", "mlp", "--widths", "8", "--steps", "20", "--warmup", "5", "--thin", "5", "--threads", "1", "--device", "cpu", "--augment"];
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--data", csv, "--target", "y", "--batch-size", "8"], "--augment applies only to image data [C, H, W]"),
            (["--sampler", "hmc", "--param", "n_steps=2"], "--augment applies to minibatch methods; hmc"),
        })
        {
            string out_ = Path.Combine(_dir, "refused");
            var output = new StringWriter();
            var error = new StringWriter();
            int code = Workbench.Cli.WorkbenchCli.Run([.. common, .. args, "--out", out_], output, error);
            Assert.Equal(2, code);
            Assert.Contains(expected, error.ToString());
            Assert.Single(error.ToString().Trim().Split('\n'));
            Assert.False(Directory.Exists(out_), "nothing may be written for a refused option");
        }
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

    /// <summary>
    /// A chain whose parameters are scaled up 10⁴-fold at step 15 has a finite but enormous loss (its logits grow by far
    /// more than 10⁴): the divergence rule stops it (loss beyond 1000·max(|ℓ₀|, 1) over its first step's ℓ₀), the manifest
    /// records the factor, and with --divergence-factor 0 only non-finite values count, so the chain runs on.
    /// </summary>
    [Fact]
    public void A_finite_blow_up_is_a_divergence_by_the_rule_and_the_factor_can_turn_it_off()
    {
        Workbench.Samplers.ISampler Blowing(Workbench.Samplers.SamplerContext context, IReadOnlyDictionary<string, double> h) =>
            new DivergingChain(new Workbench.Samplers.Sgld(context.Tempering, h["step_size"]), chain: 1, atIteration: 15, scale: 1e4);
        var result = SamplingRun.Execute(Tiny("blow-up") with { Chains = 2, SamplerFactory = Blowing }, TextWriter.Null);
        var d = Assert.Single(result.Diverged);
        Assert.Equal((1, 15L), (d.Chain, d.Iteration));
        var stats = ParquetTable.Read(Path.Combine(result.Folder, "stats.parquet"));
        var row = Array.FindIndex(stats.Column<int>("diverging"), v => v == 1);
        Assert.True(double.IsFinite(stats.Column<double>("loss")[row]), "the rule, not a non-finite value, stopped it");
        Assert.Equal(Workbench.Studies.Sampling.DivergenceRule.DefaultFactor, Manifest.Load(result.Folder).Get("config")!["divergence_factor"]!.GetValue<double>());

        var off = SamplingRun.Execute(Tiny("blow-up-off") with { Chains = 2, SamplerFactory = Blowing, DivergenceFactor = 0 }, TextWriter.Null);
        Assert.Empty(off.Diverged);
    }

    /// <summary>
    /// A chain that diverges after some draws is left out of the run's diagnostics whole: the other chains keep their
    /// full length (their R̂ and ESS are those of the two healthy chains alone, finite), and a finished run's diagnostics
    /// carry no "run unfinished" flag although they are written before the manifest says finished.
    /// </summary>
    [Fact]
    public void A_chain_diverged_after_its_draws_is_left_out_of_the_diagnostics_and_the_others_keep_theirs()
    {
        var options = Tiny("late-divergence") with
        {
            Chains = 3, Steps = 60, Warmup = 10, Thin = 2, Track = 3,
            SamplerFactory = (context, h) => new DivergingChain(new Workbench.Samplers.Sgld(context.Tempering, h["step_size"]), chain: 1, atIteration: 41),
        };
        var result = SamplingRun.Execute(options, TextWriter.Null);
        Assert.Equal((1, 41L), (Assert.Single(result.Diverged).Chain, result.Diverged[0].Iteration));
        var draws = ParquetTable.Read(Path.Combine(result.Folder, "draws.parquet"));
        var chain = draws.Column<int>("chain");
        Assert.Equal(15, chain.Count(c => c == 1));  // draws at 12, 14, …, 40 before the divergence
        Assert.Equal(25, chain.Count(c => c == 0));

        var table = ParquetTable.Read(Path.Combine(result.Folder, "diagnostics.parquet"));
        var variables = table.Column<string>("variable");
        var spaces = table.Column<string>("space");
        foreach (var name in draws.Columns.Skip(3))
        {
            int row = Enumerable.Range(0, table.RowCount).Single(r => variables[r] == name && spaces[r] == "raw");
            var values = draws.ColumnAsDouble(name);
            double[] Chain(int k) => Enumerable.Range(0, chain.Length).Where(r => chain[r] == k).Select(r => values[r]).ToArray();
            var expected = Workbench.Studies.Diagnostics.ConvergenceDiagnostics.Of(name, [Chain(0), Chain(2)]);
            Assert.Equal(expected.Rhat, table.Column<double>("rhat")[row], 12);
            Assert.Equal(expected.EssBulk, table.Column<double>("ess_bulk")[row], 9);
            Assert.True(double.IsFinite(table.Column<double>("ess_bulk")[row]));
        }
        Assert.DoesNotContain(table.Column<string>("flag"), f => f.Contains("unfinished"));
    }

    [Theory]
    [InlineData(false, 2.3, 1.0, 2.3, 1.0, 1000, null)]
    [InlineData(true, 2.3, 1.0, 2.3, 1.0, 1000, "non-finite")]
    [InlineData(false, double.PositiveInfinity, 1.0, 2.3, 1.0, 0, "non-finite")]
    [InlineData(false, 2302.0, 1.0, 2.3, 1.0, 1000, null)]        // ℓ₀ + 1000·2.3 = 2302.3: just inside
    [InlineData(false, 2303.0, 1.0, 2.3, 1.0, 1000, "loss")]      // just beyond
    [InlineData(false, 900.0, 1.0, -0.5, 1.0, 1000, null)]        // a negative ℓ₀ (regression): the margin is 1000·1
    [InlineData(false, 1000.0, 1.0, -0.5, 1.0, 1000, "loss")]
    [InlineData(false, 2.0, 999.0, 2.3, 0.01, 1000, null)]        // g₀ below 1: the bound is 1000·1
    [InlineData(false, 2.0, 1001.0, 2.3, 0.01, 1000, "gradient norm")]
    [InlineData(false, 1e20, 1e20, 2.3, 1.0, 0, null)]            // factor 0: finite values never count
    public void Divergence_rule_thresholds(bool nonFinite, double loss, double grad, double loss0, double grad0, double factor, string? expected)
    {
        var why = Workbench.Studies.Sampling.DivergenceRule.Check(nonFinite, loss, grad, loss0, grad0, factor);
        if (expected is null) Assert.Null(why);
        else Assert.StartsWith(expected, why);
    }

    /// <summary>Wraps a sampler and makes one chain's parameters non-finite (or, with a scale, that many times larger) at a
    /// given iteration.</summary>
    private sealed class DivergingChain(Workbench.Samplers.ISampler inner, int chain, int atIteration, double scale = double.NaN) : Workbench.Samplers.ISampler
    {
        private int _iteration;
        public string Name => inner.Name;
        public Workbench.Samplers.Tempering Tempering => inner.Tempering;
        public IReadOnlyDictionary<string, object> Hyperparameters => inner.Hyperparameters;
        public Workbench.Samplers.SamplerState Init(TorchSharp.torch.Tensor position) => inner.Init(position);

        public Workbench.Samplers.StepInfo Step(Workbench.Samplers.SamplerState state, Workbench.Samplers.ILogLikelihood target, IReadOnlyList<TorchSharp.torch.Generator> generators)
        {
            if (++_iteration == atIteration)
                using (TorchSharp.torch.no_grad())
                {
                    if (double.IsNaN(scale)) state.Position[chain].fill_(HeldScalars.Of(double.NaN));
                    else state.Position[chain].mul_(HeldScalars.Of(scale));
                }
            return inner.Step(state, target, generators);
        }
    }
}
