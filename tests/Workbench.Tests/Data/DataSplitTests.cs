using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Workbench.Cli;
using Workbench.Studies.Data;
using Workbench.Studies.ModeConnectivity;
using Workbench.Studies.Storage;
using static TorchSharp.torch;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Data;

/// <summary>
/// Data splits a user controls and can see: the validation split, --test-fraction 0, --test-data, and splits.parquet,
/// whose rows must reproduce exactly the examples a run held.
/// </summary>
public sealed class DataSplitTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Rows (x1, x2, label): x1 = the row index, so each example names its row; label = row mod 3.</summary>
    private string Csv(string name, int rows, int offset = 0)
    {
        var text = new StringBuilder("x1,x2,label\n");
        for (int i = 0; i < rows; i++) text.Append(CultureInfo.InvariantCulture, $"{i + offset},{(i % 7) * 0.25},{i % 3}\n");
        return _folder.WriteText(name, text.ToString());
    }

    private static long[] FirstFeature(Tensor x)
    {
        using var column = x.select(1, 0).to_type(ScalarType.Int64);
        return column.data<long>().ToArray();
    }

    [Fact]
    public void Validation_split_partitions_the_training_rows_by_seed()
    {
        // 10 % of the 8,000 embedded MNIST training images: round(800) rows held out, disjoint from the 7,200 that stay,
        // together exactly rows 0 … 7,999, each split in file order; the same seed gives the same rows, another seed others.
        using var data = DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification, SplitSeed: 3, ValFraction: 0.1));
        Assert.Equal(800, data.ValRows.Length);
        Assert.Equal(7200, data.TrainRows.Length);
        Assert.Equal([7200L, 1, 28, 28], data.TrainX.shape);
        Assert.Equal(800, data.ValCount);
        Assert.Empty(data.TrainRows.Intersect(data.ValRows));
        Assert.Equal(Enumerable.Range(0, 8000).Select(i => (long)i), data.TrainRows.Concat(data.ValRows).Order());
        Assert.Equal(data.TrainRows.Order(), data.TrainRows);
        Assert.Equal("800", data.Provenance["val_count"]);
        using var whole = DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification));
        // The held-out tensors are the whole set's rows they name.
        using var index = tensor(data.ValRows);
        using var expected = whole.TrainX.index_select(0, index);
        Assert.True(expected.allclose(data.ValX, rtol: 0, atol: 0), "the validation tensors are the rows they name");
        using var again = DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification, SplitSeed: 3, ValFraction: 0.1));
        Assert.Equal(data.ValRows, again.ValRows);
        using var other = DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification, SplitSeed: 4, ValFraction: 0.1));
        Assert.NotEqual(data.ValRows, other.ValRows);
    }

    [Fact]
    public void Csv_rows_are_recorded_for_every_split()
    {
        // A seeded 20 % test split of 50 rows: TrainRows/TestRows name each example's data row (x1 = row index).
        string path = Csv("table.csv", 50);
        using var data = DataSource.Load(new DataOptions(path, TaskKind.Classification, "label", 0.2, 7));
        Assert.Equal(FirstFeature(data.TrainX), data.TrainRows);
        Assert.Equal(FirstFeature(data.TestX), data.TestRows);
        Assert.Equal(10, data.TestRows.Length);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), data.TrainRows.Concat(data.TestRows).Order());
    }

    [Fact]
    public void Test_fraction_zero_trains_on_every_row_and_test_data_is_a_separate_test_set()
    {
        string path = Csv("train.csv", 30);
        using (var all = DataSource.Load(new DataOptions(path, TaskKind.Classification, "label", TestFraction: 0)))
        {
            Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), all.TrainRows);
            Assert.Equal(0, all.TestCount);
            Assert.Contains("test fraction 0", all.Provenance["split"]);
        }
        string test = Csv("test.csv", 12, offset: 100);
        using (var separate = DataSource.Load(new DataOptions(path, TaskKind.Classification, "label", TestData: test)))
        {
            Assert.Equal(30, separate.TrainCount);
            Assert.Equal(Enumerable.Range(100, 12).Select(i => (long)i), FirstFeature(separate.TestX));
            Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i), separate.TestRows);
        }
        string otherColumns = _folder.WriteText("other.csv", "x1,label\n1,0\n");
        Reported.By(() => DataSource.Load(new DataOptions(path, TaskKind.Classification, "label", TestData: otherColumns)), otherColumns, "same order");
        string unknownClass = _folder.WriteText("unknown.csv", "x1,x2,label\n1,0,5\n");
        Reported.By(() => DataSource.Load(new DataOptions(path, TaskKind.Classification, "label", TestData: unknownClass)), unknownClass, "0..2");
        Reported.By(() => DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification, TestData: test)), "mnist-subset", "CSV");
    }

    [Fact]
    public void A_sample_run_writes_splits_parquet_that_reproduces_its_rows()
    {
        // workbench sample on a 60-row CSV with a 25 % test split and 20 % of the training rows held out: splits.parquet
        // round-trips, its splits partition rows 0 … 59, the val rows are round(0.2·45) = 9, and the manifest counts them.
        string path = Csv("sample.csv", 60);
        string run = Path.Combine(_folder.Path, "run");
        var result = Run("sample", "--model", "mlp", "--widths", "8", "--data", path, "--target", "label", "--test-fraction", "0.25",
            "--val-fraction", "0.2", "--split-seed", "2", "--steps", "20", "--warmup", "10", "--thin", "5", "--batch-size", "8",
            "--lr", "1e-3", "--chains", "1", "--threads", "1", "--eval-train", "true", "--out", run);
        Assert.True(result.Code == 0, result.Err + result.Out);
        var splits = SplitsTable.Read(Path.Combine(run, SplitsTable.FileName));
        Assert.Equal(15, splits["test"].Length);
        Assert.Equal(9, splits["val"].Length);
        Assert.Equal(36, splits["train"].Length);
        Assert.Equal(Enumerable.Range(0, 60).Select(i => (long)i), splits.Values.SelectMany(r => r).Order());
        using (var data = DataSource.Load(new DataOptions(path, TaskKind.Classification, "label", 0.25, 2, ValFraction: 0.2)))
        {
            Assert.Equal(FirstFeature(data.TrainX), splits["train"]);
            Assert.Equal(FirstFeature(data.ValX), splits["val"]);
        }
        var manifest = Manifest.Load(run);
        Assert.Equal(60, manifest.Tables["splits"]);
        var eval = ParquetTable.Read(Path.Combine(run, "eval.parquet"));
        Assert.Equal(["test", "train", "val"], eval.Column<string>("split").Distinct().Order());
    }

    [Fact]
    public void Test_fraction_zero_evaluates_on_the_training_rows_and_says_so()
    {
        string path = Csv("every.csv", 40);
        string run = Path.Combine(_folder.Path, "every");
        var result = Run("sample", "--model", "mlp", "--widths", "8", "--data", path, "--target", "label", "--test-fraction", "0",
            "--steps", "20", "--warmup", "10", "--thin", "5", "--batch-size", "8", "--lr", "1e-3", "--chains", "1", "--threads", "1", "--out", run);
        Assert.True(result.Code == 0, result.Err + result.Out);
        Assert.Contains("evaluated on the training rows only", result.Out);
        var eval = ParquetTable.Read(Path.Combine(run, "eval.parquet"));
        Assert.Equal(["train"], eval.Column<string>("split").Distinct());
        var splits = SplitsTable.Read(Path.Combine(run, SplitsTable.FileName));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), splits["train"]);
        Assert.False(splits.ContainsKey("test"));
        Assert.Contains("test fraction 0", Manifest.Load(run).Get("data")!["split"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("--test-data", "TEST", "--test-fraction", "0.3")]
    [InlineData("--test-fraction", "0", "--eval-train", "false")]
    [InlineData("--prior-std", "0.5", "--prior-precision", "0.01")]
    [InlineData("--prior-precision", "0.01", "--sampler", "sgld")]
    [InlineData("--val-fraction", "1", "--sampler", "sgld")]
    [InlineData("--test-fraction", "-0.1", "--sampler", "sgld")]
    public void Bad_split_and_prior_combinations_are_one_line_and_exit_2(string a, string aValue, string b, string bValue)
    {
        string path = Csv("bad.csv", 20);
        string test = Csv("bad-test.csv", 5);
        string run = Path.Combine(_folder.Path, "never");
        var result = Run("sample", "--model", "mlp", "--widths", "8", "--data", path, "--target", "label", a, aValue == "TEST" ? test : aValue,
            b, bValue, "--steps", "10", "--warmup", "5", "--thin", "1", "--batch-size", "4", "--out", run);
        Assert.Equal(2, result.Code);
        Assert.StartsWith("error: ", result.Err);
        Assert.Single(result.Err.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(run), "nothing is written for a refused run");
    }

    [Fact]
    public void Test_data_with_image_data_is_refused()
    {
        string test = Csv("images-test.csv", 5);
        var result = Run("sample", "--model", "mlp", "--widths", "8", "--test-data", test, "--steps", "10", "--warmup", "5", "--thin", "1",
            "--out", Path.Combine(_folder.Path, "never"));
        Assert.Equal(2, result.Code);
        Assert.Contains("--test-data applies to CSV", result.Err);
    }

    [Fact]
    public void Lmc_holds_out_the_papers_validation_split_and_writes_its_rows()
    {
        // lmc-mlp's 10 % validation split on a 1,000-image training subset of a 1-pair run: 800 of the 8,000 rows held out,
        // the first 1,000 of the remaining 7,200 trained on (what splits.parquet lists as train), 2,000 test rows; each
        // network's validation loss is in the manifest.
        string run = Path.Combine(_folder.Path, "lmc");
        var result = Run("lmc", "--model", "mlp", "--widths", "16", "--pairs", "1", "--epochs", "1", "--train-examples", "1000",
            "--eval-examples", "200", "--threads", "1", "--out", run);
        Assert.True(result.Code == 0, result.Err + result.Out);
        var splits = SplitsTable.Read(Path.Combine(run, SplitsTable.FileName));
        Assert.Equal(800, splits["val"].Length);
        Assert.Equal(1000, splits["train"].Length);
        Assert.Equal(2000, splits["test"].Length);
        Assert.Empty(splits["train"].Intersect(splits["val"]));
        var manifest = Manifest.Load(run);
        Assert.Equal(0.1, manifest.Get("config")!["val_fraction"]!.GetValue<double>());
        var network = manifest.Get("variants")!["standard"]!["networks"]![0]!;
        Assert.True(network["val_loss"]!.GetValue<double>() > 0);
        Assert.Equal(0.1, TrainingStudyPresets.Get("lmc-mlp").Cpu.ValFraction);
        Assert.Equal(0.1, TrainingStudyPresets.Get("lmc-mlp").FullSize.ValFraction);
    }
}
