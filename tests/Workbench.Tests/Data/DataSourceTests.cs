using Workbench.Studies.Data;

namespace Workbench.Tests.Data;

public class DataSourceTests
{
    [Fact]
    public void Missing_path_is_reported_with_the_path()
    {
        string path = Path.Combine(Path.GetTempPath(), "workbench-no-such-data-" + Guid.NewGuid().ToString("N"));
        Reported.By(() => DataSource.Load(new DataOptions(path, TaskKind.Classification)), path, "no such file or folder");
    }

    [Fact]
    public void Folder_holding_idx_and_cifar10_files_lists_both()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("test_batch.bin", SyntheticFiles.CifarBatch([1], SyntheticFiles.CifarPattern));
        Reported.By(() => DataSource.Load(new DataOptions(folder.Path, TaskKind.Classification)),
            folder.Path, "train-images-idx3-ubyte", "test_batch.bin");
    }

    [Fact]
    public void Folder_with_no_known_files_lists_what_it_holds()
    {
        using var folder = new TempFolder();
        folder.WriteText("notes.txt", "hello");
        folder.WriteText("images.npy", "x");
        Directory.CreateDirectory(folder.File("cifar-10-batches-bin"));
        Reported.By(() => DataSource.Load(new DataOptions(folder.Path, TaskKind.Classification)),
            folder.Path, "cifar-10-batches-bin/, images.npy, notes.txt");
    }

    [Fact]
    public void Empty_folder_is_reported_as_empty()
    {
        using var folder = new TempFolder();
        Reported.By(() => DataSource.Load(new DataOptions(folder.Path, TaskKind.Classification)), folder.Path, "empty");
    }

    [Fact]
    public void File_that_is_not_csv_is_reported()
    {
        using var folder = new TempFolder();
        string path = folder.WriteText("data.json", "{}");
        Reported.By(() => DataSource.Load(new DataOptions(path, TaskKind.Classification)), path, ".csv");
    }

    [Fact]
    public void Image_folder_refuses_regression()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        Reported.By(() => DataSource.Load(new DataOptions(folder.Path, TaskKind.Regression)), folder.Path, "classification");
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void Test_fraction_outside_zero_to_one_is_refused(double fraction)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification, TestFraction: fraction)));
        Assert.Contains("TestFraction", error.Message);
    }

    [Fact]
    public void Split_generator_matches_the_data_script_and_the_published_splitmix64()
    {
        // Reference values from data/make_mnist_subset.py's SplitMix64 (seed 0's first output is the published one).
        var seedZero = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, seedZero.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, seedZero.NextUInt64());
        Assert.Equal([3, 9, 4, 8, 2, 1, 7, 0, 6, 5], new SplitMix64(20250607).Permutation(10));
        Assert.Equal([426, 57, 118, 82, 134, 989, 100, 348], new SplitMix64(7).Permutation(1000)[..8]);
    }
}
