using System.Text.Json.Nodes;
using Workbench.Studies.Diagnostics;
using Workbench.Studies.Metrics;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Comparisons;

/// <summary>
/// What one finished cell of a study contributes to the report, read from its run folder's manifest and Parquet tables
/// only. Chains that diverged (the manifest's <c>divergences</c>) are left out of every number but are listed.
/// </summary>
/// <param name="Chains">The chains that did not diverge.</param>
/// <param name="CurveSource">The table <paramref name="Curve"/> came from: progress.parquet (fitted methods) or eval.parquet.</param>
/// <param name="Curve">The BMA test curve (<see cref="ConvergenceSeries"/>) averaged over <paramref name="Chains"/> point by
/// point (chains of one run are evaluated at the same steps; a longer chain is cut to the shortest).</param>
/// <param name="Final">Each chain's last running-BMA test row of eval.parquet, averaged over <paramref name="Chains"/>.</param>
/// <param name="TargetReached">The first point of <paramref name="Curve"/> whose accuracy is at or above the target; null if none is.</param>
/// <param name="MedianRhat">Per view (raw, canonical, function) the median R̂ over the run's variables; a view the run does not have is absent.</param>
/// <param name="EssPer1kGradEvals">Median over the raw variables of bulk-ESS per 1,000 gradient evaluations (summed over chains); NaN if unknown.</param>
/// <param name="LossPerEpoch">Per epoch 1, 2, …: each chain's mean minibatch loss over the epoch, averaged over <paramref name="Chains"/>.</param>
/// <param name="Calibration">The reliability bins of the final BMA pooled over the run's chains (calibration.parquet, chain −1); null if absent.</param>
/// <param name="WallSeconds">The run's wall time (manifest <c>timing.seconds</c>).</param>
/// <param name="GradEvals">Gradient evaluations of a batch, summed over every chain (diverged ones included: they were paid for).</param>
public sealed record RunOutcome(
    StudyCell Cell,
    string Folder,
    IReadOnlyList<int> Chains,
    IReadOnlyList<Divergence> Divergences,
    string CurveSource,
    IReadOnlyList<ConvergencePoint> Curve,
    ConvergencePoint Final,
    ConvergencePoint? TargetReached,
    IReadOnlyDictionary<string, double> MedianRhat,
    double EssPer1kGradEvals,
    IReadOnlyList<(int Epoch, double Loss)> LossPerEpoch,
    CalibrationResult? Calibration,
    double WallSeconds,
    double GradEvals)
{
    /// <summary>The views of <see cref="Diagnose"/> in the order the report shows them.</summary>
    public static readonly IReadOnlyList<string> Views = ["raw", "canonical", "function"];

    /// <summary>Reads a finished run folder (the caller has checked <see cref="RunFolder.Condition"/>).</summary>
    public static RunOutcome Read(StudyCell cell, string folder, double targetAccuracy)
    {
        var manifest = Manifest.Load(folder);
        var divergences = manifest.Get("divergences") is JsonArray diverged
            ? diverged.Select(d => new Divergence(d!["chain"]!.GetValue<int>(), d["iteration"]!.GetValue<long>())).ToList()
            : [];
        bool Kept(int chain) => !divergences.Any(d => d.Chain == chain);

        var final = ConvergenceSeries.ReadFinal(folder).Where(c => Kept(c.Key)).ToDictionary();
        if (final.Count == 0) throw new InvalidDataException($"{folder}: eval.parquet has no test row of a chain that did not diverge");
        var diagnostics = Diagnostics(folder);
        var read = ConvergenceSeries.Read(folder);
        var series = read.Chains.Where(c => Kept(c.Key) && c.Value.Count > 0).Select(c => c.Value).ToList();
        int length = series.Min(c => c.Count);
        var curve = Enumerable.Range(0, length).Select(i => Mean(series.Select(c => c[i]).ToList())).ToList();

        return new RunOutcome(cell, folder, final.Keys.Order().ToList(), divergences, read.Source, curve, Mean(final.Values.ToList()),
            curve.FirstOrDefault(p => p.Accuracy >= targetAccuracy),
            MedianRhats(diagnostics), EssPer1k(diagnostics), Loss(folder, Kept), Pooled(folder),
            manifest.Get("timing")?["seconds"]?.GetValue<double>() ?? double.NaN, TotalGradEvals(folder));
    }

    private static ConvergencePoint Mean(IReadOnlyList<ConvergencePoint> points) => new(
        points.Average(p => p.Epoch), points.Average(p => p.GradEvals), points.Average(p => p.WallSeconds),
        points.Average(p => p.Accuracy), points.Average(p => p.Nll), points.Average(p => p.Ece), points.Average(p => p.Brier));

    /// <summary>
    /// Raw and canonical: the median of the finite R̂ over the view's variables. Function: diagnostics.parquet keeps only
    /// summaries over test points, and its "p_true[median over N points]" row is that median.
    /// </summary>
    private static Dictionary<string, double> MedianRhats(DiagnosticsColumns? diagnostics)
    {
        var result = new Dictionary<string, double>();
        if (diagnostics is not { } d) return result;
        foreach (var view in Views)
        {
            var rhat = Enumerable.Range(0, d.Space.Length)
                .Where(r => d.Space[r] == view && (view != "function" || d.Variable[r].StartsWith("p_true[median", StringComparison.Ordinal)))
                .Select(r => d.Rhat[r]).ToList();
            if (rhat.Count == 0) continue;
            var finite = rhat.Where(double.IsFinite).ToArray();
            result[view] = finite.Length == 0 ? double.NaN : Median(finite);
        }
        return result;
    }

    private static double EssPer1k(DiagnosticsColumns? diagnostics)
    {
        if (diagnostics is not { } d) return double.NaN;
        var finite = Enumerable.Range(0, d.Space.Length).Where(r => d.Space[r] == "raw").Select(r => d.EssPer1k[r]).Where(double.IsFinite).ToArray();
        return finite.Length == 0 ? double.NaN : Median(finite);
    }

    /// <summary>The columns of diagnostics.parquet the report uses.</summary>
    private sealed record DiagnosticsColumns(string[] Variable, string[] Space, double[] Rhat, double[] EssPer1k);

    /// <summary>diagnostics.parquet of the run; null when it has none (its diagnostics could not be written): every view then absent.</summary>
    private static DiagnosticsColumns? Diagnostics(string folder)
    {
        string path = Path.Combine(folder, Diagnose.TableName);
        if (!File.Exists(path)) return null;
        var table = ParquetTable.Read(path);
        return new DiagnosticsColumns(table.Column<string>("variable"), table.Column<string>("space"), table.ColumnAsDouble("rhat"),
            table.ColumnAsDouble("ess_bulk_per_1k_grad_evals"));
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>The paper's Fig. 4 view: steps grouped by the epoch they fall in (⌈epoch⌉), mean loss per chain, then over
    /// chains. A last epoch with less than half the steps of a full one (an epoch budget ends a step past a whole
    /// number of epochs) is left out: its mean would rest on a few batches.</summary>
    private static List<(int Epoch, double Loss)> Loss(string folder, Func<int, bool> kept)
    {
        var table = ParquetTable.Read(Path.Combine(folder, "stats.parquet"));
        var chain = table.Column<int>("chain");
        var epoch = table.ColumnAsDouble("epoch");
        var loss = table.ColumnAsDouble("loss");
        var groups = Enumerable.Range(0, table.RowCount)
            .Where(r => kept(chain[r]) && double.IsFinite(loss[r]))
            .GroupBy(r => (int)Math.Ceiling(epoch[r]))
            .OrderBy(g => g.Key)
            .ToList();
        if (groups.Count >= 2 && groups[^1].Count() < 0.5 * groups.Max(g => g.Count())) groups.RemoveAt(groups.Count - 1);
        return groups.Select(g => (g.Key, g.GroupBy(r => chain[r]).Select(c => c.Average(r => loss[r])).Average())).ToList();
    }

    private static CalibrationResult? Pooled(string folder)
    {
        string path = Path.Combine(folder, CalibrationTable.FileName);
        return File.Exists(path) ? CalibrationTable.Read(path) : null;
    }

    private static double TotalGradEvals(string folder)
    {
        var table = ParquetTable.Read(Path.Combine(folder, "stats.parquet"));
        var chain = table.Column<int>("chain");
        var evals = table.ColumnAsDouble("grad_evals");
        return Enumerable.Range(0, table.RowCount).GroupBy(r => chain[r]).Sum(g => g.Max(r => evals[r]));
    }
}
