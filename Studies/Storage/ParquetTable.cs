using Microsoft.Data.Analysis;
using Parquet;
using Parquet.Schema;

namespace Workbench.Studies.Storage;

/// <summary>
/// A whole table in memory, column by column: what figures, reports and tests need. Read from a finished
/// Parquet file or from the parts folder of an unfinished <see cref="ParquetTableWriter"/>.
/// </summary>
public sealed class ParquetTable
{
    /// <summary>Key of the table-layout version in the Parquet key/value metadata.</summary>
    public const string SchemaVersionKey = "workbench.table_schema_version";

    private readonly ColumnBuffer[] _columns;
    private readonly Dictionary<string, int> _index;

    private ParquetTable(ColumnBuffer[] columns, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<string> files)
    {
        _columns = columns;
        _index = columns.Select((c, i) => (c.Column.Name, i)).ToDictionary(p => p.Name, p => p.i);
        Schema = columns.Select(c => c.Column).ToArray();
        Columns = Schema.Select(c => c.Name).ToArray();
        RowCount = columns.Length == 0 ? 0 : columns[0].Count;
        Metadata = metadata;
        SourceFiles = files;
    }

    public IReadOnlyList<string> Columns { get; }
    public IReadOnlyList<TableColumn> Schema { get; }
    public int RowCount { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>The Parquet files the rows came from, in order (one for a finished table, the parts otherwise).</summary>
    public IReadOnlyList<string> SourceFiles { get; }

    public ColumnType TypeOf(string column) => Buffer(column).Column.Type;

    /// <summary>A copy of a column's values; <typeparamref name="T"/> must be the column's type (string for string columns,
    /// float[] for float-list columns).</summary>
    public T[] Column<T>(string column)
    {
        var values = Buffer(column).ToArray();
        return values as T[] ?? throw new InvalidCastException(
            $"Column '{column}' holds {TypeOf(column)} values, not {typeof(T).Name}.");
    }

    /// <summary>A numeric column converted to double (for figures and statistics).</summary>
    public double[] ColumnAsDouble(string column) => ColumnBuffer.AsDoubles(Buffer(column).ToArray(), column);

    /// <summary>The table as a Microsoft.Data.Analysis DataFrame (for GroupBy, CSV export).</summary>
    public DataFrame ToDataFrame() => new(_columns.Select(c => c.ToArray() switch
    {
        int[] v => (DataFrameColumn)new Int32DataFrameColumn(c.Column.Name, v),
        long[] v => new Int64DataFrameColumn(c.Column.Name, v),
        float[] v => new SingleDataFrameColumn(c.Column.Name, v),
        double[] v => new DoubleDataFrameColumn(c.Column.Name, v),
        string?[] v => new StringDataFrameColumn(c.Column.Name, v),
        var other => throw new InvalidOperationException($"No DataFrame column for {other.GetType()}."),
    }));

    /// <summary>
    /// Reads <paramref name="path"/>: a finished table file; or, if that does not exist, its parts folder
    /// <c>{path}.parts</c>; or a parts folder named directly. Unfinished part temp files are ignored.
    /// </summary>
    public static ParquetTable Read(string path) => ReadAsync(path).GetAwaiter().GetResult();

    public static async Task<ParquetTable> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        var files = ResolveFiles(path);
        ColumnBuffer[]? columns = null;
        IReadOnlyList<TableColumn>? schema = null;
        var metadata = new Dictionary<string, string>();
        foreach (var file in files)
        {
            await using var reader = await ParquetReader.CreateAsync(file, cancellationToken: cancellationToken);
            var fileSchema = ToColumns(reader.Schema, file);
            if (schema is null)
            {
                schema = fileSchema;
                columns = schema.Select(ColumnBuffer.For).ToArray();
                foreach (var (key, value) in reader.CustomMetadata) metadata[key] = value;
            }
            else if (!schema.SequenceEqual(fileSchema))
            {
                throw new InvalidDataException($"'{file}' has other columns than '{files[0]}'.");
            }
            var fields = reader.Schema.GetDataFields();
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var rowGroup = reader.OpenRowGroupReader(g);
                var rows = checked((int)rowGroup.RowCount);
                try
                {
                    for (var c = 0; c < columns!.Length; c++)
                        await columns[c].ReadAsync(rowGroup, fields[c], rows, cancellationToken);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"'{file}': {e.Message}", e);
                }
            }
        }
        return new ParquetTable(columns ?? [], metadata, files);
    }

    /// <summary>The table's row count from the file footers only (no data is read).</summary>
    public static long ReadRowCount(string path) => ReadRowCountAsync(path).GetAwaiter().GetResult();

    public static async Task<long> ReadRowCountAsync(string path, CancellationToken cancellationToken = default)
    {
        long rows = 0;
        foreach (var file in ResolveFiles(path))
        {
            await using var reader = await ParquetReader.CreateAsync(file, cancellationToken: cancellationToken);
            rows += reader.RowGroups.Sum(g => g.RowCount);
        }
        return rows;
    }

    internal static IReadOnlyList<TableColumn> ReadSchema(string file)
    {
        using var stream = File.OpenRead(file);
        return ToColumns(ParquetReader.ReadSchemaAsync(stream).GetAwaiter().GetResult(), file);
    }

    private static IReadOnlyList<string> ResolveFiles(string path)
    {
        if (File.Exists(path)) return [path];
        var partsFolder = Directory.Exists(path) ? path : path + ParquetTableWriter.PartsSuffix;
        if (Directory.Exists(partsFolder)) return ParquetTableWriter.PartFiles(partsFolder);
        throw new FileNotFoundException($"No table at '{path}' (neither a Parquet file nor a parts folder '{partsFolder}').", path);
    }

    private static IReadOnlyList<TableColumn> ToColumns(ParquetSchema schema, string file)
    {
        return schema.Fields.Select(field =>
        {
            if (field is ListField { Item: DataField { IsNullable: false, IsArray: false } item } list && item.ClrType == typeof(float))
                return new TableColumn(list.Name, ColumnType.FloatList);
            if (field is not DataField f)
                throw new InvalidDataException($"'{file}' has a nested column '{field.Name}'; Workbench tables are flat but for lists of floats.");
            ColumnType? type = f.ClrType switch
            {
                var t when t == typeof(int) => ColumnType.Int,
                var t when t == typeof(long) => ColumnType.Long,
                var t when t == typeof(float) => ColumnType.Float,
                var t when t == typeof(double) => ColumnType.Double,
                var t when t == typeof(string) || t == typeof(ReadOnlyMemory<char>) => ColumnType.String,
                _ => null,
            };
            // Nullable columns are read as long as they hold no null (ColumnBuffer names the row of one).
            if (type is null || f.IsArray)
                throw new InvalidDataException(
                    $"Column '{f.Name}' in '{file}' is {f.ClrType.Name}{(f.IsArray ? "[]" : "")}; Workbench tables hold int, long, float, double or string columns, or lists of floats.");
            return new TableColumn(f.Name, type.Value);
        }).ToArray();
    }

    private ColumnBuffer Buffer(string column) =>
        _index.TryGetValue(column, out var i)
            ? _columns[i]
            : throw new KeyNotFoundException($"No column '{column}'; the table has: {string.Join(", ", Columns)}.");
}
