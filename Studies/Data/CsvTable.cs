using System.Globalization;
using System.Text;

namespace Workbench.Studies.Data;

/// <summary>
/// A numeric CSV file: a header row, then one row per sample, comma-separated, numbers in invariant culture
/// ("1.5", "-2e-3"). Fields may be double-quoted (a quote inside written ""); a quoted field cannot span lines.
/// Blank lines are skipped. Written by hand rather than with Microsoft.Data.Analysis so that every problem is
/// reported with its line and column.
/// </summary>
internal static class CsvTable
{
    public static Dataset Load(string path, DataOptions options)
    {
        var (header, rows) = Read(path);
        if (options.Target is null)
        {
            throw new DataFormatException(path, $"CSV data needs a target column: pass --target with one of: {string.Join(", ", header)}");
        }
        int target = Array.IndexOf(header, options.Target);
        if (target < 0)
        {
            throw new DataFormatException(path, $"has no column named '{options.Target}' for --target (columns: {string.Join(", ", header)})");
        }
        if (header.Length < 2) throw new DataFormatException(path, $"has no feature columns besides the target '{options.Target}'");
        bool split = options.TestData is null && options.TestFraction > 0;
        if (split && rows.Count < 2)
        {
            throw new DataFormatException(path, $"needs at least 2 data rows to split into train and test, found {rows.Count}");
        }

        string[] featureNames = [.. header.Where((_, c) => c != target)];
        int d = featureNames.Length;
        int numClasses = options.Task == TaskKind.Classification ? CheckClasses(path, header[target], target, rows) : 0;
        var provenance = new Dictionary<string, string>
        {
            [$"sha256:{Path.GetFileName(path)}"] = Sha256Of(path),
            ["csv.target"] = header[target],
            ["csv.features"] = string.Join(", ", featureNames),
            ["normalisation"] = "none (CSV features used as given)",
        };

        int n = rows.Count;
        Dataset.Split train, test;
        if (options.TestData is { } testPath)
        {
            // A separate test file: every row of --data trains, every row of the test file tests.
            var (testHeader, testRows) = Read(testPath);
            if (!testHeader.SequenceEqual(header))
                throw new DataFormatException(testPath, $"--test-data must have the columns of {path} in the same order ({string.Join(", ", header)}); it has {string.Join(", ", testHeader)}");
            if (options.Task == TaskKind.Classification) CheckTestClasses(testPath, header[target], target, testRows, numClasses);
            train = ToSplit(rows, Enumerable.Range(0, n).ToArray(), target, d, options.Task);
            test = ToSplit(testRows, Enumerable.Range(0, testRows.Count).ToArray(), target, d, options.Task);
            provenance[$"sha256:test:{Path.GetFileName(testPath)}"] = Sha256Of(testPath);
            provenance["csv.test_data"] = Path.GetFileName(testPath);
            provenance["split"] = $"--test-data: all {n} rows of {Path.GetFileName(path)} train, all {testRows.Count} rows of {Path.GetFileName(testPath)} test";
        }
        else if (!split)
        {
            // --test-fraction 0: every row trains; there is no test split.
            train = ToSplit(rows, Enumerable.Range(0, n).ToArray(), target, d, options.Task);
            test = ToSplit(rows, [], target, d, options.Task);
            provenance["split"] = $"test fraction 0: all {n} rows train, no test split (evaluation on the training rows only)";
        }
        else
        {
            // Seeded shuffle, then the first round(n * TestFraction) rows (at least one, at most n-1) are the test set.
            int testCount = Math.Clamp((int)Math.Round(n * options.TestFraction, MidpointRounding.AwayFromZero), 1, n - 1);
            int[] order = new SplitMix64(unchecked((ulong)options.SplitSeed)).Permutation(n);
            test = ToSplit(rows, order.AsSpan(0, testCount), target, d, options.Task);
            train = ToSplit(rows, order.AsSpan(testCount), target, d, options.Task);
            provenance["split"] = $"seeded shuffle of {n} rows (SplitMix64 Fisher-Yates, seed {options.SplitSeed}), "
                + $"test fraction {options.TestFraction.ToString(CultureInfo.InvariantCulture)}: {n - testCount} train, {testCount} test";
        }
        return new Dataset(path, "csv", options.Task, [d], numClasses, featureNames, train, test, provenance);
    }

    /// <summary>One parsed data row with the line it came from (1-based, header is line 1 unless blank lines precede it).</summary>
    private sealed record Row(int Line, double[] Values);

    private static (string[] Header, List<Row> Rows) Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, $"cannot be read ({e.Message})", e);
        }

        int lineNo = 0;
        string[]? header = null;
        var rows = new List<Row>();
        foreach (string line in lines)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = SplitFields(path, line, lineNo);
            if (header is null)
            {
                header = CheckedHeader(path, fields, lineNo);
                continue;
            }
            if (fields.Count != header.Length)
            {
                throw new DataFormatException(path, $"line {lineNo} has {fields.Count} fields but the header has {header.Length} (ragged row)");
            }
            var values = new double[fields.Count];
            for (int c = 0; c < fields.Count; c++) values[c] = ParseCell(path, fields[c], lineNo, header[c]);
            rows.Add(new Row(lineNo, values));
        }
        if (header is null) throw new DataFormatException(path, "empty file");
        if (rows.Count == 0) throw new DataFormatException(path, "has a header but no data rows");
        return (header, rows);
    }

    private static string[] CheckedHeader(string path, List<string> fields, int lineNo)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int c = 0; c < fields.Count; c++)
        {
            if (fields[c].Length == 0) throw new DataFormatException(path, $"header (line {lineNo}) column {c + 1} has no name");
            if (!seen.Add(fields[c])) throw new DataFormatException(path, $"header (line {lineNo}) names column '{fields[c]}' twice");
        }
        return [.. fields];
    }

    private static double ParseCell(string path, string cell, int lineNo, string column)
    {
        if (cell.Length == 0) throw new DataFormatException(path, $"line {lineNo}, column '{column}': empty cell");
        if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || double.IsNaN(value))
        {
            throw new DataFormatException(path, $"line {lineNo}, column '{column}': '{cell}' is not a number");
        }
        if (!float.IsFinite((float)value))
        {
            throw new DataFormatException(path, $"line {lineNo}, column '{column}': '{cell}' is outside the float32 range");
        }
        return value;
    }

    private static List<string> SplitFields(string path, string line, int lineNo)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            while (i < line.Length && line[i] == ' ') i++;
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new DataFormatException(path, $"line {lineNo}: a quoted field is not closed");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                while (i < line.Length && line[i] != ',') i++;
            }
            else
            {
                while (i < line.Length && line[i] != ',') field.Append(line[i++]);
            }
            fields.Add(field.ToString().Trim());
            if (i >= line.Length) return fields;
            i++; // the comma
        }
    }

    /// <summary>Classification targets must be the integers 0..C-1, each present at least once; returns C.</summary>
    private static int CheckClasses(string path, string column, int target, List<Row> rows)
    {
        int max = -1;
        foreach (var row in rows)
        {
            double y = row.Values[target];
            if (y < 0 || y != Math.Floor(y) || y > 100_000)
            {
                throw new DataFormatException(path,
                    $"line {row.Line}, column '{column}': class label {y.ToString(CultureInfo.InvariantCulture)} is not an integer 0..C-1 (use --task regression for real-valued targets)");
            }
            max = Math.Max(max, (int)y);
        }
        int classes = max + 1;
        if (classes < 2) throw new DataFormatException(path, $"column '{column}' holds only class 0; classification needs at least two classes");
        var seen = new bool[classes];
        foreach (var row in rows) seen[(int)row.Values[target]] = true;
        int absent = Array.IndexOf(seen, false);
        if (absent >= 0)
        {
            throw new DataFormatException(path,
                $"column '{column}': class labels must be 0..C-1 with every class present, but class {absent} has no rows (largest label {max})");
        }
        return classes;
    }

    /// <summary>A --test-data file's labels: integers in the training file's classes 0..C−1 (not every class need occur).</summary>
    private static void CheckTestClasses(string path, string column, int target, List<Row> rows, int classes)
    {
        foreach (var row in rows)
        {
            double y = row.Values[target];
            if (y < 0 || y != Math.Floor(y) || y >= classes)
                throw new DataFormatException(path,
                    $"line {row.Line}, column '{column}': class label {y.ToString(CultureInfo.InvariantCulture)} is not one of the training data's classes 0..{classes - 1}");
        }
    }

    private static Dataset.Split ToSplit(List<Row> rows, ReadOnlySpan<int> indices, int target, int d, TaskKind task)
    {
        var features = new float[indices.Length * d];
        var classes = task == TaskKind.Classification ? new long[indices.Length] : null;
        var values = task == TaskKind.Regression ? new float[indices.Length] : null;
        for (int k = 0; k < indices.Length; k++)
        {
            double[] row = rows[indices[k]].Values;
            for (int c = 0, f = 0; c < row.Length; c++)
            {
                if (c == target) continue;
                features[k * d + f++] = (float)row[c];
            }
            if (classes is not null) classes[k] = (long)row[target];
            if (values is not null) values[k] = (float)row[target];
        }
        var rowNumbers = new long[indices.Length];
        for (int k = 0; k < indices.Length; k++) rowNumbers[k] = indices[k];
        return new Dataset.Split(features, [indices.Length, d], classes, values, rowNumbers);
    }

    private static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }
}
