using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Workbench.Architectures;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Studies;

/// <summary>
/// Three tiny finished runs made once for every test of <see cref="StudyReportTests"/>: a small MLP under SGLD on the
/// embedded data, standard with seeds 0 and 1, W-Asym with seed 0. Each test copies them into a study folder of its own.
/// </summary>
public sealed class TinyStudyRuns : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("wb-report-runs-").FullName;

    public static readonly StudyCell[] Cells =
    [
        new("std-s0", "mlp-16", "standard", "sgld", 0, "runs/std-s0"),
        new("std-s1", "mlp-16", "standard", "sgld", 1, "runs/std-s1"),
        new("wasym-s0", "mlp-16", "w-asym", "sgld", 0, "runs/wasym-s0"),
    ];

    public TinyStudyRuns()
    {
        foreach (var cell in Cells)
            SamplingRun.Execute(new SampleOptions
            {
                Model = new ModelOptions("mlp", VariantNames.Parse(cell.Variant), Widths: [16]),
                StepSize = 0.05, Chains = 2, Steps = 40, Warmup = 10, Thin = 2, BatchSize = 32, Track = 4, EvalTrain = false, EvalEvery = 1,
                Seed = cell.Seed, Threads = 1, Device = "cpu", Out = Path.Combine(Folder, cell.Folder), Study = $"test/{cell.Id}",
            }, TextWriter.Null);
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

public sealed class StudyReportTests(TinyStudyRuns runs) : IClassFixture<TinyStudyRuns>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Figures =
        ["convergence-accuracy", "convergence-nll", "convergence-ece", "training-loss", "reliability-mlp-16-sgld", "mixing", "time-to-target"];

    /// <summary>A study folder holding copies of the given finished runs and a study manifest listing <paramref name="cells"/>.</summary>
    private string Study(string name, IReadOnlyList<StudyCell> cells, double target = 0.5, IEnumerable<StudyCell>? copy = null)
    {
        string study = Path.Combine(_dir, name);
        Directory.CreateDirectory(study);
        foreach (var cell in copy ?? TinyStudyRuns.Cells) CopyFolder(Path.Combine(runs.Folder, cell.Folder), Path.Combine(study, cell.Folder));
        var manifest = Manifest.Start(study, StudyPlan.ManifestStudy);
        manifest.Set("config", new JsonObject
        {
            ["name"] = name, ["question"] = "Does removing symmetries help the sampler mix?", ["target_accuracy"] = target,
        });
        manifest.Set("cells", new JsonArray(cells.Select(c => (JsonNode)c.ToJson()).ToArray()));
        return study;
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var sub in Directory.GetDirectories(from)) CopyFolder(sub, Path.Combine(to, Path.GetFileName(sub)));
    }

    /// <summary>summary.csv as rows of (column → field), read with a plain split: the test does not trust the writer's reader.</summary>
    private static List<Dictionary<string, string>> Csv(string study)
    {
        var lines = File.ReadAllLines(Path.Combine(study, "summary.csv")).Where(l => l.Length > 0).ToArray();
        var header = lines[0].Split(',');
        return lines.Skip(1).Select(l =>
        {
            var fields = l.Split(',');
            Assert.Equal(header.Length, fields.Length);
            return header.Zip(fields).ToDictionary(p => p.First, p => p.Second);
        }).ToList();
    }

    private static Dictionary<string, string> Row(List<Dictionary<string, string>> rows, string variant) => Assert.Single(rows, r => r["variant"] == variant);

    private static double Number(string field) => double.Parse(field, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Per chain, the last running-BMA test value of <paramref name="column"/> in eval.parquet.</summary>
    private static Dictionary<int, double> FinalPerChain(string run, string column)
    {
        var eval = ParquetTable.Read(Path.Combine(run, "eval.parquet"));
        var chain = eval.Column<int>("chain");
        var split = eval.Column<string>("split");
        var iteration = eval.Column<long>("iteration");
        var value = eval.Column<double>(column);
        return Enumerable.Range(0, eval.RowCount).Where(r => split[r] == "test").GroupBy(r => chain[r])
            .ToDictionary(g => g.Key, g => value[g.MaxBy(r => iteration[r])]);
    }

    private static (double Mean, double Sd) MeanSd(IReadOnlyList<double> v)
    {
        double mean = v.Average();
        return (mean, v.Count < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1)));
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static IReadOnlyList<string> SvgTexts(string file) =>
        XDocument.Load(file).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToArray();

    [Fact]
    public void Report_draws_every_figure_as_png_and_svg_and_embeds_each_in_report_md()
    {
        string study = Study("all", TinyStudyRuns.Cells);
        var result = StudyReport.Build(study, TextWriter.Null);

        foreach (var figure in Figures)
            foreach (var ext in new[] { ".png", ".svg" })
                Assert.True(new FileInfo(Path.Combine(study, figure + ext)) is { Exists: true, Length: > 1000 }, figure + ext);
        Assert.Equal(Figures.Select(f => Path.Combine(study, f + ".png")).Order(), result.Figures.Select(f => f.Png).Order());
        string report = File.ReadAllText(result.Report);
        foreach (var figure in Figures) Assert.Contains($"]({figure}.png)", report);
        Assert.Contains("# Study report: all", report);
        Assert.Contains("Does removing symmetries help the sampler mix?", report);
        Assert.Contains("```json", report);
        Assert.Contains("\"target_accuracy\": 0.5", report);
        Assert.Contains("Every cell of the plan finished.", report);
        Assert.Contains("No chain of a finished cell diverged.", report);
        Assert.Equal(File.ReadAllText(result.SummaryMarkdown).Split('\n').Where(l => l.StartsWith("| mlp-16", StringComparison.Ordinal)),
            report.Split('\n').Where(l => l.StartsWith("| mlp-16", StringComparison.Ordinal)));
        Assert.Equal(2, result.Arms.Count);
        Assert.Empty(result.LeftOut);
        // The legend names the variants; the panels the model and sampler and the three x axes.
        var texts = SvgTexts(Path.Combine(study, "convergence-accuracy.svg"));
        Assert.Contains(texts, t => t.Contains("w-asym"));
        Assert.Contains(texts, t => t.Contains("mlp-16 · sgld"));
        Assert.Contains(texts, t => t.Contains("gradient evaluations"));
        Assert.Contains(texts, t => t.Contains("wall time"));
    }

    [Fact]
    public void Summary_numbers_equal_those_recomputed_from_eval_and_diagnostics_tables()
    {
        string study = Study("numbers", TinyStudyRuns.Cells);
        StudyReport.Build(study, TextWriter.Null);
        var rows = Csv(study);
        Assert.Equal(2, rows.Count);

        foreach (var variant in new[] { "standard", "w-asym" })
        {
            var cells = TinyStudyRuns.Cells.Where(c => c.Variant == variant).Select(c => Path.Combine(study, c.Folder)).ToList();
            var row = Row(rows, variant);
            Assert.Equal(("mlp-16", "sgld"), (row["model"], row["sampler"]));
            Assert.Equal(cells.Count, int.Parse(row["seeds"], CultureInfo.InvariantCulture));
            foreach (var (metric, column) in new[] { ("accuracy", "bma_accuracy"), ("nll", "bma_nll"), ("ece", "bma_ece"), ("brier", "bma_brier") })
            {
                var (mean, sd) = MeanSd(cells.Select(run => FinalPerChain(run, column).Values.Average()).ToList());
                Assert.Equal(mean, Number(row[$"test_{metric}_mean"]), 12);
                if (cells.Count > 1) Assert.Equal(sd, Number(row[$"test_{metric}_sd"]), 12);
                else Assert.Equal("", row[$"test_{metric}_sd"]); // one seed has no sd, and it is not 0
            }

            var rhatRaw = new List<double>();
            var ess = new List<double>();
            var rhatFunction = new List<double>();
            foreach (var run in cells)
            {
                var d = ParquetTable.Read(Path.Combine(run, "diagnostics.parquet"));
                var space = d.Column<string>("space");
                var variable = d.Column<string>("variable");
                var rhat = d.Column<double>("rhat");
                var per1k = d.Column<double>("ess_bulk_per_1k_grad_evals");
                var raw = Enumerable.Range(0, d.RowCount).Where(r => space[r] == "raw").ToArray();
                Assert.Equal(4, raw.Length);
                rhatRaw.Add(Median(raw.Select(r => rhat[r])));
                ess.Add(Median(raw.Select(r => per1k[r])));
                rhatFunction.Add(rhat[Enumerable.Range(0, d.RowCount).Single(r => space[r] == "function" && variable[r].StartsWith("p_true[median", StringComparison.Ordinal))]);
            }
            Assert.Equal(rhatRaw.Average(), Number(row["rhat_raw"]), 12);
            Assert.Equal(ess.Average(), Number(row["ess_bulk_per_1k_grad_evals"]), 12);
            Assert.Equal(rhatFunction.Average(), Number(row["rhat_function"]), 12);
            Assert.Equal(cells.Average(run => Manifest.Load(run).Get("timing")!["seconds"]!.GetValue<double>()), Number(row["wall_seconds"]), 9);
            Assert.Equal("0", row["diverged_chains"]);
        }
    }

    [Fact]
    public void Canonical_view_of_asymmetric_networks_is_empty_never_zero()
    {
        string study = Study("canonical", TinyStudyRuns.Cells);
        StudyReport.Build(study, TextWriter.Null);
        var rows = Csv(study);

        Assert.Equal("", Row(rows, "w-asym")["rhat_canonical"]);
        Assert.InRange(Number(Row(rows, "standard")["rhat_canonical"]), 0.5, 10);
        var wAsym = File.ReadAllLines(Path.Combine(study, "summary.md")).Single(l => l.StartsWith("| mlp-16 | w-asym", StringComparison.Ordinal)).Split(" | ");
        Assert.Equal("—", wAsym[12]); // model, variant, sampler, seeds, 4 metrics, 3 times to target, R̂ raw, R̂ canonical
        Assert.Contains("n/a", SvgTexts(Path.Combine(study, "mixing.svg")));
    }

    [Fact]
    public void Unfinished_cells_are_left_out_of_every_number_and_named_in_the_report()
    {
        StudyCell failed = new("std-s2", "mlp-16", "standard", "sgld", 2, "runs/std-s2");
        StudyCell interrupted = new("wasym-s1", "mlp-16", "w-asym", "sgld", 1, "runs/wasym-s1");
        StudyCell missing = new("std-s3", "mlp-16", "standard", "sgld", 3, "runs/std-s3");
        string study = Study("unfinished", [.. TinyStudyRuns.Cells, failed, interrupted, missing]);
        // Copies of finished runs, so that counting them by mistake would change the numbers.
        CopyFolder(Path.Combine(study, "runs/std-s0"), Path.Combine(study, failed.Folder));
        Manifest.Load(Path.Combine(study, failed.Folder)).Fail(new InvalidOperationException("out of memory"));
        CopyFolder(Path.Combine(study, "runs/wasym-s0"), Path.Combine(study, interrupted.Folder));
        using (var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            gone.WaitForExit();
            string file = Path.Combine(study, interrupted.Folder, "manifest.json");
            var document = JsonNode.Parse(File.ReadAllText(file))!;
            document["status"] = "running";
            document["machine"]!["pid"] = gone.Id;
            File.WriteAllText(file, document.ToJsonString());
        }
        string complete = Study("complete", TinyStudyRuns.Cells);

        var result = StudyReport.Build(study, TextWriter.Null);
        StudyReport.Build(complete, TextWriter.Null);

        Assert.Equal(["std-s2", "wasym-s1", "std-s3"], result.LeftOut.Select(l => l.Cell.Id));
        string report = File.ReadAllText(result.Report);
        Assert.Contains("| std-s2 | mlp-16 | standard | sgld | 2 | `runs/std-s2` | failed: InvalidOperationException: out of memory |", report);
        Assert.Contains("| wasym-s1 | mlp-16 | w-asym | sgld | 1 | `runs/wasym-s1` | interrupted", report);
        Assert.Contains("| std-s3 | mlp-16 | standard | sgld | 3 | `runs/std-s3` | missing", report);
        Assert.Contains("3 of 6 cells finished", report);
        var rows = Csv(study);
        var expected = Csv(complete);
        Assert.Equal(("2", "4"), (Row(rows, "standard")["seeds"], Row(rows, "standard")["seeds_planned"]));
        Assert.Equal(("1", "2"), (Row(rows, "w-asym")["seeds"], Row(rows, "w-asym")["seeds_planned"]));
        foreach (var variant in new[] { "standard", "w-asym" })
            foreach (var column in expected[0].Keys.Where(k => k != "seeds_planned"))
                Assert.Equal(Row(expected, variant)[column], Row(rows, variant)[column]);
    }

    [Fact]
    public void A_target_no_seed_reaches_is_not_reached_never_zero()
    {
        string study = Study("unreachable", TinyStudyRuns.Cells, target: 1.01);
        StudyReport.Build(study, TextWriter.Null);

        foreach (var row in Csv(study))
        {
            Assert.Equal("0", row["target_reached_seeds"]);
            Assert.Equal(("", "", ""), (row["epochs_to_target"], row["grad_evals_to_target"], row["seconds_to_target"]));
        }
        Assert.Contains("not reached (0/2)", File.ReadAllText(Path.Combine(study, "summary.md")));
        Assert.Contains("not reached", SvgTexts(Path.Combine(study, "time-to-target.svg")));
    }

    [Fact]
    public void Time_to_target_is_the_first_evaluation_whose_chain_mean_accuracy_reaches_it()
    {
        // Per seed: the chain mean of bma_accuracy at each evaluation; the target is one every standard seed reaches late.
        var curves = TinyStudyRuns.Cells.Where(c => c.Variant == "standard").Select(c =>
        {
            var eval = ParquetTable.Read(Path.Combine(runs.Folder, c.Folder, "eval.parquet"));
            var chain = eval.Column<int>("chain");
            var draw = eval.Column<int>("draw");
            var accuracy = eval.Column<double>("bma_accuracy");
            var epoch = eval.Column<double>("epoch");
            var gradEvals = eval.Column<long>("grad_evals");
            return Enumerable.Range(0, eval.RowCount).Where(r => eval.Column<string>("split")[r] == "test").GroupBy(r => draw[r]).OrderBy(g => g.Key)
                .Select(g => (Accuracy: g.Average(r => accuracy[r]), Epoch: g.Average(r => epoch[r]), GradEvals: g.Average(r => (double)gradEvals[r]), Chains: g.Count()))
                .ToList();
        }).ToList();
        Assert.All(curves, c => Assert.All(c, p => Assert.Equal(2, p.Chains)));
        double target = curves.Min(c => c.Max(p => p.Accuracy));
        string study = Study("reachable", TinyStudyRuns.Cells, target);
        StudyReport.Build(study, TextWriter.Null);

        var row = Row(Csv(study), "standard");
        var first = curves.Select(c => c.First(p => p.Accuracy >= target)).ToList();
        Assert.Equal("2", row["target_reached_seeds"]);
        Assert.Equal(first.Average(p => p.Epoch), Number(row["epochs_to_target"]), 12);
        Assert.Equal(first.Average(p => p.GradEvals), Number(row["grad_evals_to_target"]), 9);
    }

    [Fact]
    public void A_diverged_chain_is_listed_and_left_out_of_its_cells_numbers()
    {
        string study = Study("diverged", [TinyStudyRuns.Cells[0]], copy: [TinyStudyRuns.Cells[0]]);
        string file = Path.Combine(study, TinyStudyRuns.Cells[0].Folder, "manifest.json");
        var document = JsonNode.Parse(File.ReadAllText(file))!;
        document["status"] = RunStatus.FinishedWithDivergences;
        document["divergences"] = new JsonArray(new JsonObject { ["chain"] = 1, ["iteration"] = 17 });
        File.WriteAllText(file, document.ToJsonString());

        var result = StudyReport.Build(study, TextWriter.Null);

        Assert.Contains("| std-s0 | 1 | 17 |", File.ReadAllText(result.Report));
        var row = Row(Csv(study), "standard");
        Assert.Equal(FinalPerChain(Path.GetDirectoryName(file)!, "bma_accuracy")[0], Number(row["test_accuracy_mean"]), 12);
        Assert.Equal("1", row["diverged_chains"]);
    }

    [Fact]
    public void Study_with_no_finished_cell_is_a_one_line_option_error()
    {
        StudyCell missing = new("gone", "mlp-16", "standard", "sgld", 0, "runs/gone");
        string study = Study("empty", [missing], copy: []);

        var e = Assert.Throws<OptionException>(() => StudyReport.Build(study, TextWriter.Null));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("gone", e.Message);
        Assert.False(File.Exists(Path.Combine(study, "report.md")));
    }

    [Fact]
    public void Fitted_method_curve_is_its_progress_rows_then_the_final_BMA()
    {
        string run = Path.Combine(_dir, "fitted");
        CopyFolder(Path.Combine(runs.Folder, TinyStudyRuns.Cells[0].Folder), run);
        var fromEval = ConvergenceSeries.Read(run);
        Assert.Equal(ConvergenceSeries.EvalTable, fromEval.Source);
        Assert.Equal(15, fromEval.Chains[0].Count); // (40 − 10) / 2 evaluated draws
        var final = ConvergenceSeries.ReadFinal(run);
        Assert.Equal(fromEval.Chains[1][^1], final[1]);

        // As a fitted method writes it: every few steps, per chain and split, the BMA of draws from the current fit.
        using (var writer = new ParquetTableWriter(Path.Combine(run, ConvergenceSeries.ProgressTable),
            [TableColumn.Int("chain"), TableColumn.Long("iteration"), TableColumn.Double("epoch"), TableColumn.Long("grad_evals"),
             TableColumn.Double("wall_time_s"), TableColumn.String("split"), TableColumn.Double("nll"), TableColumn.Double("accuracy"),
             TableColumn.Double("brier"), TableColumn.Double("ece")]))
        {
            foreach (int chain in new[] { 0, 1 })
                foreach (long step in new long[] { 10, 20, 30, 40 })
                    foreach (var split in new[] { "test", "train" })
                        writer.Append(chain, step, step * 32 / 8000.0, step, 0.01 * step, split, 2.0 - step / 40.0, split == "test" ? step / 100.0 : 0.99, 0.5, 0.1 + chain);
            writer.Complete();
        }
        var series = ConvergenceSeries.Read(run);

        Assert.Equal(ConvergenceSeries.ProgressTable, series.Source);
        foreach (int chain in new[] { 0, 1 })
        {
            var points = series.Chains[chain];
            // The progress point at step 40 sits at the final evaluation's gradient count: the final BMA replaces it.
            Assert.Equal([0.1, 0.2, 0.3], points.SkipLast(1).Select(p => p.Accuracy));
            Assert.Equal([10.0, 20.0, 30.0], points.SkipLast(1).Select(p => p.GradEvals));
            Assert.All(points.SkipLast(1), p => Assert.Equal(0.1 + chain, p.Ece));
            Assert.Equal(final[chain], points[^1]);
            Assert.Equal(40, points[^1].GradEvals);
        }

        // The report's curve of that run is the chain mean of those points.
        string study = Study("fitted-study", [TinyStudyRuns.Cells[0]], copy: []);
        CopyFolder(run, Path.Combine(study, TinyStudyRuns.Cells[0].Folder));
        var arm = Assert.Single(StudyReport.Build(study, TextWriter.Null).Arms);
        Assert.Equal([0.1, 0.2, 0.3, (final[0].Accuracy + final[1].Accuracy) / 2], arm.Runs[0].Curve.Select(p => p.Accuracy));
    }
}
