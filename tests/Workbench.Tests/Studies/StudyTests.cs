using System.Globalization;
using System.Text.Json.Nodes;
using Parquet;
using Workbench.Cli;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Storage;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Studies;

/// <summary>End to end: a tiny study from a config file through the CLI, as a user runs one (seconds, not minutes).</summary>
public sealed class StudyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-study-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>2 variants × SGLD and MFVI × 2 seeds of a 16-unit MLP, 2 chains, 40 steps each: 8 runs.</summary>
    private const string TinyConfig = """
        {
          // comments are allowed
          "name": "tiny",
          "question": "Does a tiny study run end to end?",
          "models": [ { "label": "small", "model": "mlp", "widths": [ 16 ] } ],
          "variants": [ "standard", "w-asym" ],
          "samplers": [ { "name": "sgld", "lr": 0.05 }, { "name": "mfvi", "lr": 0.01 } ],
          "seeds": [ 0, 1 ],
          "chains": 2,
          "budget": { "steps": 40 },
          "batch_size": 32,
          "draws": 5,
          "target_accuracy": 0.5,
          "track": 4,
          "threads": 1,
          "progress_every": 10,
        }
        """;

    private string RunTinyStudy(string name)
    {
        string config = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(config, TinyConfig);
        string study = Path.Combine(_dir, name);
        var (code, output, error) = Run("compare", "--config", config, "--out", study);
        Assert.True(code == 0, error + output);
        return study;
    }

    private static readonly string[] Figures =
        ["convergence-accuracy", "convergence-nll", "convergence-ece", "training-loss", "reliability-small-sgld", "reliability-small-mfvi", "mixing", "time-to-target"];

    /// <summary>summary.csv as rows of column → text (our values never need CSV quoting).</summary>
    private static List<Dictionary<string, string>> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        return lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
    }

    /// <summary>Each chain's last running-BMA test accuracy in eval.parquet, averaged over the chains.</summary>
    private static double FinalAccuracy(string run)
    {
        var eval = ParquetTable.Read(Path.Combine(run, "eval.parquet"));
        var split = eval.Column<string>("split");
        var chain = eval.Column<int>("chain");
        var draw = eval.Column<int>("draw");
        var accuracy = eval.Column<double>("bma_accuracy");
        return Enumerable.Range(0, split.Length).Where(r => split[r] == "test").GroupBy(r => chain[r])
            .Select(g => accuracy[g.MaxBy(r => draw[r])]).Average();
    }

    private static double MedianRawRhat(string run)
    {
        var d = ParquetTable.Read(Path.Combine(run, "diagnostics.parquet"));
        var space = d.Column<string>("space");
        var rhat = Enumerable.Range(0, space.Length).Where(r => space[r] == "raw").Select(r => d.Column<double>("rhat")[r]).Order().ToArray();
        return rhat.Length % 2 == 1 ? rhat[rhat.Length / 2] : (rhat[rhat.Length / 2 - 1] + rhat[rhat.Length / 2]) / 2;
    }

    private static double Sd(double[] v) => Math.Sqrt(v.Sum(x => (x - v.Average()) * (x - v.Average())) / (v.Length - 1));

    [Fact]
    public async Task Study_from_a_config_writes_its_runs_tables_figures_and_a_report_whose_numbers_come_from_the_run_folders()
    {
        string study = RunTinyStudy("tiny");

        var manifest = Manifest.Load(study);
        Assert.Equal("finished", manifest.Status);
        var plan = StudyPlan.Read(study);
        Assert.Equal(8, plan.Cells.Count);
        // study.json is the whole config: it reads back to the same study.
        var copied = StudyConfig.Parse("study.json", File.ReadAllText(Path.Combine(study, "study.json")));
        Assert.Equal(StudyConfig.Parse("tiny.json", TinyConfig).ToJson().ToJsonString(), copied.ToJson().ToJsonString());

        foreach (var cell in plan.Cells)
        {
            string run = Path.Combine(study, cell.Folder);
            Assert.True(RunFolder.IsFinishedRun(run, out string reason), $"{cell.Id}: {reason}");
            // Read with Parquet.Net's own reader, not ours: one file per table, the documented columns.
            var expected = new Dictionary<string, string[]>
            {
                ["draws"] = ["chain", "draw", "iteration"],
                ["stats"] = ["chain", "iteration", "epoch", "loss", "lp", "step_size", "grad_norm", "diverging", "wall_time_s", "grad_evals"],
                ["eval"] = ["chain", "draw", "iteration", "epoch", "grad_evals", "wall_time_s", "split", "nll", "accuracy", "brier", "ece", "bma_nll", "bma_accuracy", "bma_brier", "bma_ece", "bma_mce"],
            };
            if (cell.Sampler == "mfvi") expected["progress"] = ["chain", "iteration", "epoch", "grad_evals", "wall_time_s", "split", "nll", "accuracy", "brier", "ece"];
            foreach (var (table, columns) in expected)
            {
                await using var reader = await ParquetReader.CreateAsync(Path.Combine(run, $"{table}.parquet"));
                Assert.Equal(columns, reader.Schema.DataFields.Select(f => f.Name).Take(columns.Length));
            }
            Assert.Equal(cell.Sampler == "mfvi", File.Exists(Path.Combine(run, "progress.parquet")));
            var draws = ParquetTable.Read(Path.Combine(run, "draws.parquet"));
            Assert.Equal(2 * 5, draws.RowCount); // 5 draws per chain: SGLD's thinning grid after 12 warm-up steps, MFVI's draws
        }

        foreach (var figure in Figures)
            foreach (var ext in new[] { ".png", ".svg" })
                Assert.True(File.Exists(Path.Combine(study, figure + ext)), figure + ext);
        string report = File.ReadAllText(Path.Combine(study, "report.md"));
        Assert.Contains("Does a tiny study run end to end?", report);
        foreach (var figure in Figures) Assert.Contains($"]({figure}.png)", report);
        Assert.Contains("\"budget\"", report);

        // Every number of summary.csv is recomputed here from the run folders alone.
        var rows = ReadCsv(Path.Combine(study, "summary.csv"));
        Assert.Equal(4, rows.Count);
        foreach (var row in rows)
        {
            var runs = plan.Cells.Where(c => c.Model == row["model"] && c.Variant == row["variant"] && c.Sampler == row["sampler"])
                .Select(c => Path.Combine(study, c.Folder)).ToArray();
            Assert.Equal(2, runs.Length);
            var accuracy = runs.Select(FinalAccuracy).ToArray();
            Assert.Equal(accuracy.Average(), double.Parse(row["test_accuracy_mean"], CultureInfo.InvariantCulture), 12);
            Assert.Equal(Sd(accuracy), double.Parse(row["test_accuracy_sd"], CultureInfo.InvariantCulture), 12);
            Assert.Equal(runs.Select(MedianRawRhat).Average(), double.Parse(row["rhat_raw"], CultureInfo.InvariantCulture), 12);
            Assert.Equal("2", row["seeds"]);
        }
    }

    [Fact]
    public void Plot_rebuilds_a_study_without_a_failed_run_and_resume_runs_it_again_to_the_same_numbers()
    {
        string study = RunTinyStudy("again");
        string summary = Path.Combine(study, "summary.csv");
        var before = ReadCsv(summary);
        foreach (var f in Directory.GetFiles(study, "*.png").Concat(Directory.GetFiles(study, "*.svg")).Append(summary)) File.Delete(f);

        // One run failed (as a crash would record it): plot leaves it out and names it.
        var failed = StudyPlan.Read(study).Cells.First(c => c.Variant == "w-asym" && c.Sampler == "sgld");
        string manifestPath = Path.Combine(study, failed.Folder, "manifest.json");
        var json = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        json["status"] = "failed";
        json["error"] = "simulated failure";
        File.WriteAllText(manifestPath, json.ToJsonString());

        var (code, output, error) = Run("plot", study);
        Assert.True(code == 0, error + output);
        foreach (var figure in Figures) Assert.True(File.Exists(Path.Combine(study, figure + ".png")), figure);
        Assert.Contains(failed.Id, File.ReadAllText(Path.Combine(study, "report.md")));
        var partial = ReadCsv(summary);
        Assert.Equal("1", partial.Single(r => r["variant"] == "w-asym" && r["sampler"] == "sgld")["seeds"]);

        // resume runs the failed cell again (same seeds, one thread: the same chains) and keeps the others.
        (code, output, error) = Run("resume", study);
        Assert.True(code == 0, error + output);
        Assert.Contains("7 of 8 runs finished, 1 to go", output);
        Assert.Equal("finished", Manifest.Load(study).Status);
        var after = ReadCsv(summary);
        foreach (var column in new[] { "test_accuracy_mean", "test_accuracy_sd", "test_nll_mean", "rhat_raw", "seeds" })
            Assert.Equal(before.Select(r => r[column]), after.Select(r => r[column]));
        Assert.DoesNotContain(failed.Id, File.ReadAllText(Path.Combine(study, "report.md")).Split("## Cells left out")[1]);
    }

    [Fact]
    public void Compare_from_flags_runs_every_sampler_on_every_variant_and_prints_plain_progress()
    {
        string study = Path.Combine(_dir, "flags");
        var (code, output, error) = Run("compare", "--model", "mlp", "--widths", "16", "--sampler", "sgld,mfvi", "--variants", "standard,sigma-asym",
            "--seeds", "3", "--steps", "30", "--warmup", "10", "--thin", "5", "--draws", "4", "--batch-size", "32", "--track", "4", "--threads", "1", "--out", study);
        Assert.True(code == 0, error + output);
        var cells = StudyPlan.Read(study).Cells;
        Assert.Equal(["mlp-standard-sgld-seed3", "mlp-standard-mfvi-seed3", "mlp-sigma-asym-sgld-seed3", "mlp-sigma-asym-mfvi-seed3"], cells.Select(c => c.Id));
        // Not a terminal: plain lines, one per run start and end, and where the report is.
        Assert.Contains("[4/4] mlp-sigma-asym-mfvi-seed3 finished", output);
        Assert.Contains($"report: {Path.Combine(study, "report.md")}", output);
        Assert.DoesNotContain("\r", output);
        // --steps 30, --warmup 10, --thin 5: 4 SGLD draws per chain; MFVI draws --draws 4.
        foreach (var cell in cells)
            Assert.Equal(2 * 4, ParquetTable.Read(Path.Combine(study, cell.Folder, "draws.parquet")).RowCount);
    }

    [Theory]
    [InlineData(new[] { "compare", "--preset", "make-run", "--lr", "0.1" }, "--lr cannot be combined with --config/--preset")]
    [InlineData(new[] { "compare", "--preset", "nope" }, "unknown preset 'nope'")]
    [InlineData(new[] { "compare", "--config", "missing.json" }, "--config missing.json: no such file")]
    [InlineData(new[] { "compare", "--preset", "make-run", "--config", "x.json" }, "give --config or --preset, not both")]
    [InlineData(new[] { "compare", "--preset", "make-run", "--seeds", "1,1" }, "--seeds lists a seed twice")]
    [InlineData(new[] { "compare", "--preset", "make-run", "--max-epochs", "2", "--steps", "100" }, "give one")]
    [InlineData(new[] { "compare", "--full-size" }, "--full-size needs --config or --preset")]
    [InlineData(new[] { "compare", "--model", "linreg" }, "linreg has no symmetry-reduced variants")]
    [InlineData(new[] { "compare", "--sampler", "sgld,nuts" }, "unknown sampler 'nuts'")]
    [InlineData(new[] { "plot", "." }, "not a Workbench study folder")]
    public void Study_mistakes_are_one_line_and_exit_2(string[] args, string expected)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("study finished", output);
    }

    [Fact]
    public void Print_config_gives_a_config_that_reads_back_and_list_presets_names_each_preset()
    {
        var (code, output, _) = Run("compare", "--preset", "bnn-depth16", "--seeds", "4,5", "--max-epochs", "3", "--print-config");
        Assert.Equal(0, code);
        var config = StudyConfig.Parse("printed", output);
        Assert.Equal([4UL, 5], config.Seeds);
        Assert.Equal(new StudyBudget("epochs", 3, null), config.Budget);
        Assert.Equal(16, config.Models[0].Options.Depth);
        Assert.False(config.Augment);
        Assert.Contains("\"augment\": false", output);

        // --augment is one of the flags that adjust a config.
        (code, output, _) = Run("compare", "--preset", "bnn-depth16", "--augment", "--print-config");
        Assert.Equal(0, code);
        Assert.Contains("\"augment\": true", output);
        Assert.True(StudyConfig.Parse("printed", output).Augment);

        (code, output, _) = Run("compare", "--list-presets");
        Assert.Equal(0, code);
        foreach (var name in StudyPresets.Names) Assert.Contains(name, output);
    }
}
