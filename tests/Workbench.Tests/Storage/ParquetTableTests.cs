using Parquet;
using Parquet.Schema;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Storage;

public class ParquetTableTests
{
    private static readonly TableColumn[] DrawColumns =
    [
        TableColumn.Int("chain"), TableColumn.Long("draw"), TableColumn.Double("lp"),
        TableColumn.Float("w[0]"), TableColumn.Float("w[1]"), TableColumn.String("sampler"),
    ];

    private static void AppendDraws(ParquetTableWriter writer, int from, int to)
    {
        for (var i = from; i < to; i++)
            writer.Append(i % 4, (long)i, -0.5 * i, 0.25f * i, -1f * i, i % 2 == 0 ? "sgld" : null);
    }

    /// <summary>Reads a whole file with Parquet.Net's own reader, independent of ParquetTable.</summary>
    private static async Task<(ParquetReader Reader, Dictionary<string, Array> Columns)> ReadWithParquetNet(string file)
    {
        var reader = await ParquetReader.CreateAsync(file);
        var columns = new Dictionary<string, Array>();
        var fields = reader.Schema.GetDataFields();
        var rows = (int)reader.RowGroups.Sum(g => g.RowCount);
        var ints = new int[rows]; var longs = new long[rows]; var doubles = new double[rows];
        var w0 = new float[rows]; var w1 = new float[rows]; var strings = new string?[rows];
        var offset = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            var n = (int)rg.RowCount;
            await rg.ReadAsync(fields[0], ints.AsMemory(offset, n));
            await rg.ReadAsync(fields[1], longs.AsMemory(offset, n));
            await rg.ReadAsync(fields[2], doubles.AsMemory(offset, n));
            await rg.ReadAsync(fields[3], w0.AsMemory(offset, n));
            await rg.ReadAsync(fields[4], w1.AsMemory(offset, n));
            await rg.ReadAsync(fields[5], strings.AsMemory(offset, n));
            offset += n;
        }
        columns["chain"] = ints; columns["draw"] = longs; columns["lp"] = doubles;
        columns["w[0]"] = w0; columns["w[1]"] = w1; columns["sampler"] = strings;
        return (reader, columns);
    }

    [Fact]
    public async Task Completed_table_is_one_readable_parquet_file()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("run", "draws.parquet");
        long rows;
        await using (var writer = new ParquetTableWriter(path, DrawColumns,
                         new ParquetTableWriterOptions { FlushEvery = 1000, Metadata = new Dictionary<string, string> { ["study"] = "unit" } }))
        {
            AppendDraws(writer, 0, 2500);
            Assert.False(File.Exists(path));
            Assert.Equal(2, ParquetTableWriter_PartCount(writer));
            rows = await writer.CompleteAsync();
        }

        Assert.Equal(2500, rows);
        Assert.True(File.Exists(path));
        Assert.False(Directory.Exists(path + ParquetTableWriter.PartsSuffix));
        Assert.Equal(new[] { "draws.parquet" }, Directory.GetFiles(temp.Combine("run")).Select(Path.GetFileName));

        var (reader, columns) = await ReadWithParquetNet(path);
        await using (reader)
        {
            Assert.Equal(DrawColumns.Select(c => c.Name), reader.Schema.GetDataFields().Select(f => f.Name));
            Assert.Equal("unit", reader.CustomMetadata["study"]);
            Assert.Equal("1", reader.CustomMetadata[ParquetTable.SchemaVersionKey]);
            Assert.All(reader.Metadata!.RowGroups.SelectMany(g => g.Columns),
                chunk => Assert.Equal(Parquet.Meta.CompressionCodec.SNAPPY, chunk.MetaData!.Codec));
        }
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => (long)i), (long[])columns["draw"]);
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => i % 4), (int[])columns["chain"]);
        Assert.Equal(0.25f * 2499, ((float[])columns["w[0]"])[2499]);
        Assert.Equal(-0.5 * 1234, ((double[])columns["lp"])[1234]);
        Assert.Equal("sgld", ((string?[])columns["sampler"])[2]);
        Assert.Null(((string?[])columns["sampler"])[3]);

        var table = ParquetTable.Read(path);
        Assert.Equal(2500, table.RowCount);
        Assert.Equal(DrawColumns.Select(c => c.Name), table.Columns);
        Assert.Equal(ColumnType.Float, table.TypeOf("w[1]"));
        Assert.Equal(-1f * 77, table.Column<float>("w[1]")[77]);
        Assert.Equal(77.0 * 0.25, table.ColumnAsDouble("w[0]")[77]);
        Assert.Equal("unit", table.Metadata["study"]);
        Assert.Equal(2500, ParquetTable.ReadRowCount(path));
    }

    private static int ParquetTableWriter_PartCount(ParquetTableWriter writer) =>
        Directory.GetFiles(writer.PartsFolder, "part-*.parquet").Length;

    [Fact]
    public async Task Writer_killed_before_complete_leaves_only_readable_parts()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("draws.parquet");
        var writer = new ParquetTableWriter(path, DrawColumns, new ParquetTableWriterOptions { FlushEvery = 100 });
        AppendDraws(writer, 0, 250);
        // A kill mid-part leaves only a temp file; the writer holds no file open between flushes.
        File.WriteAllBytes(Path.Combine(writer.PartsFolder, "part-000002.parquet.tmp"), [0x50, 0x41, 0x52, 0x31, 0x00]);
        // "Killed": the writer is abandoned, never completed or disposed; its 50 buffered rows are lost.

        Assert.False(File.Exists(path));
        var parts = Directory.GetFiles(writer.PartsFolder, "*.parquet").Order().ToArray();
        Assert.Equal(new[] { "part-000000.parquet", "part-000001.parquet" }, parts.Select(Path.GetFileName));
        var draw = 0L;
        foreach (var part in parts)
        {
            var (reader, columns) = await ReadWithParquetNet(part);
            await using (reader) Assert.Equal(100, reader.RowGroups.Sum(g => g.RowCount));
            foreach (var value in (long[])columns["draw"]) Assert.Equal(draw++, value);
        }

        var table = ParquetTable.Read(path);
        Assert.Equal(200, table.RowCount);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (long)i), table.Column<long>("draw"));
        Assert.Equal(200, ParquetTable.ReadRowCount(writer.PartsFolder));
    }

    [Fact]
    public void Resumed_writer_continues_after_existing_parts()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("draws.parquet");
        var options = new ParquetTableWriterOptions { FlushEvery = 100 };
        using (var first = new ParquetTableWriter(path, DrawColumns, options)) AppendDraws(first, 0, 150);

        Assert.Throws<IOException>(() => new ParquetTableWriter(path, DrawColumns, options));
        Assert.Throws<IOException>(() => new ParquetTableWriter(path, DrawColumns[..3], options with { ResumeExistingParts = true }));

        using var second = new ParquetTableWriter(path, DrawColumns, options with { ResumeExistingParts = true });
        Assert.Equal(150, second.RowCount);
        AppendDraws(second, 150, 260);
        Assert.Equal(260, second.Complete());

        var table = ParquetTable.Read(path);
        Assert.Equal(Enumerable.Range(0, 260).Select(i => (long)i), table.Column<long>("draw"));
    }

    [Fact]
    public void Disposed_writer_flushes_buffered_rows_as_a_part_but_does_not_complete()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("draws.parquet");
        using (var writer = new ParquetTableWriter(path, DrawColumns)) AppendDraws(writer, 0, 7);

        Assert.False(File.Exists(path));
        Assert.Equal(7, ParquetTable.Read(path).RowCount);
    }

    [Fact]
    public void Column_blocks_and_rows_mix_and_wrong_types_are_refused_without_partial_rows()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("metrics.parquet");
        using var writer = new ParquetTableWriter(path, [TableColumn.Int("epoch"), TableColumn.Double("accuracy"), TableColumn.String("variant")]);

        writer.AppendBlock([new[] { 1, 2, 3 }, new[] { 0.5, 0.6, 0.7 }, new[] { "standard", "w_asym", "sigma_asym" }]);
        writer.Append(4, 0.8f, "standard");
        var wrongType = Assert.Throws<ArgumentException>(() => writer.Append(5, "0.9", "standard"));
        Assert.Contains("accuracy", wrongType.Message);
        Assert.Throws<ArgumentException>(() => writer.Append(5, 0.9));
        Assert.Throws<ArgumentException>(() => writer.AppendBlock([new[] { 5L }, new[] { 0.9 }, new[] { "x" }]));
        Assert.Throws<ArgumentException>(() => writer.AppendBlock([new[] { 5, 6 }, new[] { 0.9 }, new[] { "x" }]));
        writer.Complete();

        var table = ParquetTable.Read(path);
        Assert.Equal(new[] { 1, 2, 3, 4 }, table.Column<int>("epoch"));
        Assert.Equal(new[] { 0.5, 0.6, 0.7, (double)0.8f }, table.Column<double>("accuracy"));
        Assert.Equal("w_asym", table.Column<string>("variant")[1]);
        var frame = table.ToDataFrame();
        Assert.Equal(4, frame.Rows.Count);
        Assert.Equal(3, frame["epoch"][2]);
        Assert.Throws<InvalidOperationException>(() => writer.Append(5, 0.9, "late"));
    }

    [Fact]
    public void Table_with_no_rows_completes_to_an_empty_readable_file()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("empty.parquet");
        using (var writer = new ParquetTableWriter(path, DrawColumns)) Assert.Equal(0, writer.Complete());

        var table = ParquetTable.Read(path);
        Assert.Equal(0, table.RowCount);
        Assert.Equal(DrawColumns.Select(c => c.Name), table.Columns);
    }

    [Fact]
    public async Task Float_list_column_round_trips_through_parts_and_the_merged_file()
    {
        using var dir = new TempFolder();
        var path = dir.Combine("lists.parquet");
        TableColumn[] columns = [TableColumn.Int("id"), TableColumn.FloatList("weights"), TableColumn.Double("score")];
        var rows = Enumerable.Range(0, 7).Select(i => Enumerable.Range(0, 1 + i * 3).Select(j => i + j * 0.25f - 1e-7f * j).ToArray()).ToArray();
        rows[3][0] = float.NaN;
        rows[4][1] = -0f;
        using (var writer = new ParquetTableWriter(path, columns, new ParquetTableWriterOptions { FlushEvery = 3 }))
        {
            for (int i = 0; i < 5; i++) writer.Append(i, rows[i], i * 0.5);
            writer.AppendBlock([new[] { 5, 6 }, new[] { rows[5], rows[6] }, new[] { 2.5, 3.0 }]);
            writer.Flush();
            // Unfinished: read from the parts.
            var partial = ParquetTable.Read(path);
            Assert.Equal(ColumnType.FloatList, partial.TypeOf("weights"));
            AssertRows(partial.Column<float[]>("weights"), rows);
            writer.Complete();
        }
        var table = ParquetTable.Read(path);
        Assert.Equal(7, table.RowCount);
        Assert.Equal(Enumerable.Range(0, 7), table.Column<int>("id"));
        AssertRows(table.Column<float[]>("weights"), rows);

        // What other readers see: a standard three-level list of required floats (weights/list/element).
        await using (var reader = await ParquetReader.CreateAsync(path))
        {
            var list = Assert.IsType<ListField>(reader.Schema.Fields[1]);
            Assert.Equal("weights", list.Name);
            var element = reader.Schema.GetDataFields()[1];
            Assert.Equal(typeof(float), element.ClrType);
            Assert.Equal(1, element.MaxRepetitionLevel);
        }

        static void AssertRows(float[][] actual, float[][] expected)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
                Assert.Equal(expected[i].Select(BitConverter.SingleToInt32Bits), actual[i].Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void Float_list_column_refuses_empty_lists_and_other_types()
    {
        using var dir = new TempFolder();
        using var writer = new ParquetTableWriter(dir.Combine("t.parquet"), [TableColumn.FloatList("w")]);
        Assert.Throws<ArgumentException>(() => writer.Append(Array.Empty<float>()));
        Assert.Throws<ArgumentException>(() => writer.Append(new double[] { 1 }));
        Assert.Throws<ArgumentException>(() => writer.Append((object?)null));
        Assert.Equal(0, writer.RowCount);
    }
}
