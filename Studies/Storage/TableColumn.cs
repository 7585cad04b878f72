namespace Workbench.Studies.Storage;

/// <summary>The value types a Workbench table column can hold. <see cref="FloatList"/>: one float[] per row (a Parquet
/// list&lt;float&gt;, what pandas and polars read as a list column), never null and never empty.</summary>
public enum ColumnType { Int, Long, Float, Double, String, FloatList }

/// <summary>
/// One column of a table: a name (ArviZ style such as <c>w[0]</c> is fine) and a value type.
/// Numeric and list columns are required (no nulls); string columns may hold null.
/// </summary>
public sealed record TableColumn(string Name, ColumnType Type)
{
    public static TableColumn Int(string name) => new(name, ColumnType.Int);
    public static TableColumn Long(string name) => new(name, ColumnType.Long);
    public static TableColumn Float(string name) => new(name, ColumnType.Float);
    public static TableColumn Double(string name) => new(name, ColumnType.Double);
    public static TableColumn String(string name) => new(name, ColumnType.String);
    public static TableColumn FloatList(string name) => new(name, ColumnType.FloatList);

    /// <summary>The CLR array element type that holds this column in memory.</summary>
    public Type ClrType => Type switch
    {
        ColumnType.Int => typeof(int),
        ColumnType.Long => typeof(long),
        ColumnType.Float => typeof(float),
        ColumnType.Double => typeof(double),
        ColumnType.String => typeof(string),
        ColumnType.FloatList => typeof(float[]),
        _ => throw new ArgumentOutOfRangeException(nameof(Type), Type, "unknown column type"),
    };
}
