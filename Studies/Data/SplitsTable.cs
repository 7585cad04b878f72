using Workbench.Studies.Storage;

namespace Workbench.Studies.Data;

/// <summary>
/// splits.parquet: which rows of the data a run used, so an outside tool can recompute a posterior (or anything else)
/// on exactly the rows sampled. One row per example: <c>split</c> (train, val or test) and <c>row</c>, its 0-based
/// index in the file it was read from (<see cref="Dataset"/>: train and val rows index the training file(s), test
/// rows the test file or --test-data), in the order the run holds them. Every run folder has one.
/// </summary>
public static class SplitsTable
{
    public const string FileName = "splits.parquet";
    public static readonly IReadOnlyList<string> Splits = ["train", "val", "test"];

    /// <summary>Writes <see cref="FileName"/> into <paramref name="folder"/> (replacing one a resumed run wrote before);
    /// returns its row count.</summary>
    /// <param name="trainedRows">How many of the training rows the run trained on (the first ones; null: all).</param>
    public static long Write(string folder, Dataset data, long? trainedRows = null)
    {
        string path = Path.Combine(folder, FileName);
        if (File.Exists(path)) File.Delete(path);
        using var writer = new ParquetTableWriter(path, [TableColumn.String("split"), TableColumn.Long("row")],
            new ParquetTableWriterOptions { FlushEvery = 1 << 20 });
        var train = trainedRows is { } n && n < data.TrainRows.Length ? data.TrainRows[..(int)n] : data.TrainRows;
        foreach (var (split, rows) in new[] { ("train", train), ("val", data.ValRows), ("test", data.TestRows) })
            foreach (long row in rows) writer.Append(split, row);
        return writer.Complete();
    }

    /// <summary>The rows of each split, in table order (splits without rows are absent).</summary>
    public static IReadOnlyDictionary<string, long[]> Read(string path)
    {
        var table = ParquetTable.Read(path);
        var split = table.Column<string>("split");
        var row = table.Column<long>("row");
        return Enumerable.Range(0, split.Length).GroupBy(i => split[i])
            .ToDictionary(g => g.Key, g => g.Select(i => row[i]).ToArray());
    }
}
