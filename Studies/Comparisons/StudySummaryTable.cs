using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;

using Workbench.Studies.Storage;

namespace Workbench.Studies.Comparisons;

/// <summary>
/// The study's summary: one row per arm, as a DataFrame written to <c>summary.csv</c> (invariant culture; an empty field
/// is a number that does not exist — a view the network has not, a target no seed reached, an sd of one seed — never 0)
/// and as a Markdown table (mean ± sd, rounded) for <c>summary.md</c> and <c>report.md</c>.
/// </summary>
public static class StudySummaryTable
{
    public const string CsvName = "summary.csv";
    public const string MarkdownName = "summary.md";

    public static DataFrame Build(IReadOnlyList<ArmSummary> arms, double targetAccuracy)
    {
        DoubleDataFrameColumn Numbers(string name, Func<ArmSummary, double> value) =>
            new(name, arms.Select(a => value(a) is var v && double.IsFinite(v) ? v : (double?)null));
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", arms.Select(a => a.Model)),
            new StringDataFrameColumn("variant", arms.Select(a => a.Variant)),
            new StringDataFrameColumn("sampler", arms.Select(a => a.Sampler)),
            new Int32DataFrameColumn("seeds", arms.Select(a => a.Seeds)),
            new Int32DataFrameColumn("seeds_planned", arms.Select(a => a.Planned)),
            Numbers("test_accuracy_mean", a => a.Accuracy.Mean), Numbers("test_accuracy_sd", a => a.Accuracy.Sd),
            Numbers("test_nll_mean", a => a.Nll.Mean), Numbers("test_nll_sd", a => a.Nll.Sd),
            Numbers("test_ece_mean", a => a.Ece.Mean), Numbers("test_ece_sd", a => a.Ece.Sd),
            Numbers("test_brier_mean", a => a.Brier.Mean), Numbers("test_brier_sd", a => a.Brier.Sd),
            Numbers("target_accuracy", _ => targetAccuracy),
            new Int32DataFrameColumn("target_reached_seeds", arms.Select(a => a.Reached)),
            Numbers("epochs_to_target", a => a.EpochsToTarget.Mean),
            Numbers("grad_evals_to_target", a => a.GradEvalsToTarget.Mean),
            Numbers("seconds_to_target", a => a.SecondsToTarget.Mean),
            Numbers("rhat_raw", a => a.MedianRhat("raw").Mean),
            Numbers("rhat_canonical", a => a.MedianRhat("canonical").Mean),
            Numbers("rhat_function", a => a.MedianRhat("function").Mean),
            Numbers("ess_bulk_per_1k_grad_evals", a => a.EssPer1kGradEvals.Mean),
            new Int32DataFrameColumn("diverged_chains", arms.Select(a => a.DivergedChains)),
            Numbers("wall_seconds", a => a.WallSeconds.Mean),
        };
        return new DataFrame(columns);
    }

    /// <summary>
    /// Writes the table as CSV: invariant culture, numbers in their shortest round-trip form (DataFrame.SaveCsv writes
    /// 17 significant digits, 0.059999999999999998 for 0.06), an empty field for a missing value, RFC 4180 quoting.
    /// </summary>
    public static void SaveCsv(DataFrame table, string path)
    {
        static string Field(object? value) => value switch
        {
            null => "",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => Quote(value.ToString() ?? ""),
        };
        static string Quote(string text) => text.IndexOfAny([',', '"', '\n', '\r']) < 0 ? text : $"\"{text.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
        var s = new StringBuilder();
        s.AppendLine(string.Join(',', table.Columns.Select(c => Quote(c.Name))));
        foreach (var row in table.Rows) s.AppendLine(string.Join(',', row.Select(Field)));
        AtomicFile.WriteAllText(path, s.ToString());
    }

    /// <summary>The table in Markdown: one row per arm, mean ± sd over seeds, "—" where a number does not exist.</summary>
    public static string ToMarkdown(DataFrame table)
    {
        var inv = CultureInfo.InvariantCulture;
        double? Cell(string column, long row) => (double?)table.Columns[column][row];
        int Count(string column, long row) => (int)table.Columns[column][row]!;
        string Text(string column, long row) => (string)table.Columns[column][row]!;
        string MeanSd(string name, long row, string format)
        {
            if (Cell($"{name}_mean", row) is not { } mean) return "—";
            return Cell($"{name}_sd", row) is { } sd ? $"{mean.ToString(format, inv)} ± {sd.ToString(format, inv)}" : mean.ToString(format, inv);
        }
        string Value(string column, long row, string format) => Cell(column, row) is { } v ? Format(v, format) : "—";
        string ToTarget(string column, long row, string format)
        {
            int reached = Count("target_reached_seeds", row), seeds = Count("seeds", row);
            return Cell(column, row) is { } v ? $"{Format(v, format)} ({reached}/{seeds})" : $"not reached (0/{seeds})";
        }

        var s = new StringBuilder();
        s.AppendLine("| model | variant | sampler | seeds | test accuracy | test NLL | test ECE | test Brier | epochs to target | grad evals to target | seconds to target | R̂ raw | R̂ canonical | R̂ function | ESS / 1k grad evals | diverged chains | wall s |");
        s.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (long r = 0; r < table.Rows.Count; r++)
        {
            string seeds = Count("seeds", r) == Count("seeds_planned", r) ? $"{Count("seeds", r)}" : $"{Count("seeds", r)} of {Count("seeds_planned", r)}";
            s.AppendLine(string.Join(" | ", new[]
            {
                $"| {Text("model", r)}", Text("variant", r), Text("sampler", r), seeds,
                MeanSd("test_accuracy", r, "F4"), MeanSd("test_nll", r, "F4"), MeanSd("test_ece", r, "F4"), MeanSd("test_brier", r, "F4"),
                ToTarget("epochs_to_target", r, "F2"), ToTarget("grad_evals_to_target", r, "F0"), ToTarget("seconds_to_target", r, Significant),
                Value("rhat_raw", r, "F3"), Value("rhat_canonical", r, "F3"), Value("rhat_function", r, "F3"),
                Value("ess_bulk_per_1k_grad_evals", r, Significant), $"{Count("diverged_chains", r)}", Value("wall_seconds", r, Significant),
            }) + " |");
        }
        return s.ToString();
    }

    /// <summary>Format name for three significant digits without an exponent (0.0447, 6.39, 54.7, 1235).</summary>
    private const string Significant = "significant";

    private static string Format(double value, string format)
    {
        if (format != Significant) return value.ToString(format, CultureInfo.InvariantCulture);
        double magnitude = Math.Abs(value);
        int decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : magnitude == 0 ? 0 : Math.Min(8, 2 - (int)Math.Floor(Math.Log10(magnitude)));
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>What the columns mean, under the table in summary.md and report.md.</summary>
    public static string Legend(double targetAccuracy) => string.Create(CultureInfo.InvariantCulture, $"""
        Mean ± sd over the seeds that finished (sd needs two). Test metrics are those of the final running BMA of each
        chain (eval.parquet's last `bma_*` test row), averaged over the run's chains that did not diverge. Time to target:
        the first evaluation at which the run's chain-averaged BMA test accuracy is at least {(double.IsFinite(targetAccuracy) ? targetAccuracy : "the target (none set in the study config)")}, averaged over
        the seeds that reached it (how many, in brackets); gradient evaluations are per chain. R̂: the median over the run's
        variables of rank-normalised split R̂ (function space: the median over test points), then the mean over seeds;
        ESS: the median over raw parameters of bulk-ESS per 1,000 gradient evaluations (all chains), then the mean over
        seeds. "—": no such number (canonical R̂ exists only for standard networks). Wall s: the mean run time.

        """);
}
