using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Cli;
using Workbench.Studies.Diagnostics;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using Xunit.Abstractions;

namespace Workbench.Tests.Diagnostics;

public sealed class DiagnoseTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-diagnose-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = WorkbenchCli.Run(args, output, error);
        log.WriteLine($"workbench {string.Join(' ', args)} → {code}\n{output}{error}");
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Writes draws in long form: columns chain, draw, then one per variable.</summary>
    private string WriteCsv(string name, IReadOnlyDictionary<string, double[][]> variables)
    {
        string path = Path.Combine(_dir, name);
        var text = new StringBuilder("chain,draw," + string.Join(',', variables.Keys) + "\n");
        var first = variables.Values.First();
        for (int c = 0; c < first.Length; c++)
            for (int d = 0; d < first[c].Length; d++)
                text.Append(CultureInfo.InvariantCulture, $"{c},{d},{string.Join(',', variables.Values.Select(v => v[c][d].ToString("R", CultureInfo.InvariantCulture)))}\n");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    /// <summary>The rows of one view (space) of a diagnostics table, by variable.</summary>
    private static Dictionary<string, DiagnosticsResult> ReadTable(string path, string space = "raw")
    {
        var t = ParquetTable.Read(path);
        Assert.Equal(Diagnose.Columns.Select(c => c.Name), t.Columns);
        var names = t.Column<string>("variable");
        var spaces = t.Column<string>("space");
        Assert.All(spaces, s => Assert.Contains(s, new[] { "raw", "canonical", "function" }));
        var rhat = t.Column<double>("rhat");
        var classic = t.Column<double>("rhat_classic");
        var within = t.Column<double>("rhat_within");
        var bulk = t.Column<double>("ess_bulk");
        var tail = t.Column<double>("ess_tail");
        var mcse = t.Column<double>("mcse_mean");
        var flag = t.Column<string>("flag");
        return Enumerable.Range(0, t.RowCount).Where(i => spaces[i] == space).ToDictionary(i => names[i],
            i => new DiagnosticsResult(names[i], rhat[i], classic[i], within[i], bulk[i], tail[i], mcse[i], flag[i]));
    }

    [Fact]
    public void Diagnose_a_csv_prints_a_table_and_writes_diagnostics_next_to_it()
    {
        var mixed = Draws.Iid(4, 500, seed: 41);
        var stuck = Draws.Iid(4, 500, seed: 42);
        stuck[0] = stuck[0].Select(v => v + 2).ToArray();
        string csv = WriteCsv("draws.csv", new Dictionary<string, double[][]> { ["mixed"] = mixed, ["shifted"] = stuck });

        var (code, output, error) = Run("diagnose", csv);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("mixed", output);
        string table = Path.Combine(_dir, "draws.diagnostics.parquet");
        var rows = ReadTable(table);
        Assert.Equal(["mixed", "shifted"], rows.Keys);
        // The same numbers as the library on the same draws (the CSV round-trips doubles exactly with "R").
        Assert.Equal(ConvergenceDiagnostics.Of("mixed", mixed), rows["mixed"]);
        Assert.True(rows["mixed"].Rhat < 1.01 && rows["mixed"].Flag == "", rows["mixed"].ToString());
        Assert.True(rows["shifted"].Rhat > 1.1, rows["shifted"].ToString());
        Assert.Contains("R̂ > 1.01", output);

        // Again, to --out: the earlier table is replaced, not an error.
        string other = Path.Combine(_dir, "sub", "d.parquet");
        Assert.Equal(0, Run("diagnose", csv, "--out", other, "--space", "raw").Code);
        Assert.Equal(0, Run("diagnose", csv, "--out", other).Code);
        Assert.Equal(2, ParquetTable.Read(other).RowCount);
    }

    [Fact]
    public void Diagnose_a_parquet_file_with_any_numeric_column_types()
    {
        // chain and draw as int, one float and one long variable; rows in shuffled order (grouped by chain, sorted by draw).
        string path = Path.Combine(_dir, "samples.parquet");
        var x = Draws.Iid(3, 40, seed: 45);
        var order = Enumerable.Range(0, 120).OrderBy(i => (i * 37) % 120).ToArray();
        using (var writer = new ParquetTableWriter(path, [TableColumn.Int("chain"), TableColumn.Int("draw"), new("x", ColumnType.Float), new("k", ColumnType.Long)]))
        {
            foreach (int i in order) writer.Append(i / 40, i % 40, (float)x[i / 40][i % 40], (long)(i % 7));
            writer.Complete();
        }
        var (code, _, _) = Run("diagnose", path);
        Assert.Equal(0, code);
        var rows = ReadTable(Path.Combine(_dir, "samples.diagnostics.parquet"));
        Assert.Equal(["x", "k"], rows.Keys);
        var asFloat = x.Select(c => c.Select(v => (double)(float)v).ToArray()).ToArray();
        Assert.Equal(ConvergenceDiagnostics.Of("x", asFloat), rows["x"]);
    }

    /// <summary>A row as DuckDB, pandas or polars write draws: every column nullable (optional in the Parquet schema).</summary>
    private sealed class NullableDraw
    {
        public int? chain { get; set; }
        public long? draw { get; set; }
        public double? x { get; set; }
    }

    [Fact]
    public async Task Diagnose_reads_nullable_columns_without_nulls_and_names_the_row_of_a_null()
    {
        var x = Draws.Iid(2, 30, seed: 46);
        var rows = Enumerable.Range(0, 60).Select(i => new NullableDraw { chain = i / 30, draw = i % 30, x = x[i / 30][i % 30] }).ToList();
        string path = Path.Combine(_dir, "duckdb.parquet");
        await using (var stream = File.Create(path)) await Parquet.Serialization.ParquetSerializer.SerializeAsync(rows, stream);
        await using (var reader = await Parquet.ParquetReader.CreateAsync(path)) Assert.All(reader.Schema.GetDataFields(), f => Assert.True(f.IsNullable));

        var (code, _, error) = Run("diagnose", path);
        Assert.True(code == 0, error);
        Assert.Equal(ConvergenceDiagnostics.Of("x", x), ReadTable(Path.Combine(_dir, "duckdb.diagnostics.parquet"))["x"]);

        rows[41].x = null;
        string withNull = Path.Combine(_dir, "with-null.parquet");
        await using (var stream = File.Create(withNull)) await Parquet.Serialization.ParquetSerializer.SerializeAsync(rows, stream);
        (code, _, error) = Run("diagnose", withNull);
        Assert.Equal(2, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("column 'x' is null at row 41", error);
        Assert.Contains(withNull, error);

        // Not Parquet at all, under a .parquet name: one line, exit 2, not a Thrift stack.
        string corrupt = Path.Combine(_dir, "corrupt.parquet");
        File.WriteAllBytes(corrupt, [.. File.ReadAllBytes(path).Take(64), .. new byte[64]]);
        (code, _, error) = Run("diagnose", corrupt);
        Assert.True(code == 2, error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains(corrupt, error);
    }

    private SampleOptions TinyRun(string name) => new()
    {
        Model = new ModelOptions("mlp", Widths: [16]),
        StepSize = 0.05, Chains = 2, Steps = 70, Warmup = 10, Thin = 5, BatchSize = 32, Track = 3, EvalEvery = 1, EvalTrain = true,
        Seed = 3, Threads = 1, Device = "cpu", Out = Path.Combine(_dir, name),
    };

    [Fact]
    public void Diagnose_a_run_folder_writes_diagnostics_parquet_into_it()
    {
        var run = SamplingRun.Execute(TinyRun("run"), TextWriter.Null);
        var (code, output, _) = Run("diagnose", run.Folder);
        Assert.Equal(0, code);
        Assert.DoesNotContain("unfinished", output);
        var rows = ReadTable(Path.Combine(run.Folder, "diagnostics.parquet"));
        var draws = ParquetTable.Read(Path.Combine(run.Folder, "draws.parquet"));
        Assert.Equal(draws.Columns.Skip(3), rows.Keys); // every tracked parameter, not chain/draw/iteration
        Assert.All(rows.Values, r => Assert.True(double.IsFinite(r.EssBulk), r.ToString())); // 12 draws per chain
        // The cost ledger: SGLD takes one gradient evaluation per step, 2 chains × 70 steps = 140 in all.
        var table = ParquetTable.Read(Path.Combine(run.Folder, "diagnostics.parquet"));
        for (int i = 0; i < table.RowCount; i++)
            Assert.Equal(1000 * table.Column<double>("ess_bulk")[i] / 140, table.Column<double>("ess_bulk_per_1k_grad_evals")[i], 9);
        // A standard MLP also gets the canonical view (same parameters after weight matching) and the function view.
        Assert.Equal(draws.Columns.Skip(3), ReadTable(Path.Combine(run.Folder, "diagnostics.parquet"), "canonical").Keys);
        var function = ReadTable(Path.Combine(run.Folder, "diagnostics.parquet"), "function");
        Assert.Equal(["p_true[median over 128 points]", "p_true[q90 over 128 points]"], function.Keys);
        Assert.True(function.Values.Last().Rhat >= function.Values.First().Rhat);
    }

    [Fact]
    public void Canonical_view_undoes_a_permutation_between_chains()
    {
        // Two chains jitter around the same network, chain 1 in a copy with its hidden units permuted: the same
        // function, so one mode. Raw R̂ sees two places; aligned to chain 0's first draw (the canonical view) it
        // sees one. Jitter sd 0.01 against weights of size ~0.3 keeps the matching unambiguous.
        using var mlp = new Workbench.Architectures.Mlp(new Workbench.Architectures.MlpSpec("m", 6, [5], 3, false,
            Workbench.Architectures.Layers.Activation.Relu, Workbench.Architectures.Variant.Standard, [new(0, 0)], 1, 0));
        using var g = new TorchSharp.torch.Generator(1);
        using var theta = mlp.InitialPosition(g);
        long entry = mlp.Layout["fc1.weight"].Offset; // fc1.weight[0,0]
        var raw = new double[2][];
        var canonical = new double[2][];
        TorchSharp.torch.Tensor? reference = null;
        for (int chain = 0; chain < 2; chain++)
        {
            raw[chain] = new double[200];
            canonical[chain] = new double[200];
            for (int d = 0; d < 200; d++)
            {
                using var jitter = TorchSharp.torch.randn(theta.shape, generator: g).mul_(HeldScalars.Of(0.01)).add_(theta, HeldScalars.One);
                using var draw = chain == 0 ? jitter.clone() : Workbench.Architectures.HiddenUnitPermutation.Apply(mlp, jitter, 0, [4, 3, 2, 1, 0]);
                reference ??= draw.clone();
                var (aligned, _, _) = Workbench.Architectures.WeightMatching.Align(mlp, reference, draw, seed: 1);
                using (aligned)
                {
                    raw[chain][d] = draw[entry].item<float>();
                    canonical[chain][d] = aligned[entry].item<float>();
                }
            }
        }
        reference!.Dispose();
        double rawRhat = ConvergenceDiagnostics.Of("w", raw).Rhat, canonicalRhat = ConvergenceDiagnostics.Of("w", canonical).Rhat;
        Assert.True(rawRhat > 1.1, $"raw R̂ {rawRhat}"); // far above the 1.01 threshold
        // Aligned, both chains are i.i.d. jitter around one point: R̂ within sampling error of 1 (sd ≈ 0.005 here).
        Assert.True(canonicalRhat < 1.03, $"canonical R̂ {canonicalRhat}");
    }

    [Fact]
    public void Diagnose_an_interrupted_run_reads_its_parts_and_says_it_is_unfinished()
    {
        var run = SamplingRun.Execute(TinyRun("interrupted"), TextWriter.Null);
        // Turn the finished run into one that stopped mid-way: status running, draws only as parts.
        string table = Path.Combine(run.Folder, "draws.parquet");
        var draws = ParquetTable.Read(table);
        File.Delete(table);
        using (var writer = new ParquetTableWriter(table, draws.Schema, new ParquetTableWriterOptions { FlushEvery = 7 }))
        {
            var columns = draws.Columns.Select(c => draws.TypeOf(c) == ColumnType.Int ? (object[])draws.Column<int>(c).Cast<object>().ToArray()
                : draws.TypeOf(c) == ColumnType.Long ? draws.Column<long>(c).Cast<object>().ToArray() : draws.ColumnAsDouble(c).Cast<object>().ToArray()).ToArray();
            for (int r = 0; r < draws.RowCount; r++) writer.Append(columns.Select(c => c[r]).ToArray());
        } // disposed without Complete: parts only
        string manifest = Path.Combine(run.Folder, Manifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(manifest))!;
        json["status"] = RunStatus.Running;
        File.WriteAllText(manifest, json.ToJsonString());

        var (code, output, _) = Run("diagnose", run.Folder);
        Assert.Equal(0, code);
        Assert.Contains("unfinished", output);
        var rows = ReadTable(Path.Combine(run.Folder, "diagnostics.parquet"));
        Assert.Equal(draws.Columns.Skip(3), rows.Keys);
        Assert.All(rows.Values, r => Assert.StartsWith("run unfinished", r.Flag));
    }

    [Fact]
    public void One_chain_gives_NaN_rhat_with_a_flag_not_an_error()
    {
        string csv = WriteCsv("one.csv", new Dictionary<string, double[][]> { ["x"] = Draws.Iid(1, 200, seed: 43) });
        var (code, _, _) = Run("diagnose", csv);
        Assert.Equal(0, code);
        var r = ReadTable(Path.Combine(_dir, "one.diagnostics.parquet"))["x"];
        Assert.True(double.IsNaN(r.Rhat));
        Assert.StartsWith("one chain", r.Flag);
    }

    [Fact]
    public void Bad_inputs_give_one_line_and_exit_2()
    {
        string noDraw = Path.Combine(_dir, "nodraw.csv");
        File.WriteAllText(noDraw, "chain,x\n0,1\n0,2\n");
        string text = Path.Combine(_dir, "text.csv");
        File.WriteAllText(text, "chain,draw,x\n0,0,1\n0,1,abc\n");
        string other = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(other, "hello");
        string emptyFolder = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        string good = WriteCsv("good.csv", new Dictionary<string, double[][]> { ["x"] = Draws.Iid(2, 20, seed: 44) });

        foreach (var args in new[]
                 {
                     new[] { "diagnose", Path.Combine(_dir, "missing.csv") },
                     new[] { "diagnose", noDraw },
                     new[] { "diagnose", text },
                     new[] { "diagnose", other },
                     new[] { "diagnose", emptyFolder },
                     new[] { "diagnose", good, "--space", "canonical" },
                     new[] { "diagnose", good, "--out", good },
                     new[] { "diagnose" },
                 })
        {
            var (code, output, error) = Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}, {error}");
            Assert.StartsWith("error: ", error);
            Assert.Single(error.TrimEnd().Split('\n'));
        }
        Assert.Contains("'draw'", Run("diagnose", noDraw).Err);
        Assert.Contains("not a number", Run("diagnose", text).Err);
    }
}
