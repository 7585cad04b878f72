using System.Diagnostics;
using System.Security.Cryptography;
using TorchSharp;
using Workbench.Studies.Data;
using Xunit.Abstractions;

namespace Workbench.Tests.Data;

/// <summary>One normalised load of the embedded set, shared by the tests that only read it.</summary>
public sealed class EmbeddedMnistFixture : IDisposable
{
    public Dataset Data { get; } = DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification));
    public void Dispose() => Data.Dispose();
}

public class EmbeddedMnistTests(EmbeddedMnistFixture fixture, ITestOutputHelper output) : IClassFixture<EmbeddedMnistFixture>
{
    private readonly Dataset _mnist = fixture.Data;

    private static Stream? Resource(string name) => typeof(DataSource).Assembly.GetManifestResourceStream(name);

    [Fact]
    public void Embedded_mnist_subset_has_8000_train_and_2000_test_images()
    {
        Assert.Equal("mnist-subset", _mnist.Name);
        Assert.Equal("embedded-mnist", _mnist.Kind);
        Assert.Equal(TaskKind.Classification, _mnist.Task);
        Assert.Equal([8000L, 1, 28, 28], _mnist.TrainX.shape);
        Assert.Equal([8000L], _mnist.TrainY.shape);
        Assert.Equal([2000L, 1, 28, 28], _mnist.TestX.shape);
        Assert.Equal([2000L], _mnist.TestY.shape);
        Assert.Equal(torch.ScalarType.Float32, _mnist.TrainX.dtype);
        Assert.Equal(torch.ScalarType.Int64, _mnist.TrainY.dtype);
        Assert.Equal([1L, 28, 28], _mnist.SampleShape);
        Assert.Equal(10, _mnist.NumClasses);
        Assert.Empty(_mnist.FeatureNames);
    }

    [Fact]
    public void Embedded_split_is_stratified_so_every_digit_is_one_fifth_test()
    {
        long[] train = ClassCounts(_mnist.TrainY);
        long[] test = ClassCounts(_mnist.TestY);
        for (int digit = 0; digit < 10; digit++)
        {
            long total = train[digit] + test[digit];
            Assert.InRange(total, 800, 1200); // the npm package holds 863..1127 images per digit
            // Largest-remainder allocation: within one image of the exact fifth.
            Assert.InRange(test[digit], total / 5.0 - 1, total / 5.0 + 1);
        }
        Assert.Equal(2000, test.Sum());
    }

    [Fact]
    public void Embedded_files_are_not_sorted_by_digit()
    {
        long[] first = _mnist.TrainY.narrow(0, 0, 100).data<long>().ToArray();
        Assert.True(first.Distinct().Count() >= 8, "the first 100 training labels should mix most digits");
    }

    [Fact]
    public void Normalised_pixels_have_mean_near_0_and_sd_near_1()
    {
        // MNIST's constants (0.1307, 0.3081) come from the full training set; a 8,000-image subset lands close.
        double mean = _mnist.TrainX.mean().item<float>();
        double sd = _mnist.TrainX.std().item<float>();
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(sd, 0.95, 1.05);
        Assert.Equal(-0.1307 / 0.3081, _mnist.TrainX.min().item<float>(), 4);
        Assert.Equal((1 - 0.1307) / 0.3081, _mnist.TrainX.max().item<float>(), 4);
    }

    [Fact]
    public void Unnormalised_pixels_are_bytes_over_255()
    {
        using var raw = DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification, Normalize: false));
        Assert.Equal(0f, raw.TrainX.min().item<float>());
        Assert.Equal(1f, raw.TrainX.max().item<float>());
        Assert.InRange(raw.TrainX.mean().item<float>(), 0.12, 0.14);
        using var expected = (raw.TestX - HeldScalars.Of(0.1307)) / HeldScalars.Of(0.3081);
        Assert.True(expected.allclose(_mnist.TestX, rtol: 1e-5, atol: 1e-5));
        Assert.Equal("x/255 (no normalisation)", raw.Provenance["normalisation"]);
    }

    [Fact]
    public void Provenance_records_checksums_split_and_normalisation()
    {
        var sums = new StreamReader(Resource("mnist-subset/SHA256SUMS")!).ReadToEnd()
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split("  "))
            .ToDictionary(parts => parts[1], parts => parts[0]);
        Assert.Equal(4, sums.Count);
        foreach (var (file, sha256) in sums)
        {
            Assert.Equal(sha256, _mnist.Provenance[$"sha256:{file}"]);
            using var stream = Resource($"mnist-subset/{file}")!;
            Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(stream)));
        }
        Assert.Equal("(x/255 - 0.1307)/0.3081", _mnist.Provenance["normalisation"]);
        Assert.Contains("20250607", _mnist.Provenance["split"]);
        Assert.Equal("8000", _mnist.Provenance["train_count"]);
        Assert.Equal("1x28x28", _mnist.Provenance["sample_shape"]);
    }

    [Fact]
    public void Tampered_embedded_file_fails_its_checksum_with_its_name()
    {
        Stream? Tampered(string name)
        {
            var original = Resource(name);
            if (original is null || name != "mnist-subset/t10k-labels-idx1-ubyte.gz") return original;
            var bytes = new MemoryStream();
            using (original) original.CopyTo(bytes);
            var copy = bytes.ToArray();
            copy[^10] ^= 0x01;
            return new MemoryStream(copy);
        }
        Reported.By(() => EmbeddedMnist.Load(Tampered, normalize: true), "t10k-labels-idx1-ubyte.gz", "SHA-256");
    }

    [Fact]
    public void Missing_embedded_file_is_reported_with_its_name()
    {
        Stream? WithoutTrainImages(string name) => name.EndsWith("train-images-idx3-ubyte.gz") ? null : Resource(name);
        Reported.By(() => EmbeddedMnist.Load(WithoutTrainImages, normalize: true), "train-images-idx3-ubyte.gz", "missing");
    }

    [Fact]
    public void Embedded_set_loads_well_under_a_second()
    {
        var clock = Stopwatch.StartNew();
        using (DataSource.Load(new DataOptions("mnist-subset", TaskKind.Classification))) { }
        clock.Stop();
        output.WriteLine($"embedded mnist-subset loaded in {clock.Elapsed.TotalMilliseconds:F0} ms");
        // Typically ~0.1 s; the bound leaves room for a busy shared machine but catches per-pixel tensor writes.
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 3);
    }

    [Fact]
    public void Embedded_set_is_classification_only()
    {
        Reported.By(() => DataSource.Load(new DataOptions("mnist-subset", TaskKind.Regression)), "mnist-subset", "classification");
    }

    private static long[] ClassCounts(torch.Tensor labels)
    {
        var counts = new long[10];
        foreach (long y in labels.data<long>().ToArray()) counts[y]++;
        return counts;
    }
}
