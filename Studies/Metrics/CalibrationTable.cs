using Workbench.Studies.Storage;

namespace Workbench.Studies.Metrics;

/// <summary>
/// calibration.parquet: the bin table of a run's final test-split Bayesian model average, per chain and pooled over
/// chains (<c>chain</c> = −1), so reliability diagrams can be redrawn without the model.
/// </summary>
public static class CalibrationTable
{
    public const string FileName = "calibration.parquet";
    public const int Pooled = -1;

    public static readonly IReadOnlyList<TableColumn> Columns =
    [
        TableColumn.Int("chain"), TableColumn.String("split"), TableColumn.Int("bin"), TableColumn.Double("lower"),
        TableColumn.Double("upper"), TableColumn.Long("count"), TableColumn.Double("accuracy"), TableColumn.Double("confidence"),
        TableColumn.Double("ece"), TableColumn.Double("mce"),
    ];

    /// <summary>Writes the table; returns its row count.</summary>
    public static long Write(string path, IEnumerable<(int Chain, CalibrationResult Result)> results, string split = "test")
    {
        using var writer = new ParquetTableWriter(path, Columns);
        foreach (var (chain, result) in results)
            for (int b = 0; b < result.Bins.Count; b++)
            {
                var bin = result.Bins[b];
                writer.Append(chain, split, b, bin.Lower, bin.Upper, bin.Count, bin.Accuracy, bin.Confidence, result.Ece, result.Mce);
            }
        return writer.Complete();
    }

    /// <summary>Reads one chain's result (default: pooled) back from a run's table.</summary>
    public static CalibrationResult Read(string path, int chain = Pooled, string split = "test")
    {
        var table = ParquetTable.Read(path);
        var chains = table.Column<int>("chain");
        var splits = table.Column<string>("split");
        var rows = Enumerable.Range(0, chains.Length).Where(r => chains[r] == chain && splits[r] == split)
            .OrderBy(r => table.Column<int>("bin")[r]).ToArray();
        if (rows.Length == 0) throw new InvalidDataException($"{path}: no calibration rows for chain {chain}, split '{split}'");
        var bins = rows.Select(r => new CalibrationBin(table.Column<double>("lower")[r], table.Column<double>("upper")[r],
            table.Column<long>("count")[r], table.Column<double>("accuracy")[r], table.Column<double>("confidence")[r])).ToList();
        return new CalibrationResult(table.Column<double>("ece")[rows[0]], table.Column<double>("mce")[rows[0]], bins);
    }
}
