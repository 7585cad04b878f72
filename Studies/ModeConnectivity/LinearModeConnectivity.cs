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

/// <summary>One column of the paper's LMC table: which arm's networks (<see cref="TrainingArm.Name"/>), and whether θ_B is
/// aligned to θ_A first.</summary>
public sealed record LmcColumn(string Name, string Label, string Arm, bool WeightMatched)
{
    /// <summary>PAPER 2.1's columns for these arms: each arm's own, and after standard a weight-matched standard column.</summary>
    public static IReadOnlyList<LmcColumn> For(IEnumerable<TrainingArm> arms) => arms.SelectMany(a => a.Variant == Variant.Standard
        ? new[] { new LmcColumn(a.Name, a.Label, a.Name, false), new LmcColumn($"{a.Name}-matched", "weight-matched", a.Name, true) }
        : [new LmcColumn(a.Name, a.Label, a.Name, false)]).ToList();
}

/// <summary>Barriers of one pair in one column on one split for one metric (loss or error), and the endpoints' distance.</summary>
public sealed record BarrierRow(int Pair, string Column, string Split, string Metric, double Midpoint, double Entezari, double Distance);

public sealed record LmcResult(string Folder, IReadOnlyList<LmcColumn> Columns, IReadOnlyList<BarrierRow> Barriers, string ReportPath, double Seconds);

/// <summary>
/// Linear mode connectivity without alignment (PAPER 2.1): train pairs of networks from different inits and data
/// orders with the same M and F, evaluate loss and error along θ(λ) = (1 − λ)θ_A + λθ_B on train and test, and report
/// the midpoint and Entezari barriers and ‖θ_A − θ_B‖/#trainable, for standard, weight-matched standard, σ-Asym (at each
/// FiGLU sd asked for) and W-Asym. Each pair has its own masks unless <see cref="TrainingStudyOptions.SharedMasks"/>.
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
        var arms = o.Arms();
        var columns = LmcColumn.For(arms);
        var pairs = Enumerable.Range(0, o.Pairs).Select(p => (IReadOnlyList<int>)[2 * p, 2 * p + 1]).ToList();
        var curves = new List<(int Pair, string Column, string Split, PathPoint[] Path)>();
        var distances = new Dictionary<(int, string), double>();

        TrainingStudy.TrainEach(o, data, arms, pairs, manifest, log, (arm, network, trained, pair) =>
        {
            foreach (var column in columns.Where(c => c.Arm == arm.Name))
            {
                using var scope = NewDisposeScope();
                var (paths, distance) = EvaluatePair(network, trained.Theta[0], trained.Theta[1], column.WeightMatched, lambdas, splits, o.Seed + (ulong)pair);
                distances[(pair, column.Name)] = distance;
                foreach (var (split, path) in paths) curves.Add((pair, column.Name, split, path));
                log.WriteLine($"  {column.Label}, pair {pair}: test loss barrier {LossBarrier.Midpoint(lambdas, paths["test"].Select(p => p.Loss).ToList()):F4} (midpoint)");
            }
        }, (entry, s) => entry["pair"] = s.Chain / 2);

        var rows = WriteTables(folder, manifest, lambdas, curves, distances);
        var figures = WriteFigures(folder, o, columns, lambdas, curves, rows);
        string summary = SummaryMarkdown(rows, columns, o.Pairs);
        AtomicFile.WriteAllText(folder.File("summary.md"), summary);
        string report = folder.File("report.md");
        // Mean test loss of the trained endpoints per arm, to say when barriers are between networks that have not learned.
        var endpoints = arms.ToDictionary(a => a.Label, a => curves.Where(c => c.Split == "test" && columns.First(x => x.Name == c.Column).Arm == a.Name)
            .Average(c => (c.Path[0].Loss + c.Path[^1].Loss) / 2));
        AtomicFile.WriteAllText(report, Report(o, columns, summary, figures, rows, endpoints, data.NumClasses));
        return new LmcResult(folder.Path, columns, rows, report, 0);
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

    /// <summary>Standard black, weight-matched blue, σ-Asym orange (then purple, brown, …), W-Asym green.</summary>
    private static Color ColorOf(IReadOnlyList<LmcColumn> columns, LmcColumn column)
    {
        if (column.WeightMatched) return Colors.DodgerBlue;
        if (column.Arm == "standard") return Colors.Black;
        if (column.Arm == "w-asym") return Colors.ForestGreen;
        Color[] sigma = [Colors.DarkOrange, Colors.Purple, Colors.Brown, Colors.Magenta, Colors.Olive];
        var others = columns.Where(c => !c.WeightMatched && c.Arm is not ("standard" or "w-asym")).ToList();
        return sigma[others.IndexOf(column) % sigma.Length];
    }

    private static List<string> WriteFigures(RunFolder folder, LmcOptions o, IReadOnlyList<LmcColumn> columns, double[] lambdas,
        List<(int Pair, string Column, string Split, PathPoint[] Path)> curves, List<BarrierRow> rows)
    {
        var names = new List<string>();
        foreach (var metric in Metrics)
        {
            var grid = new LineGridFigure($"{(metric == "loss" ? "Loss (mean NLL)" : "Error")} along θ(λ) = (1 − λ)θ_A + λθ_B: mean ± sd over {o.Pairs} pair(s)") { Columns = 2, ShareY = false };
            foreach (var split in Splits)
            {
                var panel = new LineFigure($"{split} split", "λ", metric) { ShowLegend = false };
                foreach (var column in columns)
                {
                    var paths = curves.Where(c => c.Column == column.Name && c.Split == split).Select(c => c.Path).ToList();
                    var stats = Enumerable.Range(0, lambdas.Length).Select(i => MeanSd(paths.Select(p => metric == "loss" ? p[i].Loss : p[i].Error).ToList())).ToList();
                    var mean = stats.Select(s => s.Mean).ToList();
                    var sd = stats.Select(s => double.IsFinite(s.Sd) ? s.Sd : 0).ToList();
                    panel.Add(new LineSeries(column.Label, lambdas, mean, mean.Zip(sd, (m, s) => m - s).ToList(), mean.Zip(sd, (m, s) => m + s).ToList()) { Color = ColorOf(columns, column) });
                }
                grid.Add(panel);
            }
            grid.Save(folder.File($"lmc-{metric}"));
            names.Add($"lmc-{metric}");
        }
        var bars = new BarFigure($"Test barriers: mean ± sd over {o.Pairs} pair(s)", columns.Select(c => c.Label).ToList(),
            [("midpoint", Colors.SteelBlue), ("Entezari (max over λ)", Colors.IndianRed)])
        {
            // Room for labels such as "σ-Asym (sd 1/√d)" under every bar group.
            PanelWidth = Math.Max(560, 150 * columns.Count),
        };
        foreach (var metric in Metrics)
        {
            var panel = new BarPanel($"test {metric} barrier", $"barrier ({metric})");
            foreach (var column in columns)
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

    public static string SummaryMarkdown(IReadOnlyList<BarrierRow> rows, IReadOnlyList<LmcColumn> columns, int pairs)
    {
        var s = new StringBuilder();
        s.AppendLine("| column | test loss barrier (midpoint) | test loss barrier (Entezari) | test error barrier (midpoint) | test error barrier (Entezari) | train loss barrier (midpoint) | train error barrier (midpoint) | ‖θ_A − θ_B‖ / #trainable |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var column in columns)
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
    public static IReadOnlyList<LmcColumn> MeasuredOrder(IReadOnlyList<BarrierRow> rows, IEnumerable<LmcColumn> columns) =>
        columns.OrderBy(c => rows.Where(r => r.Column == c.Name && r.Split == "test" && r.Metric == "loss").Average(r => r.Midpoint)).ToList();

    private static string Report(LmcOptions o, IReadOnlyList<LmcColumn> columns, string summary, List<string> figures, List<BarrierRow> rows,
        IReadOnlyDictionary<string, double> endpointLoss, int classes)
    {
        var order = MeasuredOrder(rows, columns);
        var sigmaColumns = columns.Where(c => c.Arm.StartsWith("sigma-asym", StringComparison.Ordinal)).ToList();
        var s = new StringBuilder();
        s.AppendLine("# Linear mode connectivity");
        s.AppendLine();
        s.AppendLine("## Protocol");
        s.AppendLine();
        s.AppendLine(string.Concat(
            FormattableString.Invariant($"Model `{o.Model.Model}`, data `{o.Data}`. For each arm ({string.Join(", ", o.Arms().Select(a => a.Label))}) {2 * o.Pairs} networks were trained "),
            FormattableString.Invariant($"(pair i = networks 2i and 2i+1: different init and data-order seeds from run seed {o.Seed}; the two networks of a pair share their masks and fixed matrices; "),
            MasksSentence(o), ") ",
            TrainingSentence(o),
            FormattableString.Invariant($"Loss (mean NLL) and error were evaluated at {o.Points} evenly spaced λ on θ(λ) = (1 − λ)θ_A + λθ_B, on "),
            $"{EvaluatedOn(o)} each split. The weight-matched column aligns θ_B to θ_A ",
            "by Git Re-Basin weight matching before interpolating. ",
            o.FullSize ? $"These are the preset {o.Preset}'s full-size settings." : $"Preset {o.Preset} at its CPU size; `--full-size` gives the paper-sized settings (see the README)."));
        s.AppendLine();
        s.AppendLine(FiGluSentence(o, sigmaColumns));
        s.AppendLine();
        // A network no better than the uniform prediction (NLL ln C) has not learned; a barrier between two such says nothing.
        var untrained = endpointLoss.Where(e => e.Value >= Math.Log(classes)).ToList();
        if (untrained.Count > 0)
        {
            s.AppendLine(FormattableString.Invariant($"**Warning:** the trained networks of {string.Join(", ", untrained.Select(e => $"{e.Key} (mean test loss {e.Value:F2})"))} ") +
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
        s.AppendLine($"Measured (mean midpoint test loss barrier, lowest first): {string.Join(" < ", order.Select(c => c.Label))}.");
        s.AppendLine();
        foreach (var sigma in sigmaColumns)
        {
            // The paper's four columns, with this σ-Asym column.
            var four = order.Where(c => !c.Arm.StartsWith("sigma-asym", StringComparison.Ordinal) || c == sigma).Select(c => c.WeightMatched ? "matched" : c == sigma ? "sigma" : c.Arm).ToList();
            bool agrees = four.SequenceEqual(["w-asym", "matched", "sigma", "standard"]);
            s.AppendLine($"- With {sigma.Label}: " + (agrees ? "the same ordering as the paper." : "this differs from the paper's ordering."));
        }
        if (sigmaColumns.Count > 0) s.AppendLine();
        s.AppendLine("## Figures");
        s.AppendLine();
        foreach (var f in figures) s.AppendLine($"![{f}]({f}.png)");
        s.AppendLine();
        s.AppendLine("Tables: `interpolation.parquet` (pair, column, lambda, split, loss, error) and `barriers.parquet` (pair, column, split, metric, midpoint_barrier, entezari_barrier, distance_per_parameter). Seeds and mask hashes: `manifest.json`.");
        return s.ToString();
    }

    /// <summary>What the σ-Asym columns' FiGLU sds are and why they matter.</summary>
    private static string FiGluSentence(LmcOptions o, IReadOnlyList<LmcColumn> sigmaColumns)
    {
        if (sigmaColumns.Count == 0) return "";
        var stds = o.ResolvedSigmaAsymStds;
        string which = string.Join(" and ", stds.Select(f => f.OverSqrtWidth ? $"sd {TrainingArm.FiGluLabel(f)} (d = the width F mixes)" : $"sd {TrainingArm.FiGluLabel(f)}"));
        return $"σ-Asym's FiGLU σ(x) = sigmoid(F x) ⊙ x draws F's entries with {which}. The paper's reference code uses sd 1 for its MNIST MLP " +
            "and 1/√d for its ResNets; with sd 1 on a d-wide LayerNorm output F x has sd ≈ √d and the gate is nearly a binary mask. " +
            (stds.Count > 1 ? "Within a pair, every σ-Asym column scales the same draw of standard normals (F = sd·z), so the columns differ in the scale alone. " : "") +
            "`--figlu-std` sets the σ-Asym columns (comma-separated for several).";
    }

    private static JsonObject ConfigNode(LmcOptions o)
    {
        var node = TrainingStudy.ConfigNode(o);
        node["sigma_asym_figlu_stds"] = new JsonArray(o.ResolvedSigmaAsymStds.Select(f => FiGluStdJson.Write(f)).ToArray());
        node["pairs"] = o.Pairs;
        node["points"] = o.Points;
        return node;
    }
}
