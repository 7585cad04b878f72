using System.Globalization;
using Workbench.Architectures;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Studies;

/// <summary>
/// Run budgets (--max-epochs, --max-grad-evals, --max-wall-time): a chain group stops after the step at which a budget
/// is reached, keeps what it collected (fitted methods draw from their fit at that point), evaluates its last draw, and
/// the manifest says why it stopped.
/// </summary>
public sealed class RunBudgetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-budget-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SampleOptions Tiny(string name, string sampler = "sgld") => new()
    {
        Model = new ModelOptions("mlp", Variant.WAsym, Widths: [8]), Sampler = sampler, StepSize = 1e-3,
        Chains = 2, Steps = 60, Warmup = 10, Thin = 2, BatchSize = 16, Draws = 3, Track = 3, EvalTrain = false,
        Threads = 1, Device = "cpu", CheckpointEvery = 0, Seed = 3, Out = Path.Combine(_dir, name),
    };

    private static ParquetTable Table(string folder, string name) => ParquetTable.Read(Path.Combine(folder, name + ".parquet"));

    private static (string Reason, System.Text.Json.Nodes.JsonNode Iterations) Stop(string folder)
    {
        var stop = Manifest.Load(folder).Get("stop")!;
        return (stop["reason"]!.GetValue<string>(), stop["iterations"]!);
    }

    [Fact]
    public void Epoch_budget_stops_at_the_step_whose_epoch_counter_reaches_it_and_evaluates_the_last_draw()
    {
        var options = Tiny("epochs") with { MaxEpochs = 0.05, EvalEvery = 4 };
        var result = SamplingRun.Execute(options, TextWriter.Null);

        // epoch = grad_evals·B/N with one gradient evaluation per SGLD step: the first step t with t·16/N ≥ 0.05.
        long n = Manifest.Load(result.Folder).Get("tempering")!["training_size"]!.GetValue<long>();
        long expected = Enumerable.Range(1, 1000).First(t => (double)t * options.BatchSize / n >= options.MaxEpochs);
        Assert.Equal(25, expected); // N = 8,000 for the embedded subset
        var stats = Table(result.Folder, "stats");
        Assert.Equal(expected, stats.Column<long>("iteration").Max());
        Assert.Equal(2 * expected, stats.RowCount);
        Assert.True(stats.Column<double>("epoch").Max() >= 0.05);
        var (reason, iterations) = Stop(result.Folder);
        Assert.Equal("epochs", reason);
        Assert.Equal(expected, iterations.GetValue<long>());
        Assert.Equal(expected, result.Stops.Single().Iterations);
        Assert.Equal(expected, result.StepsPerSecond * result.Seconds, 6); // steps done, not --steps

        // Draws at 12, 14, …, 24 (draws 0..6); --eval-every 4 evaluates draws 0 and 4 on its grid, and the stop the last.
        var draws = Table(result.Folder, "draws");
        var eval = Table(result.Folder, "eval");
        Assert.Equal(24L, draws.Column<long>("iteration").Max());
        Assert.Equal(6, draws.Column<int>("draw").Max());
        Assert.Equal([0, 4, 6], eval.Column<int>("draw").Where((_, i) => eval.Column<int>("chain")[i] == 0).ToArray());
        Assert.Equal(24L, eval.Column<long>("iteration")[^1]);
        Assert.False(File.Exists(Path.Combine(result.Folder, ChainLoop.ProgressTable)), "Markov chains write no progress table");
    }

    private string LinregCsv()
    {
        var random = new Random(3);
        var lines = new List<string> { "a,b,y" };
        for (int i = 0; i < 100; i++)
        {
            double a = random.NextDouble() - 0.5, b = random.NextDouble() - 0.5;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{a},{b},{2 * a - b + 0.1 * (random.NextDouble() - 0.5)}"));
        }
        string path = Path.Combine(_dir, "linreg.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void Grad_eval_budget_counts_gradient_evaluations_not_steps()
    {
        // HMC with L = 3: grad_evals 4, 7, 10, …, so a budget of 20 is reached at step 7 (22 evaluations).
        var options = new SampleOptions
        {
            Model = new ModelOptions("linreg"), Data = LinregCsv(), Target = "y", NoiseStd = 0.1, Sampler = "hmc",
            StepSize = 1e-3, SamplerParameters = new Dictionary<string, double> { ["n_steps"] = 3 },
            Chains = 1, Steps = 100, Warmup = 0, Thin = 1, Threads = 1, Device = "cpu", MaxGradEvals = 20, Out = Path.Combine(_dir, "grad-evals"),
        };
        var result = SamplingRun.Execute(options, TextWriter.Null);
        var stats = Table(result.Folder, "stats");
        Assert.Equal([4L, 7, 10, 13, 16, 19, 22], stats.Column<long>("grad_evals"));
        Assert.Equal(("grad_evals", 7L), (Stop(result.Folder).Reason, Stop(result.Folder).Iterations.GetValue<long>()));
        Assert.Equal(7, Table(result.Folder, "draws").RowCount);
        Assert.Equal(22L, Table(result.Folder, "eval").Column<long>("grad_evals")[^1]);
    }

    [Fact]
    public void Wall_time_budget_stops_each_sequential_group_on_its_own_clock()
    {
        const double budget = 1.0;
        var options = Tiny("wall") with { ChainMode = "sequential", Steps = 1_000_000, Thin = 10, MaxWallSeconds = budget };
        var result = SamplingRun.Execute(options, TextWriter.Null);

        var stop = Manifest.Load(result.Folder).Get("stop")!;
        Assert.Equal("wall_time", stop["reason"]!.GetValue<string>());
        Assert.Equal(["wall_time", "wall_time"], stop["reasons"]!.AsArray().Select(r => r!.GetValue<string>()));
        var iterations = stop["iterations"]!.AsArray().Select(i => i!.GetValue<long>()).ToArray();
        Assert.Equal(2, iterations.Length);
        Assert.All(iterations, i => Assert.InRange(i, 11, options.Steps - 1));
        var stats = Table(result.Folder, "stats");
        var chain = stats.Column<int>("chain");
        var wall = stats.Column<double>("wall_time_s");
        var iteration = stats.Column<long>("iteration");
        for (int k = 0; k < 2; k++)
            Assert.Equal(iterations[k], Enumerable.Range(0, chain.Length).Where(r => chain[r] == k).Max(r => iteration[r]));
        // The second chain's group starts after the first stopped (≥ 1 s) and then gets the whole budget again.
        Assert.True(wall.Where((_, r) => chain[r] == 0).Max() >= budget);
        Assert.True(wall.Where((_, r) => chain[r] == 1).Max() >= 2 * budget, "the second group did not get its own budget");
        var draws = Table(result.Folder, "draws").Column<int>("chain");
        Assert.Contains(0, draws);
        Assert.Contains(1, draws);
    }

    [Fact]
    public void Markov_chain_stopped_before_its_first_draw_fails_naming_the_budget()
    {
        var options = Tiny("no-draws") with { Warmup = 50, MaxGradEvals = 20 };
        var e = Assert.Throws<InvalidOperationException>(() => SamplingRun.Execute(options, TextWriter.Null));
        Assert.Contains("--max-grad-evals 20", e.Message);
        Assert.Contains("iteration 20", e.Message);
        Assert.Equal(RunStatus.Failed, Manifest.Load(options.Out).Status);
    }

    [Theory]
    [InlineData("mfvi")]
    [InlineData("ensemble")]
    public void Fitted_method_stopped_by_a_budget_takes_its_draws_from_the_fit_at_that_point(string sampler)
    {
        var result = SamplingRun.Execute(Tiny(sampler, sampler) with { MaxGradEvals = 25 }, TextWriter.Null);
        Assert.Equal(("grad_evals", 25L), (Stop(result.Folder).Reason, Stop(result.Folder).Iterations.GetValue<long>()));
        Assert.Equal(25L, Table(result.Folder, "stats").Column<long>("iteration").Max());
        var draws = Table(result.Folder, "draws");
        Assert.Equal(2 * 3, draws.RowCount); // --draws 3 per chain
        Assert.All(draws.Column<long>("iteration"), i => Assert.Equal(25L, i));
        var eval = Table(result.Folder, "eval");
        Assert.Equal(2, eval.Column<int>("draw").Count(d => d == 2)); // the last draw of each chain is evaluated
        Assert.All(eval.Column<long>("grad_evals"), g => Assert.Equal(25L, g));
    }

    [Fact]
    public void Swag_stopped_before_its_first_snapshot_fails_naming_the_budget()
    {
        // Collecting starts after step ⌊0.5·60⌋ = 30; a budget of 20 gradient evaluations stops it at 20.
        var options = Tiny("swag", "swag") with { MaxGradEvals = 20 };
        var e = Assert.Throws<InvalidOperationException>(() => SamplingRun.Execute(options, TextWriter.Null));
        Assert.Contains("--max-grad-evals 20", e.Message);
        Assert.Contains("start", e.Message);
    }

    [Theory]
    [InlineData("--max-epochs", 0.0)]
    [InlineData("--max-epochs", -1.0)]
    [InlineData("--max-epochs", double.NaN)]
    [InlineData("--max-epochs", double.PositiveInfinity)]
    [InlineData("--max-grad-evals", 0.0)]
    [InlineData("--max-wall-time", 0.0)]
    [InlineData("--max-wall-time", double.PositiveInfinity)]
    [InlineData("--progress-every", -1.0)]
    [InlineData("--progress-draws", 0.0)]
    public void Budget_and_progress_options_are_checked_with_one_line_naming_the_flag(string flag, double value)
    {
        var good = Tiny("valid") with { MaxEpochs = 1, MaxGradEvals = 1, MaxWallSeconds = 0.5, ProgressEvery = 0, ProgressDraws = 1 };
        good.Validate();
        var bad = flag switch
        {
            "--max-epochs" => good with { MaxEpochs = value },
            "--max-grad-evals" => good with { MaxGradEvals = (long)value },
            "--max-wall-time" => good with { MaxWallSeconds = value },
            "--progress-every" => good with { ProgressEvery = (int)value },
            _ => good with { ProgressDraws = (int)value },
        };
        var e = Assert.Throws<OptionException>(bad.Validate);
        Assert.StartsWith(flag + " must be", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Eta_counts_the_budget_that_ends_the_group_first()
    {
        var o = Tiny("eta") with { Steps = 1000 };
        // 10 s for 100 of 1,000 steps: 90 s left in this group, and 100 s for the one after it.
        Assert.Equal(0.1, ChainLoop.GroupFraction(o, 100, 0.2, 100, 10), 12);
        Assert.Equal(90 + 100, ChainLoop.Eta(o, 0, 2, 0.1, 10)!.Value, 9);
        // An epoch budget of 0.4 with 0.2 epochs done: half-way, whatever --steps says.
        var epochs = o with { MaxEpochs = 0.4 };
        Assert.Equal(0.5, ChainLoop.GroupFraction(epochs, 100, 0.2, 100, 10), 12);
        var gradEvals = o with { MaxGradEvals = 400 };
        Assert.Equal(0.25, ChainLoop.GroupFraction(gradEvals, 100, 0.2, 100, 10), 12);
        // A wall-time budget of 30 s: the group ends at 30 s at the latest, and so does each later one.
        var wall = o with { MaxWallSeconds = 30 };
        Assert.Equal(20 + 30, ChainLoop.Eta(wall, 0, 2, ChainLoop.GroupFraction(wall, 100, 0.2, 100, 10), 10)!.Value, 9);
        Assert.Null(ChainLoop.Eta(o, 0, 1, 0, 0));
    }

    [Fact]
    public void Progress_callback_reports_each_group_to_its_end_with_phases_and_an_eta()
    {
        var calls = new List<RunProgress>();
        var options = Tiny("callback") with { ChainMode = "sequential", Progress = calls.Add };
        SamplingRun.Execute(options, TextWriter.Null);

        Assert.All(calls, c => Assert.Equal((2, 60L), (c.Groups, c.Steps)));
        Assert.Equal("warm-up", calls[0].Phase); // the first step is reported, in the warm-up
        for (int g = 0; g < 2; g++)
        {
            var last = calls.Last(c => c.Group == g);
            Assert.Equal((60L, "sampling"), (last.Iteration, last.Phase));
            Assert.InRange(last.TestAccuracy!.Value, 0.0, 1.0);
            Assert.True(double.IsFinite(last.Loss));
        }
        // At the end of the first group, one group of about the same length is left; at the end of the run, nothing.
        var endOfFirst = calls.Last(c => c.Group == 0);
        Assert.InRange(endOfFirst.EtaSeconds!.Value, 0.5 * endOfFirst.ElapsedSeconds, 2 * endOfFirst.ElapsedSeconds);
        Assert.Equal(0, calls[^1].EtaSeconds!.Value, 9);
        Assert.Equal(calls.Select(c => (c.Group, c.Iteration)).Order(), calls.Select(c => (c.Group, c.Iteration)));
        // Throttled: at most one call per 0.25 s plus the end of each group.
        Assert.True(calls.Count <= calls[^1].ElapsedSeconds / 0.25 + 3, $"{calls.Count} calls in {calls[^1].ElapsedSeconds:F2} s");
    }

    [Fact]
    public void Progress_callback_of_a_fitted_method_says_fitting_then_drawing()
    {
        var calls = new List<RunProgress>();
        var options = Tiny("callback-fitted", "mfvi") with { MaxGradEvals = 30, Progress = calls.Add };
        SamplingRun.Execute(options, TextWriter.Null);
        Assert.Equal("fitting", calls[0].Phase);
        Assert.Equal((30L, "drawing"), (calls[^1].Iteration, calls[^1].Phase));
        Assert.NotNull(calls[^1].TestAccuracy);
    }
}
