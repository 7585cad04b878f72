using Parquet;
using Parquet.Schema;

namespace Workbench.Studies.Storage;

/// <summary>A growable, typed in-memory column, shared by the writer (row buffer) and the reader (whole table).</summary>
internal abstract class ColumnBuffer
{
    protected ColumnBuffer(TableColumn column)
    {
        Column = column;
        Field = column.Type switch
        {
            ColumnType.Int => new DataField<int>(column.Name),
            ColumnType.Long => new DataField<long>(column.Name),
            ColumnType.Float => new DataField<float>(column.Name),
            ColumnType.Double => new DataField<double>(column.Name),
            ColumnType.String => new DataField<string>(column.Name),
            _ => throw new ArgumentOutOfRangeException(nameof(column), column.Type, "unknown column type"),
        };
    }

    public TableColumn Column { get; }
    public DataField Field { get; }
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
        _ => throw new ArgumentOutOfRangeException(nameof(column), column.Type, "unknown column type"),
    };

    private static ArgumentException Mismatch(TableColumn column, object? value) => new(
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

        private void Reserve(int extra)
        {
            if (_count + extra <= _values.Length) return;
            Array.Resize(ref _values, Math.Max(_count + extra, _values.Length * 2));
        }
    }
}
