using TorchSharp;
using Workbench.Studies.Data;
using static TorchSharp.torch;

namespace Workbench.Tests.Data;

/// <summary>Random flips and crops (<see cref="ImageAugmentation"/>) on tiny batches [K = 2, B = 8, C = 3, H = 8, W = 8].</summary>
public sealed class ImageAugmentationTests
{
    private const int K = 2, B = 8, C = 3, H = 8, W = 8;

    /// <summary>Distinct values everywhere, so that a crop offset or flip is never mistaken for another.</summary>
    private static Tensor Batch(ScalarType dtype = ScalarType.Float32) =>
        arange(HeldScalars.Zero, HeldScalars.Of(K * B * C * H * W), HeldScalars.One, dtype).add(HeldScalars.One, HeldScalars.One).view(K, B, C, H, W);

    private static Generator[] Generators(params ulong[] seeds) => seeds.Select(s => new Generator(s)).ToArray();

    /// <summary>Same shape and every element equal (Tensor.equal is element-wise here).</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static float[] Values(Tensor t) => t.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    public void Augmentation_keeps_shape_dtype_and_leaves_its_input_alone(ScalarType dtype)
    {
        using var x = Batch(dtype);
        using var before = x.clone();
        using var y = new ImageAugmentation().Apply(x, Generators(1, 2));
        Assert.Equal(x.shape, y.shape);
        Assert.Equal(dtype, y.dtype);
        Assert.Equal(x.device_type, y.device_type);
        Assert.True(Same(x, before));
        Assert.False(Same(y, x)); // pad 4, flips at ½: sixteen examples all left alone would be a bug
    }

    [Fact]
    public void Augmentation_with_no_padding_and_no_flips_is_the_identity()
    {
        using var x = Batch();
        using var y = new ImageAugmentation(pad: 0, flipProbability: 0).Apply(x, Generators(1, 2));
        Assert.True(Same(y, x));
    }

    [Fact]
    public void Augmentation_with_no_padding_and_every_flip_is_the_exact_mirror()
    {
        using var x = Batch();
        using var mirror = x.flip(4);
        using var y = new ImageAugmentation(pad: 0, flipProbability: 1).Apply(x, Generators(1, 2));
        Assert.True(Same(y, mirror));
        Assert.False(Same(y, x));
    }

    /// <summary>The naive reference: example image [C, H, W] padded by hand with zeros, window at (dy, dx), read right to left if mirrored.</summary>
    private static float[] NaiveCrop(float[] image, int pad, int dy, int dx, bool flip)
    {
        int hp = H + 2 * pad, wp = W + 2 * pad;
        var padded = new float[C * hp * wp];
        for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            padded[(c * hp + i + pad) * wp + j + pad] = image[(c * H + i) * W + j];
        var output = new float[C * H * W];
        for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
        {
            int column = flip ? W - 1 - j : j;
            output[(c * H + i) * W + j] = padded[(c * hp + dy + i) * wp + dx + column];
        }
        return output;
    }

    [Theory]
    [InlineData(4)]
    [InlineData(1)]
    public void Every_output_example_is_a_flipped_or_not_crop_of_its_padded_input(int pad)
    {
        using var x = Batch();
        using var y = new ImageAugmentation(pad).Apply(x, Generators(7, 8));
        float[] input = Values(x), output = Values(y);
        int size = C * H * W;
        var found = new HashSet<(int Dy, int Dx, bool Flip)>();
        for (int e = 0; e < K * B; e++)
        {
            var image = input.AsSpan(e * size, size).ToArray();
            var actual = output.AsSpan(e * size, size).ToArray();
            // Exactly one window and direction reproduces the example (its pixels are distinct and nonzero).
            var matches = (from dy in Enumerable.Range(0, 2 * pad + 1)
                           from dx in Enumerable.Range(0, 2 * pad + 1)
                           from flip in new[] { false, true }
                           where NaiveCrop(image, pad, dy, dx, flip).SequenceEqual(actual)
                           select (dy, dx, flip)).ToList();
            Assert.True(matches.Count == 1, $"example {e}: {matches.Count} crops of its padded input match it");
            found.Add(matches[0]);
        }
        // Per-example choices: sixteen examples do not share one window and direction, and both directions occur.
        Assert.True(found.Count > 4, $"only {found.Count} distinct (dy, dx, flip) among {K * B} examples");
        Assert.Contains(found, f => f.Flip);
        Assert.Contains(found, f => !f.Flip);
    }

    [Fact]
    public void Augmentation_draws_its_choices_in_the_documented_order()
    {
        // B uniforms (flip below ½), then B·2 offsets (dy, dx) per chain: replayed here from generators of the same seeds.
        using var x = Batch();
        using var y = new ImageAugmentation().Apply(x, Generators(21, 22));
        float[] input = Values(x), output = Values(y);
        int size = C * H * W;
        for (int k = 0; k < K; k++)
        {
            using var g = new Generator(21UL + (ulong)k);
            var u = rand(B, generator: g).data<float>().ToArray();
            var offsets = randint(0, 9, [B, 2], generator: g).data<long>().ToArray();
            for (int b = 0; b < B; b++)
            {
                int e = k * B + b;
                var expected = NaiveCrop(input.AsSpan(e * size, size).ToArray(), 4, (int)offsets[2 * b], (int)offsets[2 * b + 1], u[b] < 0.5f);
                Assert.Equal(expected, output.AsSpan(e * size, size).ToArray());
            }
        }
    }

    [Fact]
    public void Per_example_choices_differ_within_a_batch()
    {
        // Sixteen copies of one image: identical choices would give identical outputs.
        using var image = arange(HeldScalars.Zero, HeldScalars.Of(C * H * W), HeldScalars.One, ScalarType.Float32).add(HeldScalars.One, HeldScalars.One).view(1, 1, C, H, W);
        using var x = image.expand(K, B, C, H, W).contiguous();
        using var y = new ImageAugmentation().Apply(x, Generators(3, 4));
        int size = C * H * W;
        float[] output = Values(y);
        int distinct = Enumerable.Range(0, K * B).Select(e => string.Join(",", output.AsSpan(e * size, size).ToArray())).Distinct().Count();
        Assert.True(distinct >= K * B / 2, $"only {distinct} distinct outputs among {K * B} copies of one image");
    }

    [Fact]
    public void Same_seed_gives_the_same_output_and_another_seed_does_not()
    {
        using var x = Batch();
        var augmentation = new ImageAugmentation();
        using var a = augmentation.Apply(x, Generators(5, 6));
        using var b = augmentation.Apply(x, Generators(5, 6));
        using var c = augmentation.Apply(x, Generators(5, 9));
        Assert.True(Same(a, b));
        Assert.True(Same(a[0], c[0]));  // chain 0 kept its seed
        Assert.False(Same(a[1], c[1]));
    }

    [Fact]
    public void A_chain_augments_the_same_alone_as_batched_with_others()
    {
        using var x = Batch();
        var augmentation = new ImageAugmentation();
        var seeds = new ulong[] { 11, 12 };
        using var together = augmentation.Apply(x, ImageAugmentation.GeneratorsFor(seeds));
        using var alone = augmentation.Apply(x.narrow(0, 1, 1), ImageAugmentation.GeneratorsFor([seeds[1]]));
        Assert.True(Same(together.narrow(0, 1, 1), alone));
    }

    [Fact]
    public void Augmentation_seed_is_derived_from_the_data_order_seed_and_is_not_it()
    {
        ulong dataOrder = Workbench.Samplers.ChainSeeds.For(0, 0).DataOrder;
        Assert.Equal(ImageAugmentation.SeedFor(dataOrder), ImageAugmentation.SeedFor(dataOrder));
        Assert.NotEqual(dataOrder, ImageAugmentation.SeedFor(dataOrder));
        Assert.NotEqual(ImageAugmentation.SeedFor(dataOrder), ImageAugmentation.SeedFor(dataOrder + 1));
        Assert.True(ImageAugmentation.SeedFor(ulong.MaxValue) <= long.MaxValue); // a valid torch seed
    }

    [Fact]
    public void Augmentation_refuses_what_is_not_a_batch_of_images()
    {
        using var features = zeros(K, B, 12);
        Assert.Contains("[K, B, C, H, W]", Assert.Throws<ArgumentException>(() => new ImageAugmentation().Apply(features, Generators(1, 2))).Message);
        using var x = Batch();
        Assert.Contains("needs 2 generators", Assert.Throws<ArgumentException>(() => new ImageAugmentation().Apply(x, Generators(1))).Message);
        Assert.True(ImageAugmentation.Supports([3, 32, 32]));
        Assert.False(ImageAugmentation.Supports([12]));
    }
}
