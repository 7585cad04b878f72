using TorchSharp;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using static TorchSharp.torch;

namespace Workbench.Tests.Architectures;

public class CnnTests
{
    private static Cnn Net(Variant variant, int[]? widths = null, int[]? shape = null, ulong maskSeed = 1) =>
        (Cnn)ModelCatalog.Create(new ModelOptions("cnn", variant, Widths: widths, InputShape: shape, MaskSeed: maskSeed));

    /// <summary>The small CNN most tests use: widths 4, 8 on 3×8×8 images (four convs, one group each).</summary>
    private static Cnn Small(Variant variant, ulong maskSeed = 1) => Net(variant, [4, 8], [3, 8, 8], maskSeed);

    private static long[] Shuffled(int n, int seed)
    {
        var random = new Random(seed);
        var p = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        random.Shuffle(p);
        return p;
    }

    /// <summary>A fresh θ whose GroupNorm affines are moved off their (1, 0) start, so that permutations must carry
    /// them with their channels for the function to stay the same.</summary>
    private static Tensor Initial(Cnn net, Generator g)
    {
        var theta = net.InitialPosition(g);
        using var noise = randn([net.Layout.Count], generator: g);
        foreach (var s in net.Layout.Segments.Where(s => s.Name.StartsWith("gn")))
            theta.narrow(0, s.Offset, s.Count).add_(noise.narrow(0, s.Offset, s.Count), HeldScalars.One);
        return theta;
    }

    private static Tensor PermuteAll(Cnn net, Tensor theta) =>
        PermutationSymmetry.ApplyAll(net, theta, net.PermutationGroups.Select((g, i) => Shuffled(g.Size, 10 + i)).ToList());

    // Hand counts, default widths 32, 64, 10 classes (convs C_out·C_in·9, bias-free; GroupNorm γ, β: 2·C; head 64·10 + 10):
    //   CIFAR [3,32,32]: conv1 32·3·9 = 864, conv2 32·32·9 = 9,216, conv3 64·32·9 = 18,432, conv4 64·64·9 = 36,864;
    //     norms 64 + 64 + 128 + 128 = 384; head 650. Standard: 864 + 9,216 + 18,432 + 36,864 + 384 + 650 = 66,410.
    //     W-Asym fixes ⌈C_in·9/4⌉ per output channel: 32·7 + 32·72 + 64·72 + 64·144 = 224 + 2,304 + 4,608 + 9,216,
    //     plus the head's 10·8 = 80: 16,432 fixed, 66,410 − 16,432 = 49,978 trainable.
    //     σ-Asym trains everything and fixes its FiGLU matrices 32² + 32² + 64² + 64² = 10,240.
    //   MNIST [1,28,28]: conv1 32·1·9 = 288, so standard 66,410 − 864 + 288 = 65,834; W-Asym conv1 fixes 32·3 = 96:
    //     96 + 2,304 + 4,608 + 9,216 + 80 = 16,304 fixed, 65,834 − 16,304 = 49,530 trainable; σ-Asym as for CIFAR.
    [Theory]
    [InlineData(new[] { 3, 32, 32 }, "standard", 66_410, 0)]
    [InlineData(new[] { 3, 32, 32 }, "w-asym", 49_978, 16_432)]
    [InlineData(new[] { 3, 32, 32 }, "sigma-asym", 66_410, 10_240)]
    [InlineData(new[] { 1, 28, 28 }, "standard", 65_834, 0)]
    [InlineData(new[] { 1, 28, 28 }, "w-asym", 49_530, 16_304)]
    [InlineData(new[] { 1, 28, 28 }, "sigma-asym", 65_834, 10_240)]
    public void Cnn_parameter_counts_match_the_hand_count(int[] shape, string variant, long trainable, long fixedCount)
    {
        using INetwork net = Net(VariantNames.Parse(variant), shape: shape);
        Assert.Equal(trainable, net.TrainableCount);
        Assert.Equal(fixedCount, net.FixedCount);
        Assert.Equal(fixedCount, net.FixedTensors.Sum(f => f.FixedEntries));
        Assert.Equal(shape.Select(d => (long)d), ((Cnn)net).InputShape);
    }

    [Theory]
    [InlineData(new[] { 3, 32, 32 }, new[] { 7, 72, 72, 144, 8 })]
    [InlineData(new[] { 1, 28, 28 }, new[] { 3, 72, 72, 144, 8 })]
    public void W_asym_cnn_fixes_a_quarter_of_each_convs_entries_and_8_per_head_row(int[] shape, int[] nFix)
    {
        using var net = Net(Variant.WAsym, shape: shape);
        Assert.Equal(["conv1.weight", "conv2.weight", "conv3.weight", "conv4.weight", "head.weight"], net.FixedTensors.Select(f => f.Layer));
        Assert.Equal(nFix.Select(n => (double)n), net.FixedTensors.Select(f => f.Settings["n_fix"]));
        Assert.All(net.FixedTensors, f => Assert.Equal(1.0, f.Settings["kappa"]));
        Assert.All(net.FixedTensors, f => Assert.Equal(f.Shape[0] * (long)f.Settings["n_fix"], f.FixedEntries));
    }

    [Fact]
    public void N_fix_and_kappa_options_apply_to_every_layer()
    {
        using var net = (Cnn)ModelCatalog.Create(new ModelOptions("cnn", Variant.WAsym, Widths: [4, 8], NFix: 5, Kappa: 0.5, InputShape: [1, 8, 8]));
        // conv1 reads 1·9 entries, so 5 of them; the head reads 8 columns, so 5 of those too.
        Assert.All(net.FixedTensors, f => Assert.Equal(5.0, f.Settings["n_fix"]));
        Assert.All(net.FixedTensors, f => Assert.Equal(0.5, f.Settings["kappa"]));
    }

    [Fact]
    public void Permuting_channels_keeps_standard_cnn_function()
    {
        using var net = Small(Variant.Standard);
        Assert.Equal(["conv1", "conv2", "conv3", "conv4"], net.PermutationGroups.Select(g => g.Name));
        Assert.Equal([4, 4, 8, 8], net.PermutationGroups.Select(g => g.Size));
        using var g = new Generator(3);
        using var theta = Initial(net, g);
        using var x = randn([1, 4, 3, 8, 8], generator: g);
        using var permuted = PermuteAll(net, theta);
        using var before = net.Forward(theta.unsqueeze(0), x);
        using var after = net.Forward(permuted.unsqueeze(0), x);
        Assert.False(theta.allclose(permuted), "the permutation should move parameters");
        Assert.True(before.allclose(after, rtol: 1e-4, atol: 1e-5), "a standard CNN's function is invariant to channel permutations");
    }

    [Theory]
    [InlineData(Variant.WAsym)]
    [InlineData(Variant.SigmaAsym)]
    public void Permuting_channels_changes_symmetry_reduced_cnn_function(Variant variant)
    {
        using var net = Small(variant);
        using var g = new Generator(3);
        using var theta = Initial(net, g);
        using var x = randn([1, 4, 3, 8, 8], generator: g);
        using var permuted = PermuteAll(net, theta);
        using var before = net.Forward(theta.unsqueeze(0), x);
        using var after = net.Forward(permuted.unsqueeze(0), x);
        using var gap = (before - after).abs().max();
        Assert.True(gap.item<float>() > 1e-2f, $"{variant}: max output change {gap.item<float>()} after permuting channels");
    }

    [Theory]
    [InlineData(Variant.Standard)]
    [InlineData(Variant.WAsym)]
    [InlineData(Variant.SigmaAsym)]
    public void Batched_chains_compute_what_each_chain_computes_alone(Variant variant)
    {
        using var net = Small(variant);
        using var g = new Generator(5);
        var thetas = Enumerable.Range(0, 3).Select(_ => net.InitialPosition(g)).ToArray();
        using var theta = stack(thetas);
        using var x = randn([3, 5, 3, 8, 8], generator: g);
        using var all = net.Forward(theta, x);
        Assert.Equal([3L, 5, 10], all.shape);
        for (int k = 0; k < 3; k++)
        {
            using var alone = net.Forward(thetas[k].unsqueeze(0), x.narrow(0, k, 1));
            Assert.True(all.narrow(0, k, 1).allclose(alone, rtol: 1e-4, atol: 1e-5), $"{variant}: chain {k} differs when batched");
        }
        foreach (var t in thetas) t.Dispose();
    }

    [Theory]
    [InlineData(Variant.Standard)]
    [InlineData(Variant.WAsym)]
    [InlineData(Variant.SigmaAsym)]
    public void A_few_sgd_steps_lower_the_training_loss(Variant variant)
    {
        using var net = Net(variant, [4, 8]); // CIFAR-shaped [3,32,32] by default
        using var g = new Generator(6);
        using var x = randn([1, 8, 3, 32, 32], generator: g);
        using var y = randint(10, [8], generator: g);
        var (first, last) = SgdSteps.Run(net, seed: 6, x, y, lr: 0.1);
        Assert.True(last < first - 0.1f, $"{variant}: loss {first} → {last}");
    }

    [Fact]
    public void Masks_are_identical_for_the_same_seed_and_differ_across_seeds()
    {
        using var a = Small(Variant.WAsym, maskSeed: 7);
        using var b = Small(Variant.WAsym, maskSeed: 7);
        using var c = Small(Variant.WAsym, maskSeed: 8);
        Assert.Equal(5, a.FixedTensors.Count);
        Assert.Equal(a.FixedTensors.Select(t => t.Sha256), b.FixedTensors.Select(t => t.Sha256));
        Assert.Equal(a.Layout.Segments.Select(s => s.TrainableIndex), b.Layout.Segments.Select(s => s.TrainableIndex));
        Assert.All(a.FixedTensors.Zip(c.FixedTensors), p => Assert.NotEqual(p.First.Sha256, p.Second.Sha256));
        Assert.NotEqual(a.Layout["conv2.weight"].TrainableIndex, c.Layout["conv2.weight"].TrainableIndex);

        using var s1 = Small(Variant.SigmaAsym, maskSeed: 7);
        using var s2 = Small(Variant.SigmaAsym, maskSeed: 7);
        using var s3 = Small(Variant.SigmaAsym, maskSeed: 8);
        Assert.Equal(4, s1.FixedTensors.Count);
        Assert.Equal(s1.FixedTensors.Select(t => t.Sha256), s2.FixedTensors.Select(t => t.Sha256));
        Assert.All(s1.FixedTensors.Zip(s3.FixedTensors), p => Assert.NotEqual(p.First.Sha256, p.Second.Sha256));
    }

    [Fact]
    public void Weight_matching_recovers_a_permuted_standard_cnn_exactly()
    {
        using var net = Small(Variant.Standard);
        using var g = new Generator(11);
        using var thetaA = Initial(net, g);
        using var thetaB = PermuteAll(net, thetaA);
        Assert.True(WeightMatching.Distance(thetaA, thetaB) > 1e-4, "the applied permutations should move θ");

        var (aligned, found, _) = WeightMatching.Align(net, thetaA, thetaB, seed: 2);
        using (aligned)
        {
            Assert.Equal(0.0, WeightMatching.Distance(thetaA, aligned));
            Assert.True(aligned.allclose(thetaA, rtol: 0, atol: 0), "aligned θ_B must equal θ_A");
            Assert.Equal(net.PermutationGroups.Count, found.Length);
        }
    }

    [Fact]
    public void Weight_matching_refuses_a_w_asym_cnn()
    {
        using var net = Small(Variant.WAsym);
        using var g = new Generator(12);
        using var a = net.InitialPosition(g);
        using var b = PermuteAll(net, a);
        var error = Assert.Throws<ArgumentException>(() => WeightMatching.Align(net, a, b, seed: 1));
        Assert.Contains("standard", error.Message);
    }

    [Fact]
    public void Cnn_refuses_feature_vector_data_in_one_line()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelCatalog.Create(new ModelOptions("cnn", InputShape: [2])));
        Assert.Contains("cnn", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("--depth")]
    [InlineData("--layer-norm")]
    [InlineData("--activation")]
    public void Cnn_refuses_options_that_do_not_apply_naming_the_option(string option)
    {
        var o = option switch
        {
            "--depth" => new ModelOptions("cnn", Depth: 3),
            "--layer-norm" => new ModelOptions("cnn", LayerNorm: true),
            _ => new ModelOptions("cnn", Activation: Activation.Gelu),
        };
        var error = Assert.Throws<ArgumentException>(() => ModelCatalog.CnnSpecFor(o));
        Assert.Contains(option, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Flat_inputs_are_read_as_the_specs_images()
    {
        using var net = Net(Variant.Standard, [4, 8], [1, 28, 28]);
        using var g = new Generator(8);
        using var theta = net.InitialPosition(g).unsqueeze(0);
        using var x = randn([1, 2, 1, 28, 28], generator: g);
        using var flat = x.reshape(1, 2, 784);
        using var a = net.Forward(theta, x);
        using var b = net.Forward(theta, flat);
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
    }
}
