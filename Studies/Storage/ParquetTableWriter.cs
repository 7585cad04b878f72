using Parquet;
using Parquet.Schema;
using Parquet.Utils;

namespace Workbench.Studies.Storage;

/// <summary>Options of a <see cref="ParquetTableWriter"/>.</summary>
public sealed record ParquetTableWriterOptions
{
    /// <summary>Rows buffered in memory before they are written as one closed part file.</summary>
    public int FlushEvery { get; init; } = 1000;

    /// <summary>Key/value metadata stored in every part and in the final file (next to <see cref="ParquetTable.SchemaVersionKey"/>).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Version of the table's layout, stored under <see cref="ParquetTable.SchemaVersionKey"/>.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>
    /// Continue an unfinished table: keep the part files an earlier writer left (same columns required) and number new
    /// parts after them. Without it, leftover parts are an error, so two writers never mix their rows silently.
    /// </summary>
    public bool ResumeExistingParts { get; init; }

    /// <summary>
    /// With <see cref="ResumeExistingParts"/>: a table already completed (its final file exists) is taken as it is, the
    /// writer starting out complete with the file's rows, instead of refused. For a run resumed after its sampling ended.
    /// </summary>
    public bool AcceptCompleted { get; init; }
}

/// <summary>
/// Streams rows into a Parquet table that survives a crash. Rows are buffered and every
/// <see cref="ParquetTableWriterOptions.FlushEvery"/> rows written as a closed, complete Parquet file
/// <c>{path}.parts/part-NNNNNN.parquet</c> (a writer that dies mid-file leaves no footer, so each block gets its own
/// file; a part becomes visible under its final name only once it is complete). <see cref="Complete"/> merges the
/// parts into the single file <c>{path}</c> (temp name + rename) and deletes the parts folder: the final file exists
/// only for a finished table. Disposing without <see cref="Complete"/> flushes the buffered rows as one more part and
/// leaves the parts for <see cref="ParquetTable.Read"/> or a resuming writer. Not thread-safe.
/// </summary>
public sealed class ParquetTableWriter : IDisposable, IAsyncDisposable
{
    public const string PartsSuffix = ".parts";
    private const string PartPrefix = "part-";

    private readonly ColumnBuffer[] _buffers;
    private readonly ParquetSchema _schema;
    private readonly Dictionary<string, string> _metadata;
    private int _nextPart;
    private bool _completed;
    private bool _disposed;

    public ParquetTableWriter(string path, IReadOnlyList<TableColumn> columns, ParquetTableWriterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(columns);
        options ??= new ParquetTableWriterOptions();
        if (columns.Count == 0) throw new ArgumentException("A table needs at least one column.", nameof(columns));
        var duplicate = columns.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Column '{duplicate.Key}' appears twice.", nameof(columns));
        if (columns.FirstOrDefault(c => string.IsNullOrWhiteSpace(c.Name) || c.Name.Contains('.')) is { } bad)
            throw new ArgumentException($"Column name '{bad.Name}' is empty or contains '.', which Parquet reads as a nested path.", nameof(columns));
        if (options.FlushEvery < 1) throw new ArgumentOutOfRangeException(nameof(options), options.FlushEvery, "FlushEvery must be at least 1.");

        Path = System.IO.Path.GetFullPath(path);
        PartsFolder = Path + PartsSuffix;
        Columns = columns.ToArray();
        FlushEvery = options.FlushEvery;
        _buffers = Columns.Select(ColumnBuffer.For).ToArray();
        _schema = new ParquetSchema(_buffers.Select(b => b.SchemaField).ToArray());
        _metadata = new Dictionary<string, string>(options.Metadata ?? new Dictionary<string, string>())
        {
            [ParquetTable.SchemaVersionKey] = options.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        if (File.Exists(Path))
        {
            if (!(options.ResumeExistingParts && options.AcceptCompleted))
                throw new IOException($"Table '{Path}' already exists; a finished table is never reopened for writing.");
            RowCount = ParquetTable.ReadRowCount(Path);
            _completed = true;
            return;
        }
        if (Directory.Exists(PartsFolder))
        {
            if (!options.ResumeExistingParts)
                throw new IOException($"'{PartsFolder}' holds parts of an unfinished table; resume it (ResumeExistingParts) or delete it.");
            ResumeFromParts();
        }
    }

    /// <summary>The final, absolute path of the table (exists only after <see cref="Complete"/>).</summary>
    public string Path { get; }
    /// <summary>The folder of closed part files, <c>{Path}.parts</c>.</summary>
    public string PartsFolder { get; }
    public IReadOnlyList<TableColumn> Columns { get; }
    public int FlushEvery { get; }
    /// <summary>Rows accepted so far (written parts, resumed parts and the buffer).</summary>
    public long RowCount { get; private set; }
    public int BufferedRowCount => _buffers[0].Count;
    /// <summary>Closed part files written so far (resumed ones included); parts are numbered 0 … PartCount − 1.</summary>
    public int PartCount => _nextPart;
    public bool IsCompleted => _completed;

    /// <summary>
    /// Appends one row, values in column order. Numeric values may be of a narrower type than the column
    /// (an int into a long or double column) but never lose information (a double into a float column is refused).
    /// A row that does not fit leaves the table unchanged.
    /// </summary>
    public void Append(params ReadOnlySpan<object?> values)
    {
        EnsureWritable();
        if (values.Length != _buffers.Length)
            throw new ArgumentException($"Table '{Name}' has {_buffers.Length} columns; got {values.Length} values.", nameof(values));
        for (var i = 0; i < _buffers.Length; i++) _buffers[i].Check(values[i]);
        for (var i = 0; i < _buffers.Length; i++) _buffers[i].Add(values[i]);
        RowCount++;
        if (BufferedRowCount >= FlushEvery) Flush();
    }

    /// <summary>
    /// Appends a block of rows given column by column, in column order; each array's element type is the column's
    /// (int[], long[], float[], double[], string[], float[][]) and all arrays have the same length.
    /// </summary>
    public void AppendBlock(IReadOnlyList<Array> columns)
    {
        EnsureWritable();
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count != _buffers.Length)
            throw new ArgumentException($"Table '{Name}' has {_buffers.Length} columns; got {columns.Count} arrays.", nameof(columns));
        var rows = columns[0].Length;
        for (var i = 0; i < columns.Count; i++)
        {
            if (columns[i].Length != rows)
                throw new ArgumentException($"Column '{Columns[i].Name}' has {columns[i].Length} values; '{Columns[0].Name}' has {rows}.", nameof(columns));
            if (columns[i].GetType().GetElementType() != Columns[i].ClrType || columns[i].Rank != 1)
                throw new ArgumentException(
                    $"Column '{Columns[i].Name}' holds {Columns[i].Type} values and needs a {Columns[i].ClrType.Name}[] block; got {columns[i].GetType().Name}.",
                    nameof(columns));
        }
        for (var i = 0; i < columns.Count; i++) _buffers[i].AddRange(columns[i]);
        RowCount += rows;
        if (BufferedRowCount >= FlushEvery) Flush();
    }

    /// <summary>Writes the buffered rows (if any) as one closed part file.</summary>
    public void Flush() => FlushAsync().GetAwaiter().GetResult();

    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        EnsureWritable();
        await WriteBufferAsPartAsync(cancellationToken);
    }

    /// <summary>
    /// Flushes, merges all parts into the single file <see cref="Path"/> and deletes the parts folder.
    /// Returns the table's row count. Calling it again does nothing.
    /// </summary>
    public long Complete() => CompleteAsync().GetAwaiter().GetResult();

    public async Task<long> CompleteAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) return RowCount;
        await WriteBufferAsPartAsync(cancellationToken);

        var folder = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(folder);
        // Same folder as the final file, so the rename below is atomic; a leading dot keeps it out of globs.
        var temp = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(Path)}.{Environment.ProcessId}.tmp");
        try
        {
            var parts = PartFiles(PartsFolder);
            await using (var output = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                if (parts.Count == 0)
                {
                    await using var writer = await ParquetWriter.CreateAsync(_schema, output, WriterOptions(), cancellationToken: cancellationToken);
                    writer.CustomMetadata = _metadata;
                }
                else
                {
                    // Copies the parts' row groups byte for byte (no decode/encode): one row group per part.
                    await using var merger = new FileMerger(parts.Select(p => new FileInfo(p)));
                    await merger.MergeFilesAsync(output, WriterOptions(), cancellationToken, _metadata);
                }
                output.Flush(flushToDisk: true);
            }
            File.Move(temp, Path, overwrite: false);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        if (Directory.Exists(PartsFolder)) Directory.Delete(PartsFolder, recursive: true);
        _completed = true;
        return RowCount;
    }

    /// <summary>Flushes buffered rows as a part; does not complete the table.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        try
        {
            if (!_completed) WriteBufferAsPartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        finally
        {
            _disposed = true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        try
        {
            if (!_completed) await WriteBufferAsPartAsync(CancellationToken.None);
        }
        finally
        {
            _disposed = true;
        }
    }

    /// <summary>The part files of a table in write order (complete files only; unfinished temp files are skipped).</summary>
    internal static IReadOnlyList<string> PartFiles(string partsFolder) =>
        Directory.Exists(partsFolder)
            ? Directory.GetFiles(partsFolder, PartPrefix + "*.parquet").Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>
    /// Cuts an unfinished table back to its first <paramref name="keepParts"/> parts (what a checkpoint recorded):
    /// later parts and unfinished temp files are deleted, so a resuming writer continues right after them.
    /// Returns the rows the kept parts hold. A missing parts folder is fine when no part is to be kept.
    /// </summary>
    public static long TruncateParts(string path, int keepParts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keepParts);
        var partsFolder = System.IO.Path.GetFullPath(path) + PartsSuffix;
        if (!Directory.Exists(partsFolder))
        {
            if (keepParts > 0) throw new IOException($"'{partsFolder}' is missing; the checkpoint recorded {keepParts} part(s) there");
            return 0;
        }
        foreach (var temp in Directory.GetFiles(partsFolder, "*.tmp")) File.Delete(temp);
        var parts = PartFiles(partsFolder);
        for (int i = 0; i < parts.Count; i++)
        {
            var expected = System.IO.Path.Combine(partsFolder, $"{PartPrefix}{i:D6}.parquet");
            if (i < keepParts && parts[i] != expected)
                throw new IOException($"'{partsFolder}' lacks part {i} ({System.IO.Path.GetFileName(expected)}) that the checkpoint recorded");
            if (i >= keepParts) File.Delete(parts[i]);
        }
        if (parts.Count < keepParts)
            throw new IOException($"'{partsFolder}' holds {parts.Count} part(s); the checkpoint recorded {keepParts}");
        return parts.Take(keepParts).Sum(ParquetTable.ReadRowCount);
    }

    private string Name => System.IO.Path.GetFileName(Path);

    private static ParquetOptions WriterOptions() => new()
    {
        // STACK: Snappy is fast; Zstd's default level is ~20x slower to write.
        CompressionMethod = CompressionMethod.Snappy,
    };

    private void EnsureWritable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) throw new InvalidOperationException($"Table '{Name}' is complete; no more rows can be added.");
    }

    private async Task WriteBufferAsPartAsync(CancellationToken cancellationToken)
    {
        var rows = BufferedRowCount;
        if (rows == 0) return;
        Directory.CreateDirectory(PartsFolder);
        var name = $"{PartPrefix}{_nextPart:D6}.parquet";
        var final = System.IO.Path.Combine(PartsFolder, name);
        var temp = final + ".tmp";
        try
        {
            await using (var output = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                await using var writer = await ParquetWriter.CreateAsync(_schema, output, WriterOptions(), cancellationToken: cancellationToken);
                writer.CustomMetadata = _metadata;
                using var rowGroup = writer.CreateRowGroup();
                foreach (var buffer in _buffers) await buffer.WriteAsync(rowGroup, cancellationToken);
            }
            // Renamed only once its footer is written: a crash never leaves a half-written part-*.parquet.
            File.Move(temp, final, overwrite: false);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        _nextPart++;
        foreach (var buffer in _buffers) buffer.Clear();
    }

    private void ResumeFromParts()
    {
        foreach (var temp in Directory.GetFiles(PartsFolder, "*.tmp")) File.Delete(temp);
        var parts = PartFiles(PartsFolder);
        if (parts.Count == 0) return;
        var existing = ParquetTable.ReadSchema(parts[0]);
        if (!existing.SequenceEqual(Columns))
            throw new IOException(
                $"Parts in '{PartsFolder}' have columns ({Describe(existing)}); this writer has ({Describe(Columns)}).");
        RowCount = parts.Sum(ParquetTable.ReadRowCount);
        var last = System.IO.Path.GetFileNameWithoutExtension(parts[^1])[PartPrefix.Length..];
        _nextPart = int.Parse(last, System.Globalization.CultureInfo.InvariantCulture) + 1;
    }

    private static string Describe(IEnumerable<TableColumn> columns) => string.Join(", ", columns.Select(c => $"{c.Name}:{c.Type}"));
}
