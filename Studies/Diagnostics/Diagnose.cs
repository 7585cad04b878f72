using System.Globalization;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Diagnostics;

/// <summary>Options of <see cref="Diagnose"/>: what to read, where to write, which parameter space.</summary>
/// <param name="Path">A run folder, or a Parquet or CSV file with chain and draw columns.</param>
/// <param name="Out">The diagnostics table; default <c>diagnostics.parquet</c> in the run folder, or <c>{file}.diagnostics.parquet</c> next to a file.</param>
/// <param name="Space">Parameter space of the draws; only "raw" so far (canonicalised and function space come with weight matching and predictive metrics).</param>
public sealed record DiagnoseOptions(string Path, string? Out = null, string Space = "raw");

/// <summary>What <see cref="Diagnose.Execute"/> produced.</summary>
public sealed record DiagnoseResult(string Table, IReadOnlyList<DiagnosticsResult> Variables, string? Unfinished);

/// <summary>
/// The `diagnose` study: R̂, bulk/tail ESS and MCSE of every variable of a set of draws, one variable at a time,
/// printed as a table and written as <c>diagnostics.parquet</c>. METHODS: Diagnostics.
/// </summary>
public static class Diagnose
{
    public const string TableName = "diagnostics.parquet";
    public static readonly IReadOnlyList<string> Spaces = ["raw"];

    public static readonly IReadOnlyList<TableColumn> Columns =
    [
        new("variable", ColumnType.String), new("space", ColumnType.String),
        new("rhat", ColumnType.Double), new("rhat_classic", ColumnType.Double), new("rhat_within", ColumnType.Double),
        new("ess_bulk", ColumnType.Double), new("ess_tail", ColumnType.Double), new("mcse_mean", ColumnType.Double),
        new("flag", ColumnType.String),
    ];

    public static DiagnoseResult Execute(DiagnoseOptions options, TextWriter output)
    {
        if (!Spaces.Contains(options.Space))
            throw new OptionException($"--space must be {string.Join(" or ", Spaces)}, got '{options.Space}' (canonicalised and function-space diagnostics are not available yet)");
        var source = DrawsSource.Open(options.Path);
        string table = Path.GetFullPath(options.Out ?? (source.RunFolder is { } folder
            ? Path.Combine(folder, TableName)
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source.Path))!, Path.GetFileNameWithoutExtension(source.Path) + "." + TableName)));
        if (Path.GetFullPath(source.Path) == table) throw new OptionException($"--out '{options.Out}' is the input itself; choose another file");

        if (source.Unfinished is { } unfinished) output.WriteLine($"warning: {source.Path}: {unfinished}");
        output.WriteLine($"{source.Path}: {source.ChainIds.Count} chain(s), {source.Variables.Count} variable(s), space {options.Space}");
        output.WriteLine($"{"variable",-24} {"R̂",8} {"bulk-ESS",9} {"tail-ESS",9} {"MCSE",10}  flag");
        var results = new List<DiagnosticsResult>();
        foreach (var variable in source.Variables)
        {
            var r = ConvergenceDiagnostics.Of(variable, source.Read(variable));
            if (source.Unfinished is not null) r = r with { Flag = r.Flag.Length == 0 ? "run unfinished" : $"run unfinished; {r.Flag}" };
            results.Add(r);
            string note = string.Join("; ", new[] { r.Flag, r.Rhat > DiagnosticsResult.RhatThreshold ? "R̂ > 1.01" : "" }.Where(s => s.Length > 0));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{variable,-24} {r.Rhat,8:F4} {r.EssBulk,9:F0} {r.EssTail,9:F0} {r.McseMean,10:G4}  {note}"));
        }
        Write(table, results, options.Space);
        output.WriteLine($"wrote {table}");
        return new DiagnoseResult(table, results, source.Unfinished);
    }

    private static void Write(string table, IReadOnlyList<DiagnosticsResult> results, string space)
    {
        // A diagnostics table is derived data: a second diagnose of the same draws replaces it.
        if (File.Exists(table)) File.Delete(table);
        if (Directory.Exists(table + ParquetTableWriter.PartsSuffix)) Directory.Delete(table + ParquetTableWriter.PartsSuffix, recursive: true);
        Directory.CreateDirectory(Path.GetDirectoryName(table)!);
        using var writer = new ParquetTableWriter(table, Columns, new ParquetTableWriterOptions { FlushEvery = Math.Max(1, results.Count) });
        foreach (var r in results)
            writer.Append(r.Variable, space, r.Rhat, r.RhatClassic, r.RhatWithin, r.EssBulk, r.EssTail, r.McseMean, r.Flag);
        writer.Complete();
    }
}
