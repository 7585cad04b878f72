using Workbench.Studies.Data;

namespace Workbench.Tests.Data;

public class Cifar10BinaryTests
{
    private static Dataset Load(TempFolder folder, bool normalize = false) =>
        DataSource.Load(new DataOptions(folder.Path, TaskKind.Classification, Normalize: normalize));

    private static void WriteBatches(TempFolder folder)
    {
        folder.Write("data_batch_1.bin", SyntheticFiles.CifarBatch([3, 9, 0], SyntheticFiles.CifarPattern));
        folder.Write("data_batch_4.bin", SyntheticFiles.CifarBatch([5], (r, c, i) => SyntheticFiles.CifarPattern(r + 3, c, i)));
        folder.Write("test_batch.bin", SyntheticFiles.CifarBatch([1, 2], (r, c, i) => SyntheticFiles.CifarPattern(r + 50, c, i)));
    }

    [Fact]
    public void Cifar10_records_round_trip_as_chw_images_with_their_labels()
    {
        using var folder = new TempFolder();
        WriteBatches(folder);
        using var data = Load(folder);

        Assert.Equal("cifar10", data.Kind);
        Assert.Equal([4L, 3, 32, 32], data.TrainX.shape);
        Assert.Equal([2L, 3, 32, 32], data.TestX.shape);
        Assert.Equal([3L, 32, 32], data.SampleShape);
        Assert.Equal(10, data.NumClasses);
        Assert.Equal([3L, 9, 0, 5], data.TrainY.data<long>().ToArray());
        Assert.Equal([1L, 2], data.TestY.data<long>().ToArray());
        float[] train = data.TrainX.data<float>().ToArray();
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < 1024; i += 37)
                    Assert.Equal(SyntheticFiles.CifarPattern(r, c, i) / 255f, train[(r * 3 + c) * 1024 + i], 6);
        // Channel 2 (blue), row 5, column 7 of the second test image.
        Assert.Equal(SyntheticFiles.CifarPattern(51, 2, 5 * 32 + 7) / 255f, data.TestX[1, 2, 5, 7].item<float>(), 6);
    }

    [Fact]
    public void Provenance_says_which_training_batches_were_used_and_which_were_missing()
    {
        using var folder = new TempFolder();
        WriteBatches(folder);
        using var data = Load(folder);
        Assert.Equal("data_batch_1.bin, data_batch_4.bin", data.Provenance["cifar10.train_batches"]);
        Assert.Equal("data_batch_2.bin, data_batch_3.bin, data_batch_5.bin", data.Provenance["cifar10.missing_train_batches"]);
        Assert.True(data.Provenance.ContainsKey("sha256:test_batch.bin"));
        Assert.True(data.Provenance.ContainsKey("sha256:data_batch_4.bin"));
    }

    [Fact]
    public void Cifar10_pixels_are_normalised_per_channel()
    {
        using var folder = new TempFolder();
        folder.Write("data_batch_1.bin", SyntheticFiles.CifarBatch([0, 1], (r, c, i) => 255));
        folder.Write("test_batch.bin", SyntheticFiles.CifarBatch([0], (r, c, i) => 0));
        using var data = Load(folder, normalize: true);
        double[] mean = [0.4914, 0.4822, 0.4465];
        double[] sd = [0.2470, 0.2435, 0.2616];
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal((1 - mean[c]) / sd[c], data.TrainX[1, c, 31, 31].item<float>(), 4);
            Assert.Equal(-mean[c] / sd[c], data.TestX[0, c, 0, 0].item<float>(), 4);
        }
        Assert.Contains("0.4914", data.Provenance["normalisation"]);
    }

    [Fact]
    public void Truncated_cifar10_batch_is_reported_with_its_name()
    {
        using var folder = new TempFolder();
        WriteBatches(folder);
        byte[] batch = SyntheticFiles.CifarBatch([1, 2], SyntheticFiles.CifarPattern);
        folder.Write("test_batch.bin", batch[..^100]);
        Reported.By(() => Load(folder), "test_batch.bin", "truncated", "3073");
    }

    [Fact]
    public void Empty_cifar10_batch_is_reported_with_its_name()
    {
        using var folder = new TempFolder();
        WriteBatches(folder);
        folder.Write("data_batch_4.bin", []);
        Reported.By(() => Load(folder), "data_batch_4.bin", "empty");
    }

    [Fact]
    public void Cifar10_label_out_of_range_is_reported_with_file_and_record()
    {
        using var folder = new TempFolder();
        WriteBatches(folder);
        folder.Write("data_batch_1.bin", SyntheticFiles.CifarBatch([3, 10], SyntheticFiles.CifarPattern));
        Reported.By(() => Load(folder), "data_batch_1.bin", "label 10", "record 1");
    }

    [Fact]
    public void Cifar10_folder_without_test_batch_is_reported()
    {
        using var folder = new TempFolder();
        WriteBatches(folder);
        File.Delete(folder.File("test_batch.bin"));
        Reported.By(() => Load(folder), folder.Path, "test_batch.bin");
    }

    [Fact]
    public void Cifar10_folder_without_training_batch_is_reported()
    {
        using var folder = new TempFolder();
        folder.Write("test_batch.bin", SyntheticFiles.CifarBatch([1], SyntheticFiles.CifarPattern));
        Reported.By(() => Load(folder), folder.Path, "data_batch_1.bin");
    }
}
