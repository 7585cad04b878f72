using Parquet;
using Parquet.Schema;

namespace Workbench.Studies.Storage;

/// <summary>A growable, typed in-memory column, shared by the writer (row buffer) and the reader (whole table).</summary>
internal abstract class ColumnBuffer
{
    protected ColumnBuffer(TableColumn column)
    {
        Column = column;
        if (column.Type == ColumnType.FloatList)
        {
            // The standard three-level list (weights/list/element), as pyarrow writes it; the element is required.
            Field = new DataField<float>("element");
            SchemaField = new ListField(column.Name, Field);
            return;
        }
        Field = column.Type switch
        {
            ColumnType.Int => new DataField<int>(column.Name),
            ColumnType.Long => new DataField<long>(column.Name),
            ColumnType.Float => new DataField<float>(column.Name),
            ColumnType.Double => new DataField<double>(column.Name),
            ColumnType.String => new DataField<string>(column.Name),
            _ => throw new ArgumentOutOfRangeException(nameof(column), column.Type, "unknown column type"),
        };
        SchemaField = Field;
    }

    public TableColumn Column { get; }
    /// <summary>The leaf the values are written to (a list's element field).</summary>
    public DataField Field { get; }
    /// <summary>What the column is in the schema: <see cref="Field"/>, or the <see cref="ListField"/> around it.</summary>
    public Field SchemaField { get; }
    public abstract int Count { get; }

    /// <summary>Throws if <paramref name="value"/> cannot be stored in this column without losing information.</summary>
    public abstract void Check(object? value);
    public abstract void Add(object? value);
    /// <summary>Appends a whole array whose element type is exactly the column's type.</summary>
    public abstract void AddRange(Array values);
    public abstract void Clear();
    /// <summary>A copy of the values as a typed array (int[], long[], float[], double[] or string?[]).</summary>
    public abstract Array ToArray();
    public abstract Task WriteAsync(ParquetRowGroupWriter rowGroup, CancellationToken cancellationToken);

    /// <summary>A numeric column's values (<see cref="ToArray"/>) widened to double.</summary>
    public static double[] AsDoubles(Array values, string column) => values switch
    {
        double[] d => d,
        float[] f => Array.ConvertAll(f, v => (double)v),
        int[] i => Array.ConvertAll(i, v => (double)v),
        long[] l => Array.ConvertAll(l, v => (double)v),
        _ => throw new InvalidCastException($"Column '{column}' holds {values.GetType().GetElementType()?.Name} values, not numbers."),
    };
    public abstract Task ReadAsync(ParquetRowGroupReader rowGroup, DataField fileField, int rowCount, CancellationToken cancellationToken);

    public static ColumnBuffer For(TableColumn column) => column.Type switch
    {
        ColumnType.Int => new Buffer<int>(column, v => v switch
        {
            int i => i, short s => s, byte b => b, sbyte sb => sb, ushort us => us,
            _ => throw Mismatch(column, v),
        }),
        ColumnType.Long => new Buffer<long>(column, v => v switch
        {
            long l => l, int i => i, uint ui => ui, short s => s, ushort us => us, byte b => b, sbyte sb => sb,
            _ => throw Mismatch(column, v),
        }),
        ColumnType.Float => new Buffer<float>(column, v => v switch
        {
            float f => f, short s => s, ushort us => us, byte b => b, sbyte sb => sb,
            _ => throw Mismatch(column, v),
        }),
        ColumnType.Double => new Buffer<double>(column, v => v switch
        {
            double d => d, float f => f, int i => i, uint ui => ui, short s => s, ushort us => us, byte b => b, sbyte sb => sb,
            _ => throw Mismatch(column, v),
        }),
        ColumnType.String => new Buffer<string?>(column, v => v switch
        {
            null => null, string s => s,
            _ => throw Mismatch(column, v),
        }),
        ColumnType.FloatList => new FloatListBuffer(column),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column.Type, "unknown column type"),
    };

    internal static ArgumentException Mismatch(TableColumn column, object? value) => new(
        $"Column '{column.Name}' holds {column.Type} values; got {(value is null ? "null" : $"a {value.GetType().Name} ({value})")}.");

    private sealed class Buffer<T>(TableColumn column, Func<object?, T> convert) : ColumnBuffer(column)
    {
        private T[] _values = new T[16];
        private int _count;

        public override int Count => _count;

        public override void Check(object? value) => convert(value);

        public override void Add(object? value)
        {
            var converted = convert(value);
            Reserve(1);
            _values[_count++] = converted;
        }

        public override void AddRange(Array values)
        {
            if (values is not T[] typed)
                throw new ArgumentException(
                    $"Column '{Column.Name}' holds {Column.Type} values and needs a {typeof(T).Name.TrimEnd('?')}[] block; got {values.GetType().Name}.");
            Reserve(typed.Length);
            typed.CopyTo(_values, _count);
            _count += typed.Length;
        }

        public override void Clear() => _count = 0;

        public override Array ToArray() => _values.AsSpan(0, _count).ToArray();

        public override async Task WriteAsync(ParquetRowGroupWriter rowGroup, CancellationToken cancellationToken)
        {
            switch (this)
            {
                case Buffer<string?> strings:
                    await rowGroup.WriteAsync(Field, new ArraySegment<string>(strings._values!, 0, _count));
                    break;
                case Buffer<int> ints: await rowGroup.WriteAsync<int>(Field, ints._values.AsMemory(0, _count), cancellationToken: cancellationToken); break;
                case Buffer<long> longs: await rowGroup.WriteAsync<long>(Field, longs._values.AsMemory(0, _count), cancellationToken: cancellationToken); break;
                case Buffer<float> floats: await rowGroup.WriteAsync<float>(Field, floats._values.AsMemory(0, _count), cancellationToken: cancellationToken); break;
                case Buffer<double> doubles: await rowGroup.WriteAsync<double>(Field, doubles._values.AsMemory(0, _count), cancellationToken: cancellationToken); break;
                default: throw new InvalidOperationException($"No Parquet writer for {typeof(T)}.");
            }
        }

        public override async Task ReadAsync(ParquetRowGroupReader rowGroup, DataField fileField, int rowCount, CancellationToken cancellationToken)
        {
            Reserve(rowCount);
            var target = _values.AsMemory(_count, rowCount);
            if (fileField.IsNullable && typeof(T) != typeof(string))
            {
                // Other tools (DuckDB, pandas) mark columns nullable by default: read them when they hold no null.
                switch (target)
                {
                    case Memory<int> ints: await ReadWithoutNulls(rowGroup, fileField, ints, _count, cancellationToken); break;
                    case Memory<long> longs: await ReadWithoutNulls(rowGroup, fileField, longs, _count, cancellationToken); break;
                    case Memory<float> floats: await ReadWithoutNulls(rowGroup, fileField, floats, _count, cancellationToken); break;
                    case Memory<double> doubles: await ReadWithoutNulls(rowGroup, fileField, doubles, _count, cancellationToken); break;
                    default: throw new InvalidOperationException($"No Parquet reader for nullable {typeof(T)}.");
                }
                _count += rowCount;
                return;
            }
            switch (target)
            {
                case Memory<string?> strings: await rowGroup.ReadAsync(fileField, strings!, cancellationToken: cancellationToken); break;
                case Memory<int> ints: await rowGroup.ReadAsync(fileField, ints, cancellationToken: cancellationToken); break;
                case Memory<long> longs: await rowGroup.ReadAsync(fileField, longs, cancellationToken: cancellationToken); break;
                case Memory<float> floats: await rowGroup.ReadAsync(fileField, floats, cancellationToken: cancellationToken); break;
                case Memory<double> doubles: await rowGroup.ReadAsync(fileField, doubles, cancellationToken: cancellationToken); break;
                default: throw new InvalidOperationException($"No Parquet reader for {typeof(T)}.");
            }
            _count += rowCount;
        }

        private static async Task ReadWithoutNulls<TValue>(ParquetRowGroupReader rowGroup, DataField field, Memory<TValue> target, long firstRow,
            CancellationToken cancellationToken) where TValue : struct
        {
            var values = new TValue?[target.Length];
            await rowGroup.ReadAsync(field, values.AsMemory(), cancellationToken: cancellationToken);
            var span = target.Span;
            for (int i = 0; i < values.Length; i++)
                span[i] = values[i] ?? throw new InvalidDataException(
                    $"column '{field.Name}' is null at row {firstRow + i}; Workbench reads nullable columns that hold no null");
        }

        private void Reserve(int extra)
        {
            if (_count + extra <= _values.Length) return;
            Array.Resize(ref _values, Math.Max(_count + extra, _values.Length * 2));
        }
    }

    /// <summary>One float[] per row, stored as a Parquet list: the flattened values with repetition level 0 at each row's
    /// first value and 1 after it, every definition level at the field's maximum (a present, non-null element).</summary>
    private sealed class FloatListBuffer(TableColumn column) : ColumnBuffer(column)
    {
        private readonly List<float[]> _rows = [];

        public override int Count => _rows.Count;

        public override void Check(object? value) => Convert(value);

        public override void Add(object? value) => _rows.Add(Convert(value));

        public override void AddRange(Array values)
        {
            if (values is not float[][] typed)
                throw new ArgumentException($"Column '{Column.Name}' holds float lists and needs a float[][] block; got {values.GetType().Name}.");
            foreach (var row in typed) Convert(row);
            _rows.AddRange(typed.Select(r => r.ToArray()));
        }

        public override void Clear() => _rows.Clear();

        public override Array ToArray() => _rows.Select(r => r.ToArray()).ToArray();

        public override async Task WriteAsync(ParquetRowGroupWriter rowGroup, CancellationToken cancellationToken)
        {
            int total = _rows.Sum(r => r.Length);
            var values = new float[total];
            var repetition = new int[total];
            int at = 0;
            foreach (var row in _rows)
            {
                row.CopyTo(values, at);
                for (int i = 1; i < row.Length; i++) repetition[at + i] = 1;
                at += row.Length;
            }
            var definition = new int[total];
            Array.Fill(definition, Field.MaxDefinitionLevel);
            await rowGroup.WriteAllPartsAsync<float>(Field, values, definition, repetition, cancellationToken);
        }

        public override async Task ReadAsync(ParquetRowGroupReader rowGroup, DataField fileField, int rowCount, CancellationToken cancellationToken)
        {
            long count = rowGroup.GetMetadata(fileField)?.MetaData?.NumValues
                         ?? throw new InvalidDataException($"Column '{Column.Name}' has no column chunk metadata.");
            var values = new float[count];
            var definition = new int[count];
            var repetition = new int[count];
            await rowGroup.ReadRawAsync<float>(fileField, values, definition, repetition, cancellationToken);
            if (definition.Any(d => d != fileField.MaxDefinitionLevel))
                throw new InvalidDataException($"Column '{Column.Name}' holds a null or empty list; Workbench float-list columns hold values in every row.");
            int start = _rows.Count;
            for (int i = 0; i < values.Length; i++)
            {
                if (repetition[i] != 0) continue;
                int end = i + 1;
                while (end < values.Length && repetition[end] != 0) end++;
                _rows.Add(values[i..end]);
            }
            if (_rows.Count - start != rowCount)
                throw new InvalidDataException($"Column '{Column.Name}' holds {_rows.Count - start} lists in a row group of {rowCount} rows.");
        }

        private float[] Convert(object? value) => value switch
        {
            float[] { Length: > 0 } row => row,
            float[] => throw new ArgumentException($"Column '{Column.Name}' holds non-empty float lists; got an empty one."),
            _ => throw Mismatch(Column, value),
        };
    }
}
