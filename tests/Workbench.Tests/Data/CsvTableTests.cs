using System.Globalization;
using System.Text;
using TorchSharp;
using Workbench.Studies.Data;

namespace Workbench.Tests.Data;

public class CsvTableTests
{
    /// <summary>Rows (x1, x2, y) with y = x1 + 10*x2 and x1 = row index, so every row is identifiable after the shuffle.</summary>
    private static string RegressionCsv(int rows)
    {
        var text = new StringBuilder("x1,x2,y\n");
        for (int i = 0; i < rows; i++)
        {
            double x2 = i * 0.5 - 1;
            text.Append(CultureInfo.InvariantCulture, $"{i},{x2},{i + 10 * x2}\n");
        }
        return text.ToString();
    }

    private static Dataset Load(string path, TaskKind task, string? target = "y", double testFraction = 0.2, int seed = 0) =>
        DataSource.Load(new DataOptions(path, task, target, testFraction, seed));

    [Fact]
    public void Csv_regression_keeps_every_row_once_with_its_target()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("linear.csv", RegressionCsv(10));
        using var data = Load(path, TaskKind.Regression);

        Assert.Equal("csv", data.Kind);
        Assert.Equal(path, data.Name);
        Assert.Equal(TaskKind.Regression, data.Task);
        Assert.Equal(["x1", "x2"], data.FeatureNames);
        Assert.Equal([2L], data.SampleShape);
        Assert.Equal(0, data.NumClasses);
        Assert.Equal([8L, 2], data.TrainX.shape);
        Assert.Equal([2L, 2], data.TestX.shape);
        Assert.Equal(torch.ScalarType.Float32, data.TrainY.dtype);
        Assert.Equal([8L], data.TrainY.shape);

        var seen = new List<long>();
        foreach (var (x, y) in new[] { (data.TrainX, data.TrainY), (data.TestX, data.TestY) })
        {
            float[] features = x.data<float>().ToArray();
            float[] targets = y.data<float>().ToArray();
            for (int r = 0; r < targets.Length; r++)
            {
                Assert.Equal(features[2 * r] + 10 * features[2 * r + 1], targets[r], 4);
                seen.Add((long)features[2 * r]);
            }
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), seen.Order());
        Assert.Equal("none (CSV features used as given)", data.Provenance["normalisation"]);
        Assert.True(data.Provenance.ContainsKey("sha256:linear.csv"));
    }

    [Fact]
    public void Csv_classification_gives_int64_classes_and_counts_them()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("iris-like.csv",
            "petal,sepal,species\n1.0,2.0,0\n1.5,2.5,1\n3,4,2\n0.5,1,0\n2,2,1\n3.5,3,2\n");
        using var data = Load(path, TaskKind.Classification, target: "species", testFraction: 0.5);

        Assert.Equal(3, data.NumClasses);
        Assert.Equal(torch.ScalarType.Int64, data.TrainY.dtype);
        Assert.Equal(3, data.TrainY.shape[0]);
        Assert.Equal(3, data.TestY.shape[0]);
        long[] labels = [.. data.TrainY.data<long>().ToArray(), .. data.TestY.data<long>().ToArray()];
        Assert.Equal([0L, 0, 1, 1, 2, 2], labels.Order());
    }

    [Fact]
    public void Target_column_may_sit_anywhere_and_quoted_names_are_unquoted()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("quoted.csv", "\"label\",\"a, b\",c\n1,2,3\n0,5,6\n1,8,9\n0,11,12\n");
        using var data = Load(path, TaskKind.Classification, target: "label", testFraction: 0.25);
        Assert.Equal(["a, b", "c"], data.FeatureNames);
        float[] train = data.TrainX.data<float>().ToArray();
        Assert.All(Enumerable.Range(0, train.Length / 2), r => Assert.Equal(train[2 * r] + 1, train[2 * r + 1]));
    }

    [Fact]
    public void Same_seed_gives_the_same_split_and_another_seed_another()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("linear.csv", RegressionCsv(40));
        float[] TestRows(int seed)
        {
            using var data = Load(path, TaskKind.Regression, seed: seed);
            return data.TestX.data<float>().ToArray();
        }
        Assert.Equal(TestRows(3), TestRows(3));
        Assert.NotEqual(TestRows(3), TestRows(4));
    }

    [Theory]
    [InlineData(0.3, 3)]
    [InlineData(0.01, 1)]  // at least one test row
    [InlineData(0.99, 9)]  // at least one training row
    public void Test_fraction_sets_the_number_of_test_rows(double fraction, int testRows)
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("linear.csv", RegressionCsv(10));
        using var data = Load(path, TaskKind.Regression, testFraction: fraction);
        Assert.Equal(testRows, data.TestX.shape[0]);
        Assert.Equal(10 - testRows, data.TrainX.shape[0]);
    }

    [Fact]
    public void Blank_lines_and_a_byte_order_mark_are_tolerated()
    {
        using var folder = new TempFolder();
        string path = folder.File("bom.csv");
        File.WriteAllText(path, "x,y\r\n1,2\r\n\r\n3,4\r\n\r\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        using var data = Load(path, TaskKind.Regression, testFraction: 0.5);
        Assert.Equal(["x"], data.FeatureNames);
        Assert.Equal(1, data.TrainX.shape[0]);
    }

    [Fact]
    public void Csv_without_target_asks_for_target_option()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("linear.csv", RegressionCsv(5));
        Reported.By(() => Load(path, TaskKind.Regression, target: null), "linear.csv", "--target", "x1, x2, y");
    }

    [Fact]
    public void Missing_target_column_is_reported_with_the_columns_there_are()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("linear.csv", RegressionCsv(5));
        Reported.By(() => Load(path, TaskKind.Regression, target: "price"), "linear.csv", "'price'", "x1, x2, y");
    }

    [Fact]
    public void Non_numeric_cell_is_reported_with_line_and_column()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("bad.csv", "x1,x2,y\n1,2,3\n4,five,6\n");
        Reported.By(() => Load(path, TaskKind.Regression), "bad.csv", "line 3", "column 'x2'", "'five' is not a number");
    }

    [Fact]
    public void Empty_cell_is_reported_with_line_and_column()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("gap.csv", "x1,x2,y\n1,2,3\n4,,6\n");
        Reported.By(() => Load(path, TaskKind.Regression), "gap.csv", "line 3", "column 'x2'", "empty cell");
    }

    [Fact]
    public void Ragged_row_is_reported_with_its_line()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("ragged.csv", "x1,x2,y\n1,2,3\n4,5\n7,8,9\n");
        Reported.By(() => Load(path, TaskKind.Regression), "ragged.csv", "line 3", "2 fields", "ragged");
    }

    [Fact]
    public void Empty_csv_is_reported()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("empty.csv", "");
        Reported.By(() => Load(path, TaskKind.Regression), "empty.csv", "empty file");
    }

    [Fact]
    public void Csv_with_only_a_header_is_reported()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("header.csv", "x1,x2,y\n");
        Reported.By(() => Load(path, TaskKind.Regression), "header.csv", "no data rows");
    }

    [Fact]
    public void Csv_with_one_row_cannot_be_split()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("one.csv", "x1,y\n1,2\n");
        Reported.By(() => Load(path, TaskKind.Regression), "one.csv", "at least 2 data rows");
    }

    [Fact]
    public void Csv_with_only_the_target_column_is_reported()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("target-only.csv", "y\n1\n2\n");
        Reported.By(() => Load(path, TaskKind.Regression), "target-only.csv", "no feature columns");
    }

    [Fact]
    public void Duplicate_column_names_are_reported()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("twice.csv", "x,x,y\n1,2,3\n4,5,6\n");
        Reported.By(() => Load(path, TaskKind.Regression), "twice.csv", "'x' twice");
    }

    [Fact]
    public void Unclosed_quote_is_reported_with_its_line()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("quote.csv", "x,y\n\"1,2\n");
        Reported.By(() => Load(path, TaskKind.Regression), "quote.csv", "line 2", "quoted");
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-1")]
    public void Classification_target_that_is_not_a_class_index_is_reported(string label)
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("labels.csv", $"x,y\n1,0\n2,1\n3,{label}\n");
        Reported.By(() => Load(path, TaskKind.Classification), "labels.csv", "line 4", "column 'y'", "0..C-1");
    }

    [Fact]
    public void Classification_labels_must_number_classes_from_zero_without_gaps()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("one-based.csv", "x,y\n1,1\n2,2\n3,3\n");
        Reported.By(() => Load(path, TaskKind.Classification), "one-based.csv", "class 0 has no rows");
    }

    [Fact]
    public void Classification_with_a_single_class_is_reported()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("single.csv", "x,y\n1,0\n2,0\n3,0\n");
        Reported.By(() => Load(path, TaskKind.Classification), "single.csv", "two classes");
    }

    [Fact]
    public void Value_outside_float32_range_is_reported()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("huge.csv", "x,y\n1,2\n1e300,3\n");
        Reported.By(() => Load(path, TaskKind.Regression), "huge.csv", "line 3", "column 'x'", "float32");
    }
}
