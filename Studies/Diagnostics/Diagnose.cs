using System.Globalization;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Diagnostics;

/// <summary>Options of <see cref="Diagnose"/>: what to read, where to write, which parameter space.</summary>
/// <param name="Path">A run folder, or a Parquet or CSV file with chain and draw columns.</param>
/// <param name="Out">The diagnostics table; default <c>diagnostics.parquet</c> in the run folder, or <c>{file}.diagnostics.parquet</c> next to a file.</param>
/// <param name="Space">Parameter space of the draws; only "raw" so far (canonicalised and function space come with weight matching and predictive metrics).</param>
/// <param name="RunFinishing">Set by a run diagnosing itself as it finishes: its tables are complete although its
/// manifest says <c>running</c> until the diagnostics are written.</param>
public sealed record DiagnoseOptions(string Path, string? Out = null, string Space = "all", bool RunFinishing = false);

/// <summary>What <see cref="Diagnose.Execute"/> produced.</summary>
public sealed record DiagnoseResult(string Table, IReadOnlyList<DiagnosticsResult> Variables, string? Unfinished);

/// <summary>
/// The `diagnose` study: R̂, bulk/tail ESS and MCSE of every variable of a set of draws, one variable at a time,
/// printed as a table and written as <c>diagnostics.parquet</c>. METHODS: Diagnostics.
/// </summary>
public static class Diagnose
{
    public const string TableName = "diagnostics.parquet";
    /// <summary>
    /// The three views of METHODS (Diagnostics): raw tracked parameters; the same parameters after each draw of a
    /// standard network was aligned to a reference by weight matching (canonical.parquet); and function space — per test
    /// point the probability of the true class (function.parquet), summarised by the median and 90th percentile over
    /// points. "all" takes every view a run folder has.
    /// </summary>
    public static readonly IReadOnlyList<string> Spaces = ["all", "raw", "canonical", "function"];

    public static readonly IReadOnlyList<TableColumn> Columns =
    [
        new("variable", ColumnType.String), new("space", ColumnType.String),
        new("rhat", ColumnType.Double), new("rhat_classic", ColumnType.Double), new("rhat_within", ColumnType.Double),
        new("ess_bulk", ColumnType.Double), new("ess_tail", ColumnType.Double), new("mcse_mean", ColumnType.Double),
        new("flag", ColumnType.String), new("ess_bulk_per_1k_grad_evals", ColumnType.Double),
    ];

    public static DiagnoseResult Execute(DiagnoseOptions options, TextWriter output)
    {
        if (!Spaces.Contains(options.Space))
            throw new OptionException($"--space must be one of {string.Join(", ", Spaces)}, got '{options.Space}'");
        var source = DrawsSource.Open(options.Path, DrawsSource.DrawsTable, options.RunFinishing);
        bool folder = source.RunFolder is not null;
        if (!folder && options.Space is "canonical" or "function")
            throw new OptionException($"--space {options.Space} needs a Workbench run folder (it reads its {(options.Space == "canonical" ? "canonical" : "function")}.parquet); a plain file has raw draws only");
        string table = Path.GetFullPath(options.Out ?? (source.RunFolder is { } runFolder
            ? Path.Combine(runFolder, TableName)
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source.Path))!, Path.GetFileNameWithoutExtension(source.Path) + "." + TableName)));
        if (Path.GetFullPath(source.Path) == table) throw new OptionException($"--out '{options.Out}' is the input itself; choose another file");

        if (source.Unfinished is { } unfinished) output.WriteLine($"warning: {source.Path}: {unfinished}");
        if (source.Excluded is { } excluded) output.WriteLine($"note: {source.Path}: {excluded}");
        output.WriteLine($"{source.Path}: {source.ChainIds.Count} chain(s), {source.Variables.Count} variable(s)");
        output.WriteLine($"{"variable",-32} {"space",-9} {"R̂",8} {"bulk-ESS",9} {"tail-ESS",9} {"MCSE",10}  flag");
        var rows = new List<(DiagnosticsResult Result, string Space)>();
        if (options.Space is "all" or "raw")
        {
            foreach (var r in PerVariable(source)) rows.Add((Print(r, "raw", output), "raw"));
            if (folder) DrawOverTime(source);
        }
        if (folder && options.Space is "all" or "canonical")
        {
            if (Exists(source.RunFolder!, "canonical.parquet"))
                foreach (var r in PerVariable(DrawsSource.Open(source.RunFolder!, "canonical.parquet", options.RunFinishing))) rows.Add((Print(r, "canonical", output), "canonical"));
            else if (options.Space == "canonical")
                throw new OptionException($"{source.RunFolder} has no canonical.parquet (only standard networks have a canonical view; W-Asym and σ-Asym networks have no permutation symmetry to remove)");
        }
        if (folder && options.Space is "all" or "function")
        {
            if (Exists(source.RunFolder!, "function.parquet"))
                foreach (var r in FunctionSummary(DrawsSource.Open(source.RunFolder!, "function.parquet", options.RunFinishing))) rows.Add((Print(r, "function", output), "function"));
            else if (options.Space == "function")
                throw new OptionException($"{source.RunFolder} has no function.parquet (the run was made with --function-points 0)");
        }
        Write(table, rows, source.RunFolder is { } run ? GradientEvaluations(run) : double.NaN);
        output.WriteLine($"wrote {table}");
        return new DiagnoseResult(table, rows.Select(r => r.Result).ToList(), source.Unfinished);
    }

    /// <summary>
    /// R̂ and bulk-ESS over the course of a run: recomputed on the first n draws of every chain for ten growing n,
    /// summarised over the tracked parameters (R̂: median and max; ESS: median and min). Written as
    /// rhat-over-draws and ess-over-draws (PNG + SVG) into the run folder.
    /// </summary>
    private static void DrawOverTime(DrawsSource source)
    {
        var variables = source.Variables.Select(v => source.Read(v)).ToList();
        if (variables.Count == 0) return;
        int length = variables[0].Min(c => c.Length);
        if (length < 8) return;
        var steps = Enumerable.Range(1, 10).Select(i => Math.Max(8, length * i / 10)).Distinct().ToArray();
        var rhat = new List<double[]>();
        var ess = new List<double[]>();
        foreach (int n in steps)
        {
            var prefix = variables.Select(chains => ConvergenceDiagnostics.Of("", chains.Select(c => c[..n]).ToArray())).ToList();
            rhat.Add(prefix.Select(r => r.Rhat).Where(double.IsFinite).ToArray());
            ess.Add(prefix.Select(r => r.EssBulk).Where(double.IsFinite).ToArray());
        }
        double[] x = steps.Select(n => (double)n).ToArray();
        if (rhat.Any(v => v.Length == 0) || ess.Any(v => v.Length == 0)) return; // nothing finite to draw (constant or non-finite draws)
        static double Pick(double[] values, Func<double[], double> f) => values.Length == 0 ? double.NaN : f(values);
        new Figures.LineFigure("R̂ over the course of the run (tracked parameters)", "draws per chain", "rank-normalised split R̂")
            .Add("max over parameters", x, rhat.Select(v => Pick(v, a => a.Max())).ToArray())
            .Add("median over parameters", x, rhat.Select(v => Pick(v, a => Chains.Quantile([a], 0.5))).ToArray())
            .Add("threshold 1.01", x, x.Select(_ => DiagnosticsResult.RhatThreshold).ToArray())
            .Save(Path.Combine(source.RunFolder!, "rhat-over-draws"));
        new Figures.LineFigure("Bulk-ESS over the course of the run (tracked parameters, all chains)", "draws per chain", "bulk effective sample size")
            .Add("min over parameters", x, ess.Select(v => Pick(v, a => a.Min())).ToArray())
            .Add("median over parameters", x, ess.Select(v => Pick(v, a => Chains.Quantile([a], 0.5))).ToArray())
            .Save(Path.Combine(source.RunFolder!, "ess-over-draws"));
    }

    private static bool Exists(string folder, string table) =>
        File.Exists(Path.Combine(folder, table)) || Directory.Exists(Path.Combine(folder, table) + ParquetTableWriter.PartsSuffix);

    private static IEnumerable<DiagnosticsResult> PerVariable(DrawsSource source)
    {
        foreach (var variable in source.Variables)
        {
            var r = ConvergenceDiagnostics.Of(variable, source.Read(variable));
            yield return source.Unfinished is null ? r : r with { Flag = r.Flag.Length == 0 ? "run unfinished" : $"run unfinished; {r.Flag}" };
        }
    }

    /// <summary>Function space: diagnostics per test point, summarised as the median and the 90th percentile over points.</summary>
    private static IEnumerable<DiagnosticsResult> FunctionSummary(DrawsSource source)
    {
        var perPoint = PerVariable(source).ToList();
        int above = perPoint.Count(r => r.Rhat > DiagnosticsResult.RhatThreshold);
        string flag = string.Join("; ", new[]
        {
            source.Unfinished is null ? "" : "run unfinished",
            $"{above} of {perPoint.Count} points with R̂ > {DiagnosticsResult.RhatThreshold}",
        }.Where(f => f.Length > 0));
        foreach (var (name, q) in new[] { ("median", 0.5), ("q90", 0.9) })
        {
            double Summary(Func<DiagnosticsResult, double> pick)
            {
                var values = perPoint.Select(pick).Where(double.IsFinite).ToArray();
                // ESS and MCSE: the 90th percentile of R̂ pairs with the 10th percentile of ESS (the worse end).
                return values.Length == 0 ? double.NaN : Chains.Quantile([values], q);
            }
            double WorseEss(Func<DiagnosticsResult, double> pick)
            {
                var values = perPoint.Select(pick).Where(double.IsFinite).ToArray();
                return values.Length == 0 ? double.NaN : Chains.Quantile([values], 1 - q);
            }
            yield return new DiagnosticsResult($"p_true[{name} over {perPoint.Count} points]", Summary(r => r.Rhat), Summary(r => r.RhatClassic),
                Summary(r => r.RhatWithin), WorseEss(r => r.EssBulk), WorseEss(r => r.EssTail), Summary(r => r.McseMean), flag);
        }
    }

    private static DiagnosticsResult Print(DiagnosticsResult r, string space, TextWriter output)
    {
        string note = string.Join("; ", new[] { r.Flag, r.Rhat > DiagnosticsResult.RhatThreshold ? "R̂ > 1.01" : "" }.Where(s => s.Length > 0));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Variable,-32} {space,-9} {r.Rhat,8:F4} {r.EssBulk,9:F0} {r.EssTail,9:F0} {r.McseMean,10:G4}  {note}"));
        return r;
    }

    /// <summary>The cost ledger's total: gradient evaluations summed over chains (stats.parquet), NaN when unknown.</summary>
    private static double GradientEvaluations(string runFolder)
    {
        string stats = Path.Combine(runFolder, "stats.parquet");
        if (!File.Exists(stats)) return double.NaN;
        var table = ParquetTable.Read(stats);
        if (!table.Columns.Contains("grad_evals")) return double.NaN;
        var chain = table.Column<int>("chain");
        var evals = table.Column<long>("grad_evals");
        return Enumerable.Range(0, chain.Length).GroupBy(r => chain[r]).Sum(g => (double)g.Max(r => evals[r]));
    }

    private static void Write(string table, IReadOnlyList<(DiagnosticsResult Result, string Space)> results, double gradientEvaluations)
    {
        // A diagnostics table is derived data: a second diagnose of the same draws replaces it.
        if (File.Exists(table)) File.Delete(table);
        if (Directory.Exists(table + ParquetTableWriter.PartsSuffix)) Directory.Delete(table + ParquetTableWriter.PartsSuffix, recursive: true);
        Directory.CreateDirectory(Path.GetDirectoryName(table)!);
        using var writer = new ParquetTableWriter(table, Columns, new ParquetTableWriterOptions { FlushEvery = Math.Max(1, results.Count) });
        foreach (var (r, space) in results)
            writer.Append(r.Variable, space, r.Rhat, r.RhatClassic, r.RhatWithin, r.EssBulk, r.EssTail, r.McseMean, r.Flag,
                1000 * r.EssBulk / gradientEvaluations);
        writer.Complete();
    }
}
