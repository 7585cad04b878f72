using System.Diagnostics;
using Workbench.Architectures;
using Workbench.Cli;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Studies;

/// <summary>
/// `workbench resume`: a run stopped after any step continues from its last checkpoint and its tables equal those of
/// an uninterrupted run, bit for bit with one torch thread (wall_time_s aside).
/// </summary>
public sealed class ResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SampleOptions Tiny(string name, string sampler = "sgld", string chainMode = "batched") => new()
    {
        Model = new ModelOptions("mlp", Variant.WAsym, Widths: [8]), Sampler = sampler, StepSize = 1e-3, ChainMode = chainMode,
        Chains = 2, Steps = 60, Warmup = 10, Thin = 2, BatchSize = 16, Draws = 3, Track = 3, EvalTrain = true,
        Threads = 1, Device = "cpu", CheckpointEvery = 10, Seed = 3, Out = Path.Combine(_dir, name),
    };

    /// <summary>The pid of a process that has exited (what a killed run leaves in its manifest).</summary>
    private static int GonePid()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }

    /// <summary>A run stopped by the test hook after <paramref name="steps"/> steps; its manifest then names a gone process.</summary>
    private static string Crash(SampleOptions options, int steps) => Crash(options with { CrashAfterSteps = steps });

    /// <summary>A run stopped by one of the test hooks set in <paramref name="options"/>, left as a killed process leaves it.</summary>
    private static string Crash(SampleOptions options)
    {
        Assert.Throws<SimulatedCrashException>(() => SamplingRun.Execute(options, TextWriter.Null));
        Assert.Equal(RunCondition.Running, RunFolder.Condition(options.Out)); // this (live) process still owns it
        int gone = GonePid();
        Manifest.Load(options.Out).Reclaim(null, gone);
        File.WriteAllText(Path.Combine(options.Out, RunFolder.ClaimFile), $"{gone}@{Environment.MachineName}\n");
        Assert.Equal(RunCondition.Interrupted, RunFolder.Condition(options.Out));
        return options.Out;
    }

    /// <summary>Every table the loop writes (the function-space, canonical and progress views included when the run
    /// has them), or only <paramref name="tables"/>.</summary>
    internal static void AssertSameTables(string expected, string actual, params string[] tables)
    {
        if (tables.Length == 0) tables = ["draws", "stats", "eval", "function", "canonical", "calibration", "progress", "positions"];
        foreach (var name in tables)
        {
            bool has = File.Exists(Path.Combine(expected, name + ".parquet"));
            Assert.Equal(has, File.Exists(Path.Combine(actual, name + ".parquet")));
            if (!has) continue;
            var a = ParquetTable.Read(Path.Combine(expected, name + ".parquet"));
            var b = ParquetTable.Read(Path.Combine(actual, name + ".parquet"));
            Assert.Equal(a.Columns, b.Columns);
            Assert.Equal(a.RowCount, b.RowCount);
            foreach (var column in a.Columns.Where(c => c != "wall_time_s"))
            {
                if (a.TypeOf(column) == ColumnType.String) Assert.Equal(a.Column<string>(column), b.Column<string>(column));
                else
                {
                    // Bit for bit: compare the IEEE bits, so NaN equals NaN and 0.0 differs from −0.0.
                    var x = a.ColumnAsDouble(column).Select(BitConverter.DoubleToInt64Bits).ToArray();
                    var y = b.ColumnAsDouble(column).Select(BitConverter.DoubleToInt64Bits).ToArray();
                    int i = Enumerable.Range(0, x.Length).FirstOrDefault(i => x[i] != y[i], -1);
                    Assert.True(i < 0, $"{name}.{column} differs between the uninterrupted and the resumed run: row {i} of {x.Length}, " +
                        $"{(i < 0 ? "" : $"{a.ColumnAsDouble(column)[i]:R} vs {b.ColumnAsDouble(column)[i]:R}, iteration {a.ColumnAsDouble("iteration")[i]}")}");
                }
            }
        }
    }

    [Theory]
    [InlineData("sgld", "batched", 35)]   // between checkpoints: the rows after step 30 must be dropped
    [InlineData("sghmc", "batched", 40)]  // right at a checkpoint
    [InlineData("psgld", "batched", 7)]   // before the first checkpoint: starts over
    [InlineData("swag", "batched", 55)]   // a fitted method: its draws come after the last step
    [InlineData("sgld", "sequential", 95)] // inside the second chain's group
    [InlineData("sgld", "sequential", 65)] // early in the second group: from the checkpoint at the end of the first
    public void Resumed_run_equals_an_uninterrupted_one(string sampler, string chainMode, int crashAfter)
    {
        var reference = SamplingRun.Execute(Tiny("reference", sampler, chainMode), TextWriter.Null);
        var folder = Crash(Tiny("resumed", sampler, chainMode), crashAfter);

        var (code, output, error) = Run("resume", folder, "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Contains("finished:", output);
        Assert.Equal(RunCondition.Finished, RunFolder.Condition(folder));
        Assert.True(RunFolder.IsFinishedRun(folder, out var reason), reason);
        AssertSameTables(reference.Folder, folder);
        var manifest = Manifest.Load(folder);
        Assert.Equal(Environment.ProcessId, manifest.Get("machine")!["pid"]!.GetValue<int>());
        Assert.Equal(2, manifest.Get("resumed_utc")!.AsArray().Count); // the test's stand-in for the killed process, then the resume
        Assert.False(File.Exists(Path.Combine(folder, ChainLoop.CheckpointFileName)));
        Assert.True(File.Exists(Path.Combine(folder, "trace.png")));
    }

    /// <summary>
    /// Killed while finishing — after its tables were completed, after the calibration table and trace figure, after the
    /// diagnostics — a run is not finished (the manifest says `finished` last), and `resume` completes it from the
    /// checkpoint written when sampling ended, without sampling again: the same tables as an uninterrupted run, and
    /// every derived file there. With --checkpoint-every 0 too (that checkpoint is written all the same).
    /// </summary>
    [Theory]
    [InlineData("tables", "batched", 10)]
    [InlineData("figures", "batched", 10)]
    [InlineData("diagnostics", "batched", 10)]
    [InlineData("tables", "sequential", 0)]
    [InlineData("diagnostics", "batched", 0)]
    public void Run_killed_while_finishing_is_completed_by_resume_without_sampling_again(string phase, string chainMode, int checkpointEvery)
    {
        var reference = SamplingRun.Execute(Tiny("reference", "sgld", chainMode) with { CheckpointEvery = checkpointEvery }, TextWriter.Null);
        var folder = Crash(Tiny("resumed", "sgld", chainMode) with { CheckpointEvery = checkpointEvery, CrashAfterPhase = phase });
        Assert.False(RunFolder.IsFinishedRun(folder, out _));
        Assert.Equal(RunStatus.Running, Manifest.Load(folder).Status);
        var drawsWritten = File.GetLastWriteTimeUtc(Path.Combine(folder, "draws.parquet"));

        var (code, output, error) = Run("resume", folder, "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Contains("sampling was done", output);
        Assert.True(RunFolder.IsFinishedRun(folder, out var reason), reason);
        AssertSameTables(reference.Folder, folder);
        foreach (var file in new[] { "diagnostics.parquet", "trace.png", "trace.svg", "rhat-over-draws.png", "ess-over-draws.svg" })
            Assert.True(File.Exists(Path.Combine(folder, file)), file);
        Assert.Equal(ParquetTable.Read(Path.Combine(reference.Folder, "diagnostics.parquet")).RowCount,
            ParquetTable.Read(Path.Combine(folder, "diagnostics.parquet")).RowCount);
        // No sampling again: the completed draws table is the one the killed process wrote.
        Assert.Equal(drawsWritten, File.GetLastWriteTimeUtc(Path.Combine(folder, "draws.parquet")));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));
        Assert.False(File.Exists(Path.Combine(folder, ChainLoop.CheckpointFileName)));
    }

    [Fact]
    public void A_manifest_field_of_the_wrong_type_is_refused_in_one_line_with_exit_2()
    {
        var folder = Crash(Tiny("damaged"), 25);
        var path = Path.Combine(folder, Manifest.FileName);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        json["config"]!["steps"] = "sixty";
        File.WriteAllText(path, json.ToJsonString());

        var (code, _, error) = Run("resume", folder);
        Assert.Equal(2, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("config cannot be read", error);
        Assert.Contains(folder, error);
    }

    /// <summary>--augment: the chains' augmentation generators are checkpointed beside the minibatch stream, so the
    /// resumed run mirrors and crops exactly the batches the uninterrupted one did.</summary>
    [Theory]
    [InlineData("sgld", "batched", 35)]      // between checkpoints
    [InlineData("swag", "batched", 55)]      // a fitted method
    [InlineData("sgld", "sequential", 95)]   // inside the second chain's group
    public void Resumed_augmented_run_equals_an_uninterrupted_one(string sampler, string chainMode, int crashAfter)
    {
        SampleOptions Augmented(string name) => Tiny(name, sampler, chainMode) with { Augment = true };
        var reference = SamplingRun.Execute(Augmented("reference"), TextWriter.Null);
        var folder = Crash(Augmented("resumed"), crashAfter);
        var (code, _, error) = Run("resume", folder, "--threads", "1");
        Assert.True(code == 0, error);
        Assert.True(Manifest.Load(folder).Get("config")!["augment"]!.GetValue<bool>());
        AssertSameTables(reference.Folder, folder);
    }

    /// <summary>--save-positions: the index table and every saved θ file of a resumed run equal an uninterrupted run's,
    /// byte for byte, and no file is left that the index does not name.</summary>
    [Theory]
    [InlineData("sgld", "batched", 35)]      // the draws after step 30 were saved before the crash and are saved again
    [InlineData("swag", "batched", 55)]      // a fitted method: its draws come after the last step
    [InlineData("csgld", "sequential", 95)]  // cyclical, inside the second chain's group
    public void Resumed_run_keeps_saved_positions_identical(string sampler, string chainMode, int crashAfter)
    {
        SampleOptions Saving(string name) => Tiny(name, sampler, chainMode) with { SavePositions = 3 };
        var reference = SamplingRun.Execute(Saving("reference"), TextWriter.Null);
        var folder = Crash(Saving("resumed"), crashAfter);
        var (code, _, error) = Run("resume", folder, "--threads", "1");
        Assert.True(code == 0, error);
        AssertSameTables(reference.Folder, folder, "draws", "positions");
        var files = ParquetTable.Read(Path.Combine(folder, ChainLoop.PositionsTable)).Column<string>("file");
        Assert.NotEmpty(files);
        foreach (var file in files)
            Assert.True(File.ReadAllBytes(Path.Combine(reference.Folder, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(folder, file))), $"{file} differs");
        Assert.Equal(files.Order(), Directory.GetFiles(Path.Combine(folder, ChainLoop.PositionsFolder))
            .Select(f => $"{ChainLoop.PositionsFolder}/{Path.GetFileName(f)}").Order());
    }

    /// <summary>Budgets with resumes at and around the step where the budget stops the group (--max-epochs 0.05 with
    /// batch 16 of 8,000 examples: step 25).</summary>
    [Theory]
    [InlineData("sgld", "batched", 8, 24, 4)]   // a draw not on the --eval-every grid is pending at the checkpoint; the stop must evaluate it
    [InlineData("sgld", "batched", 5, 25, 1)]   // checkpoint at the stop: the resumed run must not take another step
    [InlineData("mfvi", "batched", 5, 25, 1)]   // a fitted method: progress and its draws after the stop
    [InlineData("elrg", "batched", 8, 22, 1)]   // the progress rows of step 20, after the checkpoint at 16, are cut back and repeated
    [InlineData("sgld", "sequential", 8, 45, 4)] // inside the second group; the first group's stop comes from the checkpoint
    public void Resumed_run_with_a_budget_equals_an_uninterrupted_one(string sampler, string chainMode, int checkpointEvery, int crashAfter, int evalEvery)
    {
        SampleOptions Budgeted(string name) => Tiny(name, sampler, chainMode) with
        {
            MaxEpochs = 0.05, CheckpointEvery = checkpointEvery, EvalEvery = evalEvery, ProgressEvery = 10,
        };
        var reference = SamplingRun.Execute(Budgeted("reference"), TextWriter.Null);
        Assert.All(reference.Stops, s => Assert.Equal((StopReason.Epochs, 25L), (s.Reason, s.Iterations)));
        var folder = Crash(Budgeted("resumed"), crashAfter);

        var (code, _, error) = Run("resume", folder, "--threads", "1");
        Assert.True(code == 0, error);
        AssertSameTables(reference.Folder, folder);
        Assert.Equal(Manifest.Load(reference.Folder).Get("stop")!.ToJsonString(), Manifest.Load(folder).Get("stop")!.ToJsonString());
    }

    [Fact]
    public void The_manifest_config_holds_every_option_a_resume_needs()
    {
        var options = Tiny("config", "psgld") with
        {
            Model = new ModelOptions("mlp", Variant.SigmaAsym, Widths: [6, 5], Activation: Workbench.Architectures.Layers.Activation.Gelu,
                LayerNorm: false, NFix: 2, Kappa: 0.3, FiGluStd: 0.7, MaskSeed: 9),
            SamplerParameters = new Dictionary<string, double> { ["alpha"] = 0.95 }, StepSize = 2e-3, Steps = 24, Warmup = 4,
            Thin = 4, BatchSize = 12, Temperature = 0.5, PriorStd = 0.8, Seed = 11, Track = 2, EvalTrain = false, EvalEvery = 2,
            Dtype = "float64", ChainMode = "sequential", Chains = 3, CheckpointEvery = 7, Augment = true,
            MaxEpochs = 100, MaxGradEvals = 1000, MaxWallSeconds = 3600, ProgressEvery = 3, ProgressDraws = 2,
        };
        var folder = SamplingRun.Execute(options, TextWriter.Null).Folder;
        var rebuilt = SamplingRun.OptionsFromManifest(Manifest.Load(folder), folder, threads: null);

        Assert.Equal([6, 5], rebuilt.Model.Widths!);
        Assert.Equal(options.Model with { Widths = null }, rebuilt.Model with { Widths = null });
        Assert.Equal(options.SamplerParameters, rebuilt.SamplerParameters);
        Assert.Equal("cpu", rebuilt.Device);
        Assert.Equal(1, rebuilt.Threads);
        Assert.Equal(options with { Model = rebuilt.Model, SamplerParameters = rebuilt.SamplerParameters, Out = folder, CommandLine = rebuilt.CommandLine },
            rebuilt);
    }

    [Fact]
    public void Resume_refuses_what_is_not_an_interrupted_run_with_one_line_and_exit_2()
    {
        var finished = SamplingRun.Execute(Tiny("finished") with { Steps = 20, Warmup = 4 }, TextWriter.Null).Folder;
        var (code, _, error) = Run("resume", finished);
        Assert.Equal(2, code);
        Assert.Contains("finished run", error);
        Assert.Single(error.Trim().Split('\n'));

        var notARun = Directory.CreateDirectory(Path.Combine(_dir, "not-a-run")).FullName;
        File.WriteAllText(Path.Combine(notARun, "notes.txt"), "hello");
        (code, _, error) = Run("resume", notARun);
        Assert.Equal(2, code);
        Assert.Contains("not a Workbench run folder", error);
        Assert.Single(error.Trim().Split('\n'));

        (code, _, error) = Run("resume", Path.Combine(_dir, "missing"));
        Assert.Equal(2, code);
        Assert.Contains("does not exist", error);

        // A live run: the manifest names this (running) process.
        var live = Tiny("live");
        Assert.Throws<SimulatedCrashException>(() => SamplingRun.Execute(live with { CrashAfterSteps = 15 }, TextWriter.Null));
        (code, _, error) = Run("resume", live.Out);
        Assert.Equal(2, code);
        Assert.Contains("live Workbench process", error);
        Assert.Single(error.Trim().Split('\n'));

        var failedFolder = Directory.CreateDirectory(Path.Combine(_dir, "failed")).FullName;
        Manifest.Start(failedFolder, "sample").Fail(new InvalidOperationException("every chain diverged"));
        (code, _, error) = Run("resume", failedFolder);
        Assert.Equal(2, code);
        Assert.Contains("failed run", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void Two_resumers_never_both_claim_a_folder()
    {
        var folder = Crash(Tiny("claimed"), 25);
        RunFolder.Reclaim(folder);
        // The first resumer holds the claim file; a second sees the folder taken (the manifest still says interrupted,
        // as the first has not yet recorded itself).
        var e = Assert.Throws<RunFolderException>(() => RunFolder.Reclaim(folder));
        Assert.Contains("claimed by another", e.Message);
    }

    private static readonly string[] KillRunArgs =
    [
        "sample", "--model", "mlp", "--variant", "w-asym", "--widths", "8", "--chains", "2", "--steps", "400", "--warmup", "100",
        "--thin", "5", "--batch-size", "16", "--track", "3", "--seed", "5", "--device", "cpu", "--threads", "1", "--checkpoint-every", "20",
    ];

    private static Process StartWorkbench(IEnumerable<string> args, string? killAfterPhase = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (killAfterPhase is not null) start.Environment[SamplingRun.KillAfterPhaseVariable] = killAfterPhase;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "workbench.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Without MKL_CBWR pinned (Reproducibility.Pin) two identical one-thread processes differed in the last
    /// bit of eval.parquet's nll; bit-identical resumption needs bit-identical runs first.</summary>
    [Fact]
    public void Two_workbench_processes_write_bit_identical_tables()
    {
        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b");
        foreach (var folder in new[] { a, b })
        {
            using var child = StartWorkbench([.. KillRunArgs, "--out", folder]);
            child.WaitForExit();
            Assert.Equal(0, child.ExitCode);
        }
        AssertSameTables(a, b);
    }

    [Fact]
    public void A_killed_workbench_process_resumes_to_the_draws_of_an_uninterrupted_run()
    {
        string killed = Path.Combine(_dir, "killed"), whole = Path.Combine(_dir, "whole");
        using (var child = StartWorkbench([.. KillRunArgs, "--out", killed]))
        {
            // Kill (SIGKILL) as soon as the manifest records a checkpoint at iteration 160 or later (draws begin after the warm-up of 100) — mid-run.
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (!child.HasExited && DateTime.UtcNow < deadline
                   && !(File.Exists(Path.Combine(killed, Manifest.FileName)) && Manifest.Load(killed).Get("checkpoint")?["iteration"]?.GetValue<long>() >= 160))
                Thread.Sleep(5);
            Assert.False(child.HasExited, "the child run ended before it could be killed");
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
        }
        var manifest = Manifest.Load(killed);
        Assert.Equal(RunStatus.Running, manifest.Status);
        Assert.Equal(RunCondition.Interrupted, RunFolder.Condition(killed));
        Assert.False(RunFolder.IsFinishedRun(killed, out _));
        long checkpointed = manifest.Get("checkpoint")!["iteration"]!.GetValue<long>();
        Assert.True(checkpointed is >= 160 and < 400, $"checkpoint at {checkpointed}");
        // Every completed block is a closed, readable Parquet part.
        foreach (var table in new[] { "draws", "stats", "eval" })
            foreach (var part in Directory.GetFiles(Path.Combine(killed, table + ".parquet.parts"), "part-*.parquet"))
                Assert.True(ParquetTable.Read(part).RowCount > 0, part);

        var (code, output, error) = Run("resume", killed, "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Contains("finished:", output);
        Assert.Equal(RunCondition.Finished, RunFolder.Condition(killed));

        // The same run, never interrupted (in this process: one thread, same reproducible MKL mode as the child).
        (code, _, error) = Run([.. KillRunArgs, "--out", whole]);
        Assert.True(code == 0, error);
        AssertSameTables(whole, killed);
    }

    /// <summary>
    /// A real kill -9 at each phase of finishing: the child process sends itself SIGKILL right after the phase (no
    /// finally block, no flush, no manifest update runs). Before `finished` the folder is interrupted, never finished,
    /// and `resume` completes it without sampling again to the tables of an uninterrupted run; killed just after
    /// `finished` the folder is a complete run as it stands.
    /// </summary>
    [Theory]
    [InlineData("tables")]
    [InlineData("figures")]
    [InlineData("diagnostics")]
    [InlineData("finished")]
    public void A_workbench_process_killed_at_each_phase_of_finishing_leaves_a_folder_resume_completes(string phase)
    {
        string killed = Path.Combine(_dir, "killed-" + phase), whole = Path.Combine(_dir, "whole-" + phase);
        using (var child = StartWorkbench([.. KillRunArgs, "--out", killed], killAfterPhase: phase))
        {
            Assert.True(child.WaitForExit(TimeSpan.FromMinutes(3)), "the child run did not end");
            Assert.Equal(137, child.ExitCode); // 128 + SIGKILL
        }
        Assert.DoesNotContain(Directory.GetFiles(killed, "*.tmp", SearchOption.AllDirectories), f => !f.Contains(".parquet.parts"));
        var (code, _, error) = Run([.. KillRunArgs, "--out", whole]);
        Assert.True(code == 0, error);

        if (phase == "finished")
        {
            Assert.Equal(RunCondition.Finished, RunFolder.Condition(killed));
            Assert.True(RunFolder.IsFinishedRun(killed, out var why), why);
        }
        else
        {
            Assert.Equal(RunCondition.Interrupted, RunFolder.Condition(killed));
            Assert.False(RunFolder.IsFinishedRun(killed, out _));
            var drawsWritten = File.GetLastWriteTimeUtc(Path.Combine(killed, "draws.parquet"));
            string output;
            (code, output, error) = Run("resume", killed, "--threads", "1");
            Assert.True(code == 0, error);
            Assert.Contains("sampling was done", output);
            Assert.Equal(RunCondition.Finished, RunFolder.Condition(killed));
            Assert.Equal(drawsWritten, File.GetLastWriteTimeUtc(Path.Combine(killed, "draws.parquet")));
        }
        AssertSameTables(whole, killed);
        foreach (var file in new[] { "diagnostics.parquet", "trace.png", "trace.svg", "rhat-over-draws.png", "ess-over-draws.svg" })
            Assert.True(File.Exists(Path.Combine(killed, file)), file);
        Assert.Equal(ParquetTable.Read(Path.Combine(whole, "diagnostics.parquet")).RowCount,
            ParquetTable.Read(Path.Combine(killed, "diagnostics.parquet")).RowCount);
    }
}
