using Workbench.Studies.Storage;

namespace Workbench.Studies.Comparisons;

/// <summary>
/// One point of a chain's convergence curve: where the chain was (epochs, gradient evaluations of a batch, wall-clock
/// seconds since the run started) and how good its Bayesian model average was there on one split.
/// </summary>
public sealed record ConvergencePoint(double Epoch, double GradEvals, double WallSeconds, double Accuracy, double Nll, double Ece, double Brier);

/// <summary>
/// The BMA-quality curve of every chain of one run folder, from whichever table has it:
/// <list type="bullet">
/// <item>fitted methods (mfvi, elrg, swag, ensemble) write <c>progress.parquet</c> — BMA metrics of a few draws from the
/// distribution fitted so far, every few steps — and evaluate in eval.parquet only at the end: their curve is the
/// progress rows, ending with the final eval.parquet <c>bma_*</c> row of the chain (which replaces any progress point at
/// or after its gradient count);</item>
/// <item>samplers write the running BMA over their draws so far as eval.parquet's <c>bma_*</c> columns at every
/// evaluated draw: their curve is those rows. (A fitted run without progress.parquet has all its eval rows at the last
/// iteration: its curve is one point, the final BMA.)</item>
/// </list>
/// </summary>
public sealed record ConvergenceSeries(string Source, IReadOnlyDictionary<int, IReadOnlyList<ConvergencePoint>> Chains)
{
    public const string ProgressTable = "progress.parquet";
    public const string EvalTable = "eval.parquet";

    public static ConvergenceSeries Read(string runFolder, string split = "test")
    {
        var final = FromEval(runFolder, split);
        string progress = Path.Combine(runFolder, ProgressTable);
        if (!File.Exists(progress)) return new ConvergenceSeries(EvalTable, final);

        var table = ParquetTable.Read(progress);
        var chain = table.ColumnAsDouble("chain");
        var splits = table.Column<string>("split");
        var gradEvals = table.ColumnAsDouble("grad_evals");
        var point = PointReader(table, metricPrefix: "");
        var chains = new SortedDictionary<int, IReadOnlyList<ConvergencePoint>>();
        foreach (var rows in Enumerable.Range(0, table.RowCount).Where(r => splits[r] == split).GroupBy(r => (int)chain[r]))
        {
            var points = rows.OrderBy(r => gradEvals[r]).Select(point).ToList();
            if (final.TryGetValue(rows.Key, out var last) && last.Count > 0)
            {
                var end = last[^1];
                points.RemoveAll(p => p.GradEvals >= end.GradEvals);
                points.Add(end);
            }
            chains[rows.Key] = points;
        }
        // A chain the progress table does not know (it diverged before its first progress row) keeps its eval rows.
        foreach (var (k, points) in final) chains.TryAdd(k, points);
        return new ConvergenceSeries(ProgressTable, chains);
    }

    /// <summary>
    /// Per chain, the final running-BMA row of <paramref name="split"/> in eval.parquet: the BMA over every draw the chain
    /// evaluated (samplers), or over the draws of the distribution fitted at the end (fitted methods).
    /// </summary>
    public static IReadOnlyDictionary<int, ConvergencePoint> ReadFinal(string runFolder, string split = "test") =>
        FromEval(runFolder, split).Where(c => c.Value.Count > 0).ToDictionary(c => c.Key, c => c.Value[^1]);

    /// <summary>Per chain, eval.parquet's running-BMA rows of <paramref name="split"/> in order of iteration, one per iteration.</summary>
    private static SortedDictionary<int, IReadOnlyList<ConvergencePoint>> FromEval(string runFolder, string split)
    {
        string path = Path.Combine(runFolder, EvalTable);
        var table = ParquetTable.Read(path);
        if (!table.Columns.Contains("bma_accuracy"))
            throw new InvalidDataException($"{path} has no bma_accuracy column (a regression run?); the study report compares classifiers");
        var chain = table.ColumnAsDouble("chain");
        var splits = table.Column<string>("split");
        var iteration = table.ColumnAsDouble("iteration");
        var draw = table.ColumnAsDouble("draw");
        var point = PointReader(table, metricPrefix: "bma_");
        var chains = new SortedDictionary<int, IReadOnlyList<ConvergencePoint>>();
        // Draws evaluated at one iteration (a fitted method's draws, all taken at the end of its fit) are one point of
        // training: the running BMA after the last of them.
        foreach (var rows in Enumerable.Range(0, table.RowCount).Where(r => splits[r] == split).GroupBy(r => (int)chain[r]))
            chains[rows.Key] = rows.GroupBy(r => iteration[r]).OrderBy(g => g.Key).Select(g => g.MaxBy(r => draw[r])).Select(point).ToList();
        return chains;
    }

    /// <summary>Row → point of a table with the cost columns and the metrics <c>{prefix}accuracy</c>, <c>nll</c>, <c>ece</c>,
    /// <c>brier</c> (progress.parquet: no prefix; eval.parquet's running BMA: "bma_").</summary>
    private static Func<int, ConvergencePoint> PointReader(ParquetTable table, string metricPrefix)
    {
        var epoch = table.ColumnAsDouble("epoch");
        var gradEvals = table.ColumnAsDouble("grad_evals");
        var wall = table.ColumnAsDouble("wall_time_s");
        var accuracy = table.ColumnAsDouble(metricPrefix + "accuracy");
        var nll = table.ColumnAsDouble(metricPrefix + "nll");
        var ece = table.ColumnAsDouble(metricPrefix + "ece");
        var brier = table.ColumnAsDouble(metricPrefix + "brier");
        return r => new ConvergencePoint(epoch[r], gradEvals[r], wall[r], accuracy[r], nll[r], ece[r], brier[r]);
    }
}
