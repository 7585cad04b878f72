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

/// <summary>Settings of a monotonic-linear-interpolation study (PAPER 2.4): the shared training settings (preset
/// <c>lmc-mlp</c>), the variants, networks per variant and the α grid.</summary>
public sealed record MliOptions() : VariantStudyOptions("mli", minimumNetworks: 1)
{
    /// <summary>α grid size: evenly spaced in [0, 1], ends included (25 in the paper).</summary>
    public int Points { get; init; } = 25;
    public override string MaskGroup => "network";

    public override void Validate()
    {
        if (Points < 3) throw new ArgumentException($"--points must be at least 3 (the statistics need interior points), got {Points}");
        base.Validate();
    }
}

/// <summary>One network's curve and statistics.</summary>
public sealed record MliCurve(string Variant, int Network, double[] Alphas, double[] Losses, MliStatistics Statistics);

public sealed record MliResult(string Folder, IReadOnlyList<MliCurve> Curves, string ReportPath, double Seconds);

/// <summary>
/// Monotonic linear interpolation (PAPER 2.4): train networks from θ_0 (their init) to θ_T, evaluate the training loss
/// at evenly spaced α on (1 − α)θ_0 + αθ_T and report, per network, Δ, monotonicity, local and global convexity
/// (<see cref="MonotonicInterpolation"/>).
/// </summary>
public static class MonotonicInterpolationStudy
{
    public const string CurvesTable = "mli";
    public const string StatisticsTable = "mli-stats";

    public static MliResult Execute(MliOptions o, TextWriter log)
    {
        var config = ConfigNode(o);
        config["points"] = o.Points;
        var (result, seconds) = TrainingStudy.Execute(o, config, (data, folder, manifest) => Run(o, data, folder, manifest, log));
        return result with { Seconds = seconds };
    }

    private static MliResult Run(MliOptions o, Dataset data, RunFolder folder, Manifest manifest, TextWriter log)
    {
        var alphas = LossBarrier.Grid(o.Points);
        var (x, y) = EvaluationSplits(o, data)["train"];
        // Each network is its own group: its own masks unless --shared-masks.
        var networks = Enumerable.Range(0, o.Networks).Select(k => (IReadOnlyList<int>)[k]).ToList();
        var curves = new List<MliCurve>();
        TrainEach(o, data, ArmsOf(o.Variants), networks, manifest, log, (_, network, trained, k) =>
        {
            var variant = network.Variant;
            using var initial = NetworkTrainer.InitialPositions(network, trained.Seeds);
            using var scope = NewDisposeScope();
            var losses = InterpolationPath.Evaluate(network, initial[0], trained.Theta[0], alphas, x, y).Select(p => p.Loss).ToArray();
            var statistics = MonotonicInterpolation.Of(alphas, losses);
            curves.Add(new MliCurve(variant.ToName(), k, alphas, losses, statistics));
            log.WriteLine($"  network {k}: Δ {statistics.Delta:F4} ({(statistics.Monotonic ? "monotonic" : "not monotonic")}), " +
                $"local convexity {statistics.LocalConvexity:F2}, global convexity {statistics.GlobalConvexity:F2}");
        });

        using (var writer = new ParquetTableWriter(folder.TablePath(CurvesTable),
            [TableColumn.String("variant"), TableColumn.Int("network"), TableColumn.Double("alpha"), TableColumn.Double("loss")]))
        {
            foreach (var c in curves)
                for (int i = 0; i < c.Alphas.Length; i++) writer.Append(c.Variant, c.Network, c.Alphas[i], c.Losses[i]);
            manifest.SetTable(CurvesTable, writer.Complete());
        }
        using (var writer = new ParquetTableWriter(folder.TablePath(StatisticsTable),
            [TableColumn.String("variant"), TableColumn.Int("network"), TableColumn.Double("delta"), TableColumn.Int("monotonic"),
             TableColumn.Double("local_convexity"), TableColumn.Double("global_convexity")]))
        {
            foreach (var c in curves)
                writer.Append(c.Variant, c.Network, c.Statistics.Delta, c.Statistics.Monotonic ? 1 : 0, c.Statistics.LocalConvexity, c.Statistics.GlobalConvexity);
            manifest.SetTable(StatisticsTable, writer.Complete());
        }
        WriteFigure(folder, o, curves);
        string summary = SummaryMarkdown(curves);
        AtomicFile.WriteAllText(folder.File("summary.md"), summary);
        string report = folder.File("report.md");
        AtomicFile.WriteAllText(report, Report(o, summary, curves));
        return new MliResult(folder.Path, curves, report, 0);
    }

    private static string Label(string variant) => variant switch { "w-asym" => "W-Asym", "sigma-asym" => "σ-Asym", _ => variant };

    private static void WriteFigure(RunFolder folder, MliOptions o, IReadOnlyList<MliCurve> curves)
    {
        var grid = new LineGridFigure($"Training loss along (1 − α)θ_0 + αθ_T, {o.Networks} network(s) per variant") { Columns = Math.Min(3, o.Variants.Count), ShareY = false };
        foreach (var variant in o.Variants.Select(v => v.ToName()))
        {
            var panel = new LineFigure(Label(variant), "α", "train loss (mean NLL)") { ShowLegend = false };
            foreach (var c in curves.Where(c => c.Variant == variant))
                // One line per network, named by its status so that the figure's legend has one entry per status.
                panel.Add(new LineSeries(c.Statistics.Monotonic ? "monotonic" : "not monotonic", c.Alphas, c.Losses) { Color = c.Statistics.Monotonic ? Colors.ForestGreen : Colors.IndianRed });
            grid.Add(panel);
        }
        grid.Save(folder.File("mli"));
    }

    public static string SummaryMarkdown(IReadOnlyList<MliCurve> curves)
    {
        var s = new StringBuilder();
        s.AppendLine("| variant | networks | monotonic | Δ | local convexity | global convexity |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var group in curves.GroupBy(c => c.Variant))
        {
            var stats = group.Select(c => c.Statistics).ToList();
            s.AppendLine($"| {Label(group.Key)} | {stats.Count} | {stats.Count(t => t.Monotonic)}/{stats.Count} | {Cell(MeanSd(stats.Select(t => t.Delta).ToList()))} | " +
                $"{Cell(MeanSd(stats.Select(t => t.LocalConvexity).ToList()), "F3")} | {Cell(MeanSd(stats.Select(t => t.GlobalConvexity).ToList()), "F3")} |");
        }
        s.AppendLine();
        s.AppendLine("Mean ± sd over networks. Δ = max_i (L(α_{i+1}) − L(α_i)); monotonic ⇔ Δ ≤ 0. Local convexity: share of interior points with " +
            "L(α_{i−1}) − 2L(α_i) + L(α_{i+1}) ≥ 0; global convexity: share of interior points with L(α_i) ≤ (1 − α_i)L(0) + α_i L(1) (the true chord).");
        return s.ToString();
    }

    private static string Report(MliOptions o, string summary, IReadOnlyList<MliCurve> curves)
    {
        var s = new StringBuilder();
        s.AppendLine("# Monotonic linear interpolation");
        s.AppendLine();
        s.AppendLine("## Protocol");
        s.AppendLine();
        s.AppendLine(string.Concat(
            FormattableString.Invariant($"Model `{o.Model.Model}`, data `{o.Data}`. For each variant ({string.Join(", ", o.Variants.Select(v => Label(v.ToName())))}) {o.Networks} network(s) were trained "),
            FormattableString.Invariant($"from their init θ_0 (init and data-order seeds from run seed {o.Seed}; "), MasksSentence(o), ") to θ_T ",
            TrainingSentence(o),
            FiGluSentence(o, o.Variants),
            $"The training loss (mean NLL on {EvaluatedOn(o)} the training split) ",
            FormattableString.Invariant($"was evaluated at {o.Points} evenly spaced α on (1 − α)θ_0 + αθ_T.")));
        s.AppendLine();
        s.AppendLine("## Statistics");
        s.AppendLine();
        s.Append(summary);
        s.AppendLine();
        s.AppendLine("## Against the paper");
        s.AppendLine();
        s.AppendLine("Paper (PAPER 2.4, ResNets): all 300 W-Asym networks monotonic and under the chord (global convexity 1); most standard ones not monotonic.");
        s.AppendLine();
        foreach (var group in curves.GroupBy(c => c.Variant))
        {
            var stats = group.Select(c => c.Statistics).ToList();
            s.AppendLine($"- {Label(group.Key)}: {stats.Count(x => x.Monotonic)} of {stats.Count} monotonic, {stats.Count(x => x.GlobalConvexity == 1)} of {stats.Count} entirely under the chord.");
        }
        s.AppendLine();
        bool zooModel = o.Model.Model == "resnet8" && o.FullSize;
        s.AppendLine(zooModel
            ? FormattableString.Invariant($"This run trains the paper's zoo ResNet8 with one fixed optimiser setting for {o.Training.Epochs} epochs (the paper drew 10–40 epochs and the optimiser at random per network).")
            : FormattableString.Invariant($"This run trains `{o.Model.Model}` on `{o.Data}` for {o.Training.Epochs} epoch(s), not the paper's CIFAR-10 ResNet8 zoo; the comparison is qualitative."));
        // A network no better than the uniform prediction (NLL ln C) at α = 1 has not learned; its path says little.
        double chance = Math.Log(o.Model.Outputs ?? 10);
        var untrained = curves.GroupBy(c => c.Variant).Select(g => (Variant: g.Key, Loss: g.Average(c => c.Losses[^1]))).Where(v => v.Loss >= chance).ToList();
        if (untrained.Count > 0)
            s.AppendLine(FormattableString.Invariant($"\n**Warning:** the trained {string.Join(", ", untrained.Select(v => $"{Label(v.Variant)} networks (mean final train loss {v.Loss:F2})"))} ") +
                FormattableString.Invariant($"are no better than predicting every class with equal probability (ln {o.Model.Outputs ?? 10} = {chance:F2}). Train longer (--epochs) or at the full size."));
        s.AppendLine();
        s.AppendLine("## Figures");
        s.AppendLine();
        s.AppendLine("![mli](mli.png) (green: monotonic, red: not)");
        s.AppendLine();
        s.AppendLine("Tables: `mli.parquet` (variant, network, alpha, loss) and `mli-stats.parquet` (variant, network, delta, monotonic: 1 or 0, local_convexity, global_convexity). Seeds and mask hashes: `manifest.json`.");
        return s.ToString();
    }
}
