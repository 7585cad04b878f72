namespace Workbench.Studies.Storage;

/// <summary>The value types a Workbench table column can hold.</summary>
public enum ColumnType { Int, Long, Float, Double, String }

/// <summary>
/// One column of a table: a name (ArviZ style such as <c>w[0]</c> is fine) and a value type.
/// Numeric columns are required (no nulls); string columns may hold null.
/// </summary>
public sealed record TableColumn(string Name, ColumnType Type)
{
    public static TableColumn Int(string name) => new(name, ColumnType.Int);
    public static TableColumn Long(string name) => new(name, ColumnType.Long);
    public static TableColumn Float(string name) => new(name, ColumnType.Float);
    public static TableColumn Double(string name) => new(name, ColumnType.Double);
    public static TableColumn String(string name) => new(name, ColumnType.String);

    /// <summary>The CLR array element type that holds this column in memory.</summary>
    public Type ClrType => Type switch
    {
        ColumnType.Int => typeof(int),
        ColumnType.Long => typeof(long),
        ColumnType.Float => typeof(float),
        ColumnType.Double => typeof(double),
        ColumnType.String => typeof(string),
        _ => throw new ArgumentOutOfRangeException(nameof(Type), Type, "unknown column type"),
    };
}
