using System.Buffers.Binary;
using TorchSharp;
using Workbench.Studies.Data;

namespace Workbench.Tests.Data;

public class IdxFolderTests
{
    private static Dataset Load(TempFolder folder, bool normalize = false) =>
        DataSource.Load(new DataOptions(folder.Path, TaskKind.Classification, Normalize: normalize));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_files_round_trip_pixel_by_pixel_plain_and_gzipped(bool gzip)
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder, gzip);
        using var data = Load(folder);

        Assert.Equal("idx", data.Kind);
        Assert.Equal(folder.Path, data.Name);
        Assert.Equal([5L, 1, 3, 4], data.TrainX.shape);
        Assert.Equal([3L, 1, 3, 4], data.TestX.shape);
        Assert.Equal([1L, 3, 4], data.SampleShape);
        Assert.Equal(3, data.NumClasses);
        Assert.Equal([0L, 1, 2, 1, 0], data.TrainY.data<long>().ToArray());
        Assert.Equal([2L, 0, 1], data.TestY.data<long>().ToArray());
        float[] train = data.TrainX.data<float>().ToArray();
        float[] test = data.TestX.data<float>().ToArray();
        for (int i = 0; i < 5; i++)
            for (int p = 0; p < 12; p++)
                Assert.Equal(SyntheticFiles.Pattern(i, p) / 255f, train[i * 12 + p], 6);
        for (int i = 0; i < 3; i++)
            for (int p = 0; p < 12; p++)
                Assert.Equal(SyntheticFiles.Pattern(i + 100, p) / 255f, test[i * 12 + p], 6);
        // Row-major: pixel (row 1, col 2) of image 0 is byte 1*4+2.
        Assert.Equal(SyntheticFiles.Pattern(0, 6) / 255f, data.TrainX[0, 0, 1, 2].item<float>(), 6);
        Assert.Equal(4, data.Provenance.Keys.Count(k => k.StartsWith("sha256:")));
    }

    [Fact]
    public void Idx_pixels_are_normalised_with_the_mnist_constants()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        using var raw = Load(folder, normalize: false);
        using var normalised = Load(folder, normalize: true);
        using var expected = (raw.TrainX - HeldScalars.Of(0.1307)) / HeldScalars.Of(0.3081);
        Assert.True(expected.allclose(normalised.TrainX, rtol: 1e-5, atol: 1e-6));
        Assert.Equal("(x/255 - 0.1307)/0.3081", normalised.Provenance["normalisation"]);
    }

    [Fact]
    public void Uncompressed_file_wins_when_both_it_and_its_gz_exist()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("t10k-labels-idx1-ubyte.gz", SyntheticFiles.Gzip(SyntheticFiles.IdxLabels(0, 0, 0)));
        using var data = Load(folder);
        Assert.Equal([2L, 0, 1], data.TestY.data<long>().ToArray());
    }

    [Fact]
    public void Wrong_magic_number_is_reported_with_the_file_name()
    {
        using var folder = new TempFolder();
        var files = SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("train-images-idx3-ubyte", files["train-labels-idx1-ubyte"]);
        Reported.By(() => Load(folder), "train-images-idx3-ubyte", "magic", "labels file");
    }

    [Fact]
    public void Non_idx_content_is_reported_as_a_wrong_magic_number()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.WriteText("t10k-images-idx3-ubyte", "<html>not found</html>");
        Reported.By(() => Load(folder), "t10k-images-idx3-ubyte", "magic");
    }

    [Fact]
    public void Truncated_idx_file_is_reported_with_its_name()
    {
        using var folder = new TempFolder();
        var files = SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("train-images-idx3-ubyte", files["train-images-idx3-ubyte"][..^5]);
        Reported.By(() => Load(folder), "train-images-idx3-ubyte", "truncated");
    }

    [Fact]
    public void Truncated_gzipped_idx_file_is_reported_with_its_name()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder, gzip: true);
        byte[] gz = File.ReadAllBytes(folder.File("train-images-idx3-ubyte.gz"));
        folder.Write("train-images-idx3-ubyte.gz", gz[..(gz.Length / 2)]);
        Reported.By(() => Load(folder), "train-images-idx3-ubyte.gz", "truncated", "after gunzip");
    }

    [Fact]
    public void Corrupt_gzip_is_reported_with_its_name()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder, gzip: true);
        folder.Write("train-labels-idx1-ubyte.gz", [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        Reported.By(() => Load(folder), "train-labels-idx1-ubyte.gz", "gzip");
    }

    [Fact]
    public void Truncated_idx_header_is_reported_with_its_name()
    {
        using var folder = new TempFolder();
        var files = SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("t10k-images-idx3-ubyte", files["t10k-images-idx3-ubyte"][..10]);
        Reported.By(() => Load(folder), "t10k-images-idx3-ubyte", "truncated", "header");
    }

    [Fact]
    public void Bytes_beyond_what_the_header_describes_are_reported()
    {
        using var folder = new TempFolder();
        var files = SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("train-labels-idx1-ubyte", [.. files["train-labels-idx1-ubyte"], 7, 7]);
        Reported.By(() => Load(folder), "train-labels-idx1-ubyte", "2 bytes follow");
    }

    [Fact]
    public void Empty_idx_file_is_reported_with_its_name()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("t10k-labels-idx1-ubyte", []);
        Reported.By(() => Load(folder), "t10k-labels-idx1-ubyte", "empty");
    }

    [Fact]
    public void Image_and_label_count_mismatch_names_both_files()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("train-labels-idx1-ubyte", SyntheticFiles.IdxLabels(0, 1, 2, 1));
        Reported.By(() => Load(folder), "train-labels-idx1-ubyte", "4 labels", "train-images-idx3-ubyte", "5 images");
    }

    [Fact]
    public void Test_images_of_another_size_than_train_images_are_reported()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("t10k-images-idx3-ubyte", SyntheticFiles.IdxImages(3, 4, 3, SyntheticFiles.Pattern));
        Reported.By(() => Load(folder), "t10k-images-idx3-ubyte", "4x3", "3x4");
    }

    [Fact]
    public void Zero_image_size_in_the_header_is_reported()
    {
        using var folder = new TempFolder();
        var files = SyntheticFiles.WriteIdxFolder(folder);
        byte[] images = files["train-images-idx3-ubyte"];
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 0);
        folder.Write("train-images-idx3-ubyte", images);
        Reported.By(() => Load(folder), "train-images-idx3-ubyte", "dimension");
    }

    [Fact]
    public void Test_label_outside_the_training_classes_is_reported()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("t10k-labels-idx1-ubyte", SyntheticFiles.IdxLabels(2, 0, 7));
        Reported.By(() => Load(folder), "t10k-labels-idx1-ubyte", "label 7", "out of range");
    }

    [Fact]
    public void A_corrupt_training_label_that_leaves_classes_without_examples_is_reported()
    {
        // Classes 0..2 as written, then image 3's byte reads 42: classes 3..41 would have no example.
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("train-labels-idx1-ubyte", SyntheticFiles.IdxLabels(0, 1, 2, 42, 0));
        Reported.By(() => Load(folder), "train-labels-idx1-ubyte", "label 42 of image 3", "class 3 with no training example");
    }

    [Fact]
    public void Training_labels_with_a_single_class_are_reported()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        folder.Write("train-labels-idx1-ubyte", SyntheticFiles.IdxLabels(0, 0, 0, 0, 0));
        Reported.By(() => Load(folder), "train-labels-idx1-ubyte", "two classes");
    }

    [Fact]
    public void Idx_folder_missing_a_file_names_the_folder_and_the_file()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        File.Delete(folder.File("t10k-labels-idx1-ubyte"));
        Reported.By(() => Load(folder), folder.Path, "t10k-labels-idx1-ubyte");
    }

    [Fact]
    public void Loaded_tensors_are_released_on_dispose()
    {
        using var folder = new TempFolder();
        SyntheticFiles.WriteIdxFolder(folder);
        var data = Load(folder);
        torch.Tensor x = data.TrainX;
        data.Dispose();
        Assert.True(x.IsInvalid);
    }
}
