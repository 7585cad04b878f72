using System.Text;
using System.Text.Json.Nodes;
using ScottPlot;
using Workbench.Architectures;
using Workbench.Studies.Data;
using Workbench.Studies.Figures;
using Workbench.Studies.Storage;
using static TorchSharp.torch;
using static Workbench.Studies.ModeConnectivity.TrainingStudy;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>One column of the paper's LMC table: which networks, and whether θ_B is aligned to θ_A first.</summary>
public sealed record LmcColumn(string Name, string Label, Variant Variant, bool WeightMatched)
{
    public static readonly IReadOnlyList<LmcColumn> All =
    [
        new("standard", "standard", Variant.Standard, false),
        new("standard-matched", "weight-matched", Variant.Standard, true),
        new("sigma-asym", "σ-Asym", Variant.SigmaAsym, false),
        new("w-asym", "W-Asym", Variant.WAsym, false),
    ];
}

/// <summary>Barriers of one pair in one column on one split for one metric (loss or error), and the endpoints' distance.</summary>
public sealed record BarrierRow(int Pair, string Column, string Split, string Metric, double Midpoint, double Entezari, double Distance);

public sealed record LmcResult(string Folder, IReadOnlyList<BarrierRow> Barriers, string ReportPath, double Seconds);

/// <summary>
/// Linear mode connectivity without alignment (PAPER 2.1): train pairs of networks from different inits and data
/// orders with the same M and F, evaluate loss and error along θ(λ) = (1 − λ)θ_A + λθ_B on train and test, and report
/// the midpoint and Entezari barriers and ‖θ_A − θ_B‖/#trainable, for standard, weight-matched standard, σ-Asym and W-Asym.
/// </summary>
public static class LinearModeConnectivity
{
    public const string InterpolationTable = "interpolation";
    public const string BarriersTable = "barriers";
    public static readonly IReadOnlyList<string> Splits = ["test", "train"];
    public static readonly IReadOnlyList<string> Metrics = ["loss", "error"];

    public static LmcResult Execute(LmcOptions o, TextWriter log)
    {
        var (result, seconds) = TrainingStudy.Execute(o, ConfigNode(o), (data, folder, manifest) => Run(o, data, folder, manifest, log));
        return result with { Seconds = seconds };
    }

    private static LmcResult Run(LmcOptions o, Dataset data, RunFolder folder, Manifest manifest, TextWriter log)
    {
        var lambdas = LossBarrier.Grid(o.Points);
        var splits = TrainingStudy.EvaluationSplits(o, data);
        var chains = Enumerable.Range(0, 2 * o.Pairs).ToList();
        var curves = new List<(int Pair, string Column, string Split, PathPoint[] Path)>();
        var distances = new Dictionary<(int, string), double>();

        TrainingStudy.TrainEach(o, data, LmcColumn.All.Select(c => c.Variant).Distinct(), chains, manifest, log, (network, trained) =>
        {
            var variant = network.Variant;
            foreach (var column in LmcColumn.All.Where(c => c.Variant == variant))
                for (int pair = 0; pair < o.Pairs; pair++)
                {
                    using var scope = NewDisposeScope();
                    var (paths, distance) = EvaluatePair(network, trained.Theta[2 * pair], trained.Theta[2 * pair + 1], column.WeightMatched, lambdas, splits, o.Seed + (ulong)pair);
                    distances[(pair, column.Name)] = distance;
                    foreach (var (split, path) in paths) curves.Add((pair, column.Name, split, path));
                    log.WriteLine($"  {column.Label}, pair {pair}: test loss barrier {LossBarrier.Midpoint(lambdas, paths["test"].Select(p => p.Loss).ToList()):F4} (midpoint)");
                }
        }, (entry, s) => entry["pair"] = s.Chain / 2);

        var rows = WriteTables(folder, manifest, lambdas, curves, distances);
        var figures = WriteFigures(folder, o, lambdas, curves, rows);
        string summary = SummaryMarkdown(rows, o.Pairs);
        File.WriteAllText(folder.File("summary.md"), summary);
        string report = folder.File("report.md");
        // Mean test loss of the trained endpoints per variant, to say when barriers are between networks that have not learned.
        var endpoints = curves.Where(c => c.Split == "test").GroupBy(c => LmcColumn.All.First(x => x.Name == c.Column).Variant)
            .ToDictionary(g => g.Key, g => g.Average(c => (c.Path[0].Loss + c.Path[^1].Loss) / 2));
        File.WriteAllText(report, Report(o, summary, figures, rows, endpoints, data.NumClasses));
        return new LmcResult(folder.Path, rows, report, 0);
    }

    /// <summary>
    /// One pair of one column: the loss and error curves along θ(λ) on every split, and ‖θ_A − θ_B‖/#trainable between
    /// the interpolated ends. <paramref name="weightMatched"/>: θ_B is first aligned to θ_A by weight matching (standard
    /// networks; <paramref name="matchingSeed"/> orders the layers' visits).
    /// </summary>
    public static (Dictionary<string, PathPoint[]> Paths, double Distance) EvaluatePair(INetwork network, Tensor a, Tensor b, bool weightMatched,
        IReadOnlyList<double> lambdas, IReadOnlyDictionary<string, (Tensor X, Tensor Y)> splits, ulong matchingSeed)
    {
        using var scope = NewDisposeScope();
        if (weightMatched)
        {
            if (network is not IPermutationSymmetric { Variant: Variant.Standard } symmetric)
                throw new ArgumentException($"weight matching aligns standard networks with permutation symmetries; {network.Name} is {network.Variant.ToName()}");
            b = WeightMatching.Align(symmetric, a, b, matchingSeed).AlignedB;
        }
        var paths = splits.ToDictionary(s => s.Key, s => InterpolationPath.Evaluate(network, a, b, lambdas, s.Value.X, s.Value.Y));
        return (paths, WeightMatching.Distance(a, b));
    }

    /// <summary>Midpoint and Entezari barriers of loss and error for each split's curve.</summary>
    public static IEnumerable<BarrierRow> Barriers(int pair, string column, IReadOnlyDictionary<string, PathPoint[]> paths, double distance)
    {
        foreach (var (split, path) in paths)
            foreach (var metric in Metrics)
            {
                var lambdas = path.Select(p => p.Lambda).ToList();
                var values = path.Select(p => metric == "loss" ? p.Loss : p.Error).ToList();
                yield return new BarrierRow(pair, column, split, metric, LossBarrier.Midpoint(lambdas, values), LossBarrier.Entezari(lambdas, values), distance);
            }
    }

    /// <summary>Writes both tables; the barriers come from the curves by <see cref="LossBarrier"/>.</summary>
    private static List<BarrierRow> WriteTables(RunFolder folder, Manifest manifest, double[] lambdas,
        List<(int Pair, string Column, string Split, PathPoint[] Path)> curves, Dictionary<(int, string), double> distances)
    {
        using (var writer = new ParquetTableWriter(folder.TablePath(InterpolationTable),
            [TableColumn.Int("pair"), TableColumn.String("column"), TableColumn.Double("lambda"), TableColumn.String("split"), TableColumn.Double("loss"), TableColumn.Double("error")]))
        {
            foreach (var c in curves)
                foreach (var p in c.Path) writer.Append(c.Pair, c.Column, p.Lambda, c.Split, p.Loss, p.Error);
            manifest.SetTable(InterpolationTable, writer.Complete());
        }
        var rows = new List<BarrierRow>();
        foreach (var c in curves)
            rows.AddRange(Barriers(c.Pair, c.Column, new Dictionary<string, PathPoint[]> { [c.Split] = c.Path }, distances[(c.Pair, c.Column)]));
        using (var writer = new ParquetTableWriter(folder.TablePath(BarriersTable),
            [TableColumn.Int("pair"), TableColumn.String("column"), TableColumn.String("split"), TableColumn.String("metric"),
             TableColumn.Double("midpoint_barrier"), TableColumn.Double("entezari_barrier"), TableColumn.Double("distance_per_parameter")]))
        {
            foreach (var r in rows) writer.Append(r.Pair, r.Column, r.Split, r.Metric, r.Midpoint, r.Entezari, r.Distance);
            manifest.SetTable(BarriersTable, writer.Complete());
        }
        return rows;
    }

    private static readonly Color[] ColumnColors = [Colors.Black, Colors.DodgerBlue, Colors.DarkOrange, Colors.ForestGreen];

    private static Color ColorOf(LmcColumn column) => ColumnColors[LmcColumn.All.ToList().IndexOf(column)];

    private static List<string> WriteFigures(RunFolder folder, LmcOptions o, double[] lambdas,
        List<(int Pair, string Column, string Split, PathPoint[] Path)> curves, List<BarrierRow> rows)
    {
        var names = new List<string>();
        foreach (var metric in Metrics)
        {
            var grid = new LineGridFigure($"{(metric == "loss" ? "Loss (mean NLL)" : "Error")} along θ(λ) = (1 − λ)θ_A + λθ_B: mean ± sd over {o.Pairs} pair(s)") { Columns = 2, ShareY = false };
            foreach (var split in Splits)
            {
                var panel = new LineFigure($"{split} split", "λ", metric) { ShowLegend = false };
                foreach (var column in LmcColumn.All)
                {
                    var paths = curves.Where(c => c.Column == column.Name && c.Split == split).Select(c => c.Path).ToList();
                    var stats = Enumerable.Range(0, lambdas.Length).Select(i => MeanSd(paths.Select(p => metric == "loss" ? p[i].Loss : p[i].Error).ToList())).ToList();
                    var mean = stats.Select(s => s.Mean).ToList();
                    var sd = stats.Select(s => double.IsFinite(s.Sd) ? s.Sd : 0).ToList();
                    panel.Add(new LineSeries(column.Label, lambdas, mean, mean.Zip(sd, (m, s) => m - s).ToList(), mean.Zip(sd, (m, s) => m + s).ToList()) { Color = ColorOf(column) });
                }
                grid.Add(panel);
            }
            grid.Save(folder.File($"lmc-{metric}"));
            names.Add($"lmc-{metric}");
        }
        var bars = new BarFigure($"Test barriers: mean ± sd over {o.Pairs} pair(s)", LmcColumn.All.Select(c => c.Label).ToList(),
            [("midpoint", Colors.SteelBlue), ("Entezari (max over λ)", Colors.IndianRed)]);
        foreach (var metric in Metrics)
        {
            var panel = new BarPanel($"test {metric} barrier", $"barrier ({metric})");
            foreach (var column in LmcColumn.All)
            {
                var selected = rows.Where(r => r.Column == column.Name && r.Split == "test" && r.Metric == metric).ToList();
                var mid = MeanSd(selected.Select(r => r.Midpoint).ToList());
                var ent = MeanSd(selected.Select(r => r.Entezari).ToList());
                panel.Set(column.Label, "midpoint", mid.Mean, mid.Sd);
                panel.Set(column.Label, "Entezari (max over λ)", ent.Mean, ent.Sd);
            }
            bars.Add(panel);
        }
        bars.Save(folder.File("lmc-barriers"));
        names.Add("lmc-barriers");
        return names;
    }

    public static string SummaryMarkdown(IReadOnlyList<BarrierRow> rows, int pairs)
    {
        var s = new StringBuilder();
        s.AppendLine("| column | test loss barrier (midpoint) | test loss barrier (Entezari) | test error barrier (midpoint) | test error barrier (Entezari) | train loss barrier (midpoint) | train error barrier (midpoint) | ‖θ_A − θ_B‖ / #trainable |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var column in LmcColumn.All)
        {
            List<double> Pick(string split, string metric, Func<BarrierRow, double> value) =>
                rows.Where(r => r.Column == column.Name && r.Split == split && r.Metric == metric).Select(value).ToList();
            var distance = MeanSd(Pick("test", "loss", r => r.Distance));
            s.AppendLine($"| {column.Label} | {Cell(MeanSd(Pick("test", "loss", r => r.Midpoint)))} | {Cell(MeanSd(Pick("test", "loss", r => r.Entezari)))} | " +
                $"{Cell(MeanSd(Pick("test", "error", r => r.Midpoint)))} | {Cell(MeanSd(Pick("test", "error", r => r.Entezari)))} | " +
                $"{Cell(MeanSd(Pick("train", "loss", r => r.Midpoint)))} | {Cell(MeanSd(Pick("train", "error", r => r.Midpoint)))} | {Cell(distance, "G4")} |");
        }
        s.AppendLine();
        s.AppendLine($"Mean ± sd over {pairs} pair(s). Midpoint barrier L(θ(½)) − ½(L(θ_A) + L(θ_B)); Entezari barrier max over λ of " +
            "L(θ(λ)) − ((1 − λ)L(θ_A) + λL(θ_B)). Loss is the mean NLL, error the misclassification rate. The distance is taken between " +
            "the interpolated endpoints (after alignment for the weight-matched column).");
        return s.ToString();
    }

    /// <summary>The columns ordered by mean midpoint test-loss barrier, lowest first.</summary>
    public static IReadOnlyList<LmcColumn> MeasuredOrder(IReadOnlyList<BarrierRow> rows) =>
        LmcColumn.All.OrderBy(c => rows.Where(r => r.Column == c.Name && r.Split == "test" && r.Metric == "loss").Average(r => r.Midpoint)).ToList();

    private static string Report(LmcOptions o, string summary, List<string> figures, List<BarrierRow> rows, IReadOnlyDictionary<Variant, double> endpointLoss, int classes)
    {
        var order = MeasuredOrder(rows);
        string[] paper = ["w-asym", "standard-matched", "sigma-asym", "standard"];
        bool agrees = order.Select(c => c.Name).SequenceEqual(paper);
        var s = new StringBuilder();
        s.AppendLine("# Linear mode connectivity");
        s.AppendLine();
        s.AppendLine("## Protocol");
        s.AppendLine();
        s.AppendLine(string.Concat(
            FormattableString.Invariant($"Model `{o.Model.Model}`, data `{o.Data}`. For each variant (standard, σ-Asym, W-Asym) {2 * o.Pairs} networks were trained "),
            FormattableString.Invariant($"(pair i = networks 2i and 2i+1: different init and data-order seeds from run seed {o.Seed}, the same masks and fixed matrices, mask seed {o.Model.MaskSeed}) "),
            TrainingSentence(o),
            FormattableString.Invariant($"Loss (mean NLL) and error were evaluated at {o.Points} evenly spaced λ on θ(λ) = (1 − λ)θ_A + λθ_B, on "),
            $"{EvaluatedOn(o)} each split. The weight-matched column aligns θ_B to θ_A ",
            "by Git Re-Basin weight matching before interpolating. ",
            o.FullSize ? $"These are the preset {o.Preset}'s full-size settings." : $"Preset {o.Preset} at its CPU size; `--full-size` gives the paper-sized settings (see the README)."));
        s.AppendLine();
        // A network no better than the uniform prediction (NLL ln C) has not learned; a barrier between two such says nothing.
        var untrained = endpointLoss.Where(e => e.Value >= Math.Log(classes)).ToList();
        if (untrained.Count > 0)
        {
            s.AppendLine(FormattableString.Invariant($"**Warning:** the trained networks of {string.Join(", ", untrained.Select(e => $"{e.Key.ToName()} (mean test loss {e.Value:F2})"))} ") +
                FormattableString.Invariant($"are no better than predicting every class with equal probability (loss ln {classes} = {Math.Log(classes):F2}); their barriers compare networks that have not learned. Train longer (--epochs) or at the full size."));
            s.AppendLine();
        }
        s.AppendLine("## Barriers");
        s.AppendLine();
        s.Append(summary);
        s.AppendLine();
        s.AppendLine("## Against the paper");
        s.AppendLine();
        s.AppendLine("Paper (PAPER 2.1): W-Asym (≈ 0) < weight-matched standard < σ-Asym < standard, by test loss barrier.");
        s.AppendLine();
        s.AppendLine($"Measured (mean midpoint test loss barrier, lowest first): {string.Join(" < ", order.Select(c => c.Label))} — " +
            (agrees ? "the same ordering as the paper." : "this differs from the paper's ordering."));
        s.AppendLine();
        s.AppendLine("## Figures");
        s.AppendLine();
        foreach (var f in figures) s.AppendLine($"![{f}]({f}.png)");
        s.AppendLine();
        s.AppendLine("Tables: `interpolation.parquet` (pair, column, lambda, split, loss, error) and `barriers.parquet` (pair, column, split, metric, midpoint_barrier, entezari_barrier, distance_per_parameter). Seeds and mask hashes: `manifest.json`.");
        return s.ToString();
    }

    private static JsonObject ConfigNode(LmcOptions o)
    {
        var node = TrainingStudy.ConfigNode(o);
        node["pairs"] = o.Pairs;
        node["points"] = o.Points;
        return node;
    }
}
