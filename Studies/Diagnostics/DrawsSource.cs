using System.Globalization;
using Parquet;
using Parquet.Schema;
using Workbench.Studies.Data;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Diagnostics;

/// <summary>
/// Draws in long form, one row per (chain, draw), read one variable at a time: a Workbench run folder's
/// <c>draws.parquet</c> (or its parts while the run is unfinished), or any Parquet or CSV file with <c>chain</c> and
/// <c>draw</c> columns. Every other numeric column except <c>iteration</c> is a variable. Variables are read in blocks
/// of columns, one pass over the file per block (a file read once per variable costs O(variables²) when each open
/// parses a footer that names every column: 20,000 tracked parameters took hours); a block holds at most
/// <see cref="BlockValues"/> values. Problems a user can fix throw <see cref="DataFormatException"/>.
/// </summary>
public sealed class DrawsSource
{
    public const string DrawsTable = "draws.parquet";
    private static readonly string[] IndexColumns = ["chain", "draw", "iteration"];

    /// <summary>The most values (rows × columns) one block of columns holds in memory: 8 Mi doubles, 64 MiB.</summary>
    public const long BlockValues = 8L << 20;

    private readonly Func<IReadOnlyList<string>, double[][]> _readColumns;
    private readonly Dictionary<string, double[]> _block = new();
    private readonly Dictionary<string, int> _variableIndex;
    private readonly int[] _chainOfRow;
    private readonly int[] _positionOfRow;
    private readonly int[] _chainLengths;

    private DrawsSource(string path, IReadOnlyList<string> variables, Func<IReadOnlyList<string>, double[][]> readColumns, string? unfinished,
        string? runFolder = null, IReadOnlyDictionary<double, long>? diverged = null)
    {
        Path = path;
        RunFolder = runFolder;
        Variables = variables;
        _variableIndex = variables.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i);
        _readColumns = readColumns;
        Unfinished = unfinished;
        var index = readColumns(["chain", "draw"]);
        var chain = index[0];
        var draw = index[1];
        // A chain the run stopped as diverged is left out whole: its last draws led up to the divergence, and its shorter
        // length would cut every other chain to it.
        var excluded = diverged is null ? [] : chain.Distinct().Where(diverged.ContainsKey).Order().ToArray();
        if (excluded.Length > 0)
            Excluded = $"chain(s) {string.Join(", ", excluded.Select(c => $"{c} (diverged at iteration {diverged![c]})"))} left out of the diagnostics";
        // Chains in ascending id order; within a chain, rows in ascending draw order.
        var ids = chain.Distinct().Where(c => !excluded.Contains(c)).Order().ToArray();
        var chainIndex = ids.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
        _chainOfRow = chain.Select(c => chainIndex.TryGetValue(c, out var i) ? i : -1).ToArray();
        _positionOfRow = new int[chain.Length];
        _chainLengths = new int[ids.Length];
        foreach (var group in Enumerable.Range(0, chain.Length).Where(r => _chainOfRow[r] >= 0).GroupBy(r => _chainOfRow[r]))
        {
            var rows = group.OrderBy(r => draw[r]).ToArray();
            for (int k = 0; k < rows.Length; k++)
            {
                if (k > 0 && draw[rows[k]] == draw[rows[k - 1]])
                    throw new DataFormatException(path, $"chain {ids[group.Key]} has draw {draw[rows[k]]} twice; each (chain, draw) must appear once");
                _positionOfRow[rows[k]] = k;
            }
            _chainLengths[group.Key] = rows.Length;
        }
        ChainIds = ids;
    }

    /// <summary>The file or folder the draws came from.</summary>
    public string Path { get; }
    public IReadOnlyList<string> Variables { get; }
    public IReadOnlyList<double> ChainIds { get; }
    /// <summary>Why the draws are incomplete (a run still running or stopped before it finished); null when not.</summary>
    public string? Unfinished { get; }
    /// <summary>Which chains were left out (diverged, as the run's manifest records); null when none.</summary>
    public string? Excluded { get; }
    /// <summary>A run folder's own place for its tables; null for a plain file.</summary>
    public string? RunFolder { get; }

    /// <summary>One variable's draws as <c>double[chain][draw]</c> (chains may differ in length).</summary>
    public double[][] Read(string variable)
    {
        if (!_block.TryGetValue(variable, out var values))
        {
            // The block of columns from this variable on, in table order (readers go through Variables in order).
            if (!_variableIndex.TryGetValue(variable, out int at)) throw new ArgumentException($"'{variable}' is not a variable of {Path}", nameof(variable));
            int width = (int)Math.Clamp(BlockValues / Math.Max(1, _chainOfRow.Length), 1, Variables.Count - at);
            var names = Variables.Skip(at).Take(width).ToArray();
            var columns = _readColumns(names);
            _block.Clear();
            for (int i = 0; i < names.Length; i++) _block[names[i]] = columns[i];
            values = columns[0];
        }
        var result = _chainLengths.Select(n => new double[n]).ToArray();
        for (int r = 0; r < values.Length; r++)
            if (_chainOfRow[r] >= 0) result[_chainOfRow[r]][_positionOfRow[r]] = values[r];
        return result;
    }

    /// <summary>Opens a run folder, a Parquet file (<c>.parquet</c>) or a CSV file (<c>.csv</c>).</summary>
    public static DrawsSource Open(string path) => Open(path, DrawsTable);

    /// <summary>Like <see cref="Open(string)"/>, reading table <paramref name="runTable"/> when the path is a run folder
    /// (draws.parquet, canonical.parquet or function.parquet).</summary>
    public static DrawsSource Open(string path, string runTable) => Open(path, runTable, runFinishing: false);

    /// <summary>Like <see cref="Open(string, string)"/>; <paramref name="runFinishing"/>: the run folder's own process is
    /// diagnosing it as it finishes (complete tables, manifest still <c>running</c>).</summary>
    public static DrawsSource Open(string path, string runTable, bool runFinishing)
    {
        if (Directory.Exists(path)) return OpenRunFolder(path, runTable, runFinishing);
        if (!File.Exists(path)) throw new DataFormatException(path, "does not exist; give a run folder or a Parquet or CSV file of draws");
        return System.IO.Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".parquet" => OpenParquet(path, path, unfinished: null),
            ".csv" => OpenCsv(path),
            _ => throw new DataFormatException(path, "is neither a run folder nor a .parquet or .csv file of draws"),
        };
    }

    private static DrawsSource OpenRunFolder(string folder, string runTable, bool runFinishing)
    {
        if (!File.Exists(System.IO.Path.Combine(folder, Manifest.FileName)))
            throw new DataFormatException(folder, $"is a folder without {Manifest.FileName}; give a Workbench run folder or a Parquet or CSV file of draws");
        string? status;
        var diverged = new Dictionary<double, long>();
        try
        {
            var manifest = Manifest.Load(folder);
            status = runFinishing ? RunStatus.Finished : manifest.Status;
            if (manifest.Get("divergences") is System.Text.Json.Nodes.JsonArray divergences)
                foreach (var d in divergences)
                    if (d?["chain"] is { } c && d["iteration"] is { } i) diverged[c.GetValue<int>()] = i.GetValue<long>();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new DataFormatException(folder, $"its manifest cannot be read ({e.Message})");
        }
        string table = System.IO.Path.Combine(folder, runTable);
        string parts = table + ParquetTableWriter.PartsSuffix;
        string? unfinished = null;
        if (!File.Exists(table))
        {
            if (!Directory.Exists(parts) || ParquetTableWriter.PartFiles(parts).Count == 0)
                throw new DataFormatException(folder, $"has no {runTable} (nor parts of one); the run recorded no draws yet");
            unfinished = status == RunStatus.Running
                ? (Storage.RunFolder.Condition(folder) == RunCondition.Interrupted
                    ? "run interrupted (its process is gone; 'workbench resume' continues it); diagnosing the draws written before it stopped"
                    : "run unfinished (still running); diagnosing the draws written so far")
                : $"run unfinished (status '{status}'); diagnosing the draws written before it stopped";
        }
        else if (status is not (RunStatus.Finished or RunStatus.FinishedWithDivergences))
        {
            unfinished = $"run unfinished (status '{status}')";
        }
        return OpenParquet(folder, File.Exists(table) ? table : parts, unfinished, diverged);
    }

    private static DrawsSource OpenParquet(string shownPath, string tablePath, string? unfinished, IReadOnlyDictionary<double, long>? diverged = null)
    {
        IReadOnlyList<string> files;
        try
        {
            files = File.Exists(tablePath) ? [tablePath] : ParquetTableWriter.PartFiles(tablePath);
        }
        catch (IOException e)
        {
            throw new DataFormatException(shownPath, e.Message);
        }
        IReadOnlyList<TableColumn> schema;
        try
        {
            schema = ParquetTable.ReadSchema(files[0]);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ParquetException)
        {
            throw new DataFormatException(shownPath, $"is not a readable Parquet table of draws ({e.Message})");
        }
        var names = CheckColumns(shownPath, schema.Select(c => c.Name).ToArray());
        if (schema.FirstOrDefault(c => c.Type == ColumnType.String) is { } text)
            throw new DataFormatException(shownPath, $"column '{text.Name}' holds text, not numbers; diagnose needs numeric columns only");

        double[][] ReadColumns(IReadOnlyList<string> block) =>
            ReadParquetColumns(shownPath, files, block.Select(name => schema.First(c => c.Name == name)).ToArray()).GetAwaiter().GetResult();
        return new DrawsSource(shownPath, names, ReadColumns, unfinished, Directory.Exists(shownPath) ? shownPath : null, diverged);
    }

    /// <summary>Columns of every file, widened to double, in one pass over the files, read as <see cref="ParquetTable"/>
    /// reads columns (nullable columns, as DuckDB, pandas and polars write them, when they hold no null; a null is named
    /// by its row).</summary>
    private static async Task<double[][]> ReadParquetColumns(string shownPath, IReadOnlyList<string> files, IReadOnlyList<TableColumn> columns)
    {
        var buffers = columns.Select(ColumnBuffer.For).ToArray();
        try
        {
            foreach (var file in files)
            {
                await using var reader = await ParquetReader.CreateAsync(file);
                var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name);
                var wanted = columns.Select(c => fields.TryGetValue(c.Name, out var f) ? f
                    : throw new DataFormatException(shownPath, $"part '{file}' has no column '{c.Name}'")).ToArray();
                for (int g = 0; g < reader.RowGroupCount; g++)
                {
                    using var rowGroup = reader.OpenRowGroupReader(g);
                    for (int c = 0; c < wanted.Length; c++)
                        await buffers[c].ReadAsync(rowGroup, wanted[c], checked((int)rowGroup.RowCount), CancellationToken.None);
                }
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(shownPath, $"{e.Message}; diagnose needs a value in every row");
        }
        return columns.Select((c, i) => ColumnBuffer.AsDoubles(buffers[i].ToArray(), c.Name)).ToArray();
    }

    private static DrawsSource OpenCsv(string path)
    {
        string[] header;
        try
        {
            header = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l))?.Split(',').Select(h => h.Trim().Trim('"')).ToArray()
                ?? throw new DataFormatException(path, "is empty; expected a header row with chain, draw and variable columns");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, $"cannot be read ({e.Message})");
        }
        var names = CheckColumns(path, header);
        // One pass over the file per block of columns keeps that block in memory, never the whole table.
        double[][] ReadColumns(IReadOnlyList<string> block)
        {
            var indices = block.Select(name => Array.IndexOf(header, name)).ToArray();
            var values = block.Select(_ => new List<double>()).ToArray();
            int lineNo = 0;
            bool headerSeen = false;
            foreach (var line in File.ReadLines(path))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                if (!headerSeen)
                {
                    headerSeen = true;
                    continue;
                }
                var fields = line.Split(',');
                if (fields.Length != header.Length)
                    throw new DataFormatException(path, $"line {lineNo} has {fields.Length} fields; the header has {header.Length}");
                for (int c = 0; c < indices.Length; c++)
                {
                    string cell = fields[indices[c]].Trim().Trim('"');
                    if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                        throw new DataFormatException(path, $"line {lineNo}, column '{block[c]}': '{cell}' is not a number; diagnose needs numeric columns only");
                    values[c].Add(v);
                }
            }
            return values.Select(v => v.ToArray()).ToArray();
        }
        return new DrawsSource(path, names, ReadColumns, unfinished: null);
    }

    /// <summary>The variable columns, after checking that chain and draw are there.</summary>
    private static string[] CheckColumns(string path, string[] columns)
    {
        foreach (var required in new[] { "chain", "draw" })
            if (!columns.Contains(required))
                throw new DataFormatException(path, $"has no '{required}' column (columns: {string.Join(", ", columns)}); draws need 'chain' and 'draw' columns, one row per draw");
        var variables = columns.Where(c => !IndexColumns.Contains(c)).ToArray();
        if (variables.Length == 0) throw new DataFormatException(path, "has no variable columns besides chain, draw and iteration");
        return variables;
    }
}
