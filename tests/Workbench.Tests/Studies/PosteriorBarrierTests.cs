using System.Diagnostics;
using Workbench.Architectures;
using Workbench.Cli;
using Workbench.Studies.ModeConnectivity;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using static TorchSharp.torch;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Studies;

/// <summary>One tiny SGLD run with saved positions, shared by the tests that only read it.</summary>
public sealed class SavedPositionsRun : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("wb-barriers-").FullName;
    public string Folder { get; }

    public SavedPositionsRun()
    {
        Folder = SamplingRun.Execute(Options(Path.Combine(Dir, "run")), TextWriter.Null).Folder;
    }

    public static SampleOptions Options(string folder) => new()
    {
        Model = new ModelOptions("mlp", Variant.Standard, Widths: [8]), Sampler = "sgld", StepSize = 1e-3,
        Chains = 2, Steps = 60, Warmup = 10, Thin = 2, BatchSize = 16, Track = 5, EvalTrain = false, FunctionPoints = 0,
        Threads = 1, Device = "cpu", Seed = 5, SavePositions = 3, Out = folder,
    };

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>`workbench sample --save-positions` and `workbench barriers`: barriers between posterior samples.</summary>
public sealed class PosteriorBarrierTests(SavedPositionsRun run) : IClassFixture<SavedPositionsRun>
{

    [Fact]
    public void Saved_positions_follow_the_grid_and_reproduce_the_tracked_parameters_of_their_draws()
    {
        var index = PosteriorBarriers.ReadIndex(run.Folder);
        // 25 draws per chain ((60 − 10) / 2), every 3rd saved: draws 0, 3, …, 24.
        Assert.Equal(2 * 9, index.Count);
        Assert.All(index, d => Assert.Equal(0, d.Draw % 3));
        Assert.All(index, d => Assert.Equal(-1, d.Cycle));
        Assert.Equal(Enumerable.Range(0, 9).Select(i => 3 * i), index.Where(d => d.Chain == 1).Select(d => d.Draw));

        var draws = ParquetTable.Read(Path.Combine(run.Folder, "draws.parquet"));
        var chain = draws.Column<int>("chain");
        var draw = draws.Column<int>("draw");
        var iteration = draws.Column<long>("iteration");
        var tracked = draws.Columns.Where(c => c is not ("chain" or "draw" or "iteration")).ToArray();
        Assert.Equal(5, tracked.Length);
        var (_, data, network) = SamplingRun.Rebuild(run.Folder, CPU);
        using var _data = data;
        using var _network = network;
        var entryOf = Enumerable.Range(0, (int)network.TrainableCount)
            .Select(i => (Name: network.Layout.EntryName(i).Replace('.', '_'), Index: i))
            .Where(t => tracked.Contains(t.Name)).ToDictionary(t => t.Name, t => t.Index);
        foreach (var saved in index)
        {
            int row = Enumerable.Range(0, draws.RowCount).Single(r => chain[r] == saved.Chain && draw[r] == saved.Draw);
            Assert.Equal(iteration[row], saved.Iteration);
            using var theta = PositionFile.Read(Path.Combine(run.Folder, saved.File));
            Assert.Equal(network.TrainableCount, theta.shape[0]);
            var values = theta.to_type(ScalarType.Float64).data<double>().ToArray();
            foreach (var name in tracked) Assert.Equal(draws.Column<double>(name)[row], values[entryOf[name]]);
        }
    }

    [Fact]
    public void Barrier_of_a_draw_with_itself_is_zero_and_of_two_draws_is_not()
    {
        var index = PosteriorBarriers.ReadIndex(run.Folder);
        var (_, data, network) = SamplingRun.Rebuild(run.Folder, CPU);
        using var _data = data;
        using var _network = network;
        using var a = PositionFile.Read(Path.Combine(run.Folder, index[0].File));
        using var b = PositionFile.Read(Path.Combine(run.Folder, index[^1].File));
        var lambdas = LossBarrier.Grid(9);
        var self = PosteriorBarriers.Between(network, a, a, lambdas, data.TestX, data.TestY);
        Assert.Equal(0.0, self.LossMidpoint);
        Assert.Equal(0.0, self.ErrorMidpoint);
        Assert.Equal(0.0, self.Distance);
        Assert.InRange(self.LossEntezari, 0.0, 1e-5); // θ(λ) = (1 − λ)θ + λθ is θ up to rounding
        var other = PosteriorBarriers.Between(network, a, b, lambdas, data.TestX, data.TestY);
        Assert.True(other.Distance > 0);
        Assert.NotEqual(0.0, other.LossMidpoint);
    }

    [Fact]
    public void Midpoint_barrier_is_symmetric_and_the_matrix_has_a_zero_diagonal()
    {
        var index = PosteriorBarriers.ReadIndex(run.Folder);
        var (_, data, network) = SamplingRun.Rebuild(run.Folder, CPU);
        using var _data = data;
        using var _network = network;
        var lambdas = LossBarrier.Grid(5);
        using var a = PositionFile.Read(Path.Combine(run.Folder, index[1].File));
        using var b = PositionFile.Read(Path.Combine(run.Folder, index[^2].File));
        var ab = PosteriorBarriers.Between(network, a, b, lambdas, data.TestX, data.TestY);
        var ba = PosteriorBarriers.Between(network, b, a, lambdas, data.TestX, data.TestY);
        Assert.Equal(ab.LossMidpoint, ba.LossMidpoint, 6);
        Assert.Equal(ab.ErrorMidpoint, ba.ErrorMidpoint, 6);
        Assert.Equal(ab.Distance, ba.Distance, 12);

        var result = PosteriorBarriers.Execute(new BarrierOptions(run.Folder) { Points = 5, MaxDraws = 6, Out = Path.Combine(run.Dir, "matrix") }, TextWriter.Null);
        Assert.Equal(6, result.Draws.Count);
        Assert.Equal(3, result.Draws.Count(d => d.Chain == 0)); // the budget shared by the chains, evenly spaced
        Assert.Equal([0, 12, 24], result.Draws.Where(d => d.Chain == 0).Select(d => d.Draw));
        Assert.Equal(15, result.Pairs.Count);
        var m = PosteriorBarriers.Matrix(result.Draws, result.Pairs, p => p.LossMidpoint);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(0.0, m[i, i]);
            for (int j = 0; j < 6; j++) Assert.Equal(m[i, j], m[j, i]);
        }
        Assert.Equal(9, result.Pairs.Count(p => p.Relation == PosteriorBarriers.BetweenChain));
        Assert.Equal(6, result.Pairs.Count(p => p.Relation == PosteriorBarriers.WithinChain));
    }

    [Fact]
    public void Relations_name_chains_and_cycles()
    {
        SavedDraw D(int chain, int cycle) => new(chain, 0, 0, cycle, "");
        Assert.Equal(PosteriorBarriers.WithinChain, PosteriorBarriers.Relation(D(0, -1), D(0, -1)));
        Assert.Equal(PosteriorBarriers.BetweenChain, PosteriorBarriers.Relation(D(0, -1), D(1, -1)));
        Assert.Equal(PosteriorBarriers.WithinCycle, PosteriorBarriers.Relation(D(1, 2), D(1, 2)));
        Assert.Equal(PosteriorBarriers.BetweenCycle, PosteriorBarriers.Relation(D(1, 2), D(1, 3)));
        Assert.Equal(PosteriorBarriers.BetweenChain, PosteriorBarriers.Relation(D(0, 2), D(1, 2)));
    }

    [Fact]
    public void A_cyclical_run_saves_cycles_and_groups_its_pairs_by_cycle()
    {
        var folder = SamplingRun.Execute(SavedPositionsRun.Options(Path.Combine(run.Dir, "csgld")) with
        {
            Sampler = "csgld", Steps = 80, Warmup = 0, Thin = 2, SavePositions = 2,
            SamplerParameters = new Dictionary<string, double> { ["cycles"] = 4, ["beta"] = 0.5 },
        }, TextWriter.Null).Folder;
        var index = PosteriorBarriers.ReadIndex(folder);
        // The cycle of each saved draw is the cycle stats.parquet gives its iteration.
        var stats = ParquetTable.Read(Path.Combine(folder, "stats.parquet"));
        var statChain = stats.Column<int>("chain");
        var statIteration = stats.Column<long>("iteration");
        var statCycle = stats.Column<double>("cycle");
        foreach (var d in index)
            Assert.Equal(statCycle[Enumerable.Range(0, stats.RowCount).Single(r => statChain[r] == d.Chain && statIteration[r] == d.Iteration)], d.Cycle);
        Assert.Equal([1, 2, 3, 4], index.Select(d => d.Cycle).Distinct().Order());

        var result = PosteriorBarriers.Execute(new BarrierOptions(folder) { Points = 3, MaxDraws = 8 }, TextWriter.Null);
        foreach (var p in result.Pairs)
            Assert.Equal(p.A.Chain != p.B.Chain ? "between-chain" : p.A.Cycle == p.B.Cycle ? "within-cycle" : "between-cycle", p.Relation);
        Assert.Contains(result.Pairs, p => p.Relation == PosteriorBarriers.BetweenCycle);
        Assert.DoesNotContain(result.Pairs, p => p.Relation == PosteriorBarriers.WithinChain);
        Assert.Equal(result.Summary.Select(s => s.Relation).ToHashSet(), result.Pairs.Select(p => p.Relation).ToHashSet());
    }

    [Fact]
    public void Barriers_refuse_what_they_cannot_measure_in_one_line()
    {
        var empty = Directory.CreateDirectory(Path.Combine(run.Dir, "empty")).FullName;
        var (code, _, error) = Run("barriers", empty);
        Assert.Equal(2, code);
        Assert.Contains("not a run folder", error);
        Assert.Single(error.Trim().Split('\n'));

        var plain = SamplingRun.Execute(SavedPositionsRun.Options(Path.Combine(run.Dir, "plain")) with { SavePositions = 0 }, TextWriter.Null).Folder;
        (code, _, error) = Run("barriers", plain);
        Assert.Equal(2, code);
        Assert.Contains("--save-positions", error);
        Assert.False(File.Exists(Path.Combine(plain, ChainLoop.PositionsTable)));

        var crashed = SavedPositionsRun.Options(Path.Combine(run.Dir, "crashed")) with { CrashAfterSteps = 30, CheckpointEvery = 10 };
        Assert.Throws<SimulatedCrashException>(() => SamplingRun.Execute(crashed, TextWriter.Null));
        using (var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            process.WaitForExit();
            Manifest.Load(crashed.Out).Reclaim(null, process.Id);
            File.WriteAllText(Path.Combine(crashed.Out, RunFolder.ClaimFile), $"{process.Id}@{Environment.MachineName}\n");
        }
        (code, _, error) = Run("barriers", crashed.Out);
        Assert.Equal(2, code);
        Assert.Contains("unfinished", error);

        foreach (var (args, option) in new[] { (new[] { "--points", "4" }, "--points"), (["--points", "1"], "--points"),
                     (["--split", "valid"], "--split"), (["--max-draws", "1"], "--max-draws") })
        {
            (code, _, error) = Run(["barriers", run.Folder, .. args]);
            Assert.Equal(2, code);
            Assert.Contains(option, error);
        }
    }

    [Fact]
    public void Sample_with_saved_positions_then_barriers_through_the_cli()
    {
        var folder = Path.Combine(run.Dir, "cli");
        var (code, _, error) = Run("sample", "--model", "mlp", "--widths", "8", "--variant", "w-asym", "--chains", "2", "--steps", "40",
            "--warmup", "10", "--thin", "5", "--save-positions", "2", "--track", "3", "--eval-train", "false",
            "--threads", "1", "--device", "cpu", "--seed", "1", "--out", folder);
        Assert.True(code == 0, error);
        Assert.Equal(2, Manifest.Load(folder).Get("config")!["save_positions"]!.GetValue<int>());
        Assert.Equal(6, ParquetTable.ReadRowCount(Path.Combine(folder, ChainLoop.PositionsTable))); // draws 0, 2, 4 of 6 per chain
        var (barrierCode, output, barrierError) = Run("barriers", folder, "--points", "5");
        Assert.True(barrierCode == 0, barrierError);
        Assert.Contains("between-chain", output);
        var table = ParquetTable.Read(Path.Combine(folder, PosteriorBarriers.TableFileName));
        Assert.Equal(15, table.RowCount);
        Assert.All(table.Column<double>("loss_entezari"), v => Assert.True(v >= 0 && double.IsFinite(v)));
        Assert.True(File.Exists(Path.Combine(folder, PosteriorBarriers.FigureName + ".png")));
        Assert.True(File.Exists(Path.Combine(folder, PosteriorBarriers.FigureName + ".svg")));
        Assert.Contains("within-chain", File.ReadAllText(Path.Combine(folder, PosteriorBarriers.SummaryFileName)));
        Assert.True(RunFolder.IsFinishedRun(folder, out var reason), reason); // the run folder is still a finished run
    }
}
