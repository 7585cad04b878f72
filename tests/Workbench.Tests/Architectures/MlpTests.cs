using TorchSharp;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using static TorchSharp.torch;

namespace Workbench.Tests.Architectures;

public class MlpTests
{
    private static Mlp Small(Variant variant, ulong maskSeed = 1) => new(new MlpSpec("small", 12, [16, 16], 5, true,
        Activation.Gelu, variant, [new WAsymSetting(4, 1.0)], 1.0, maskSeed));

    private static (Tensor Theta, Tensor X) Inputs(INetwork net, int seed = 0)
    {
        using var g = new Generator((ulong)seed);
        var theta = net.InitialPosition(g);
        var x = randn([1, 32, 12], generator: g);
        return (theta, x);
    }

    private static long[] Shuffled(int n, int seed)
    {
        var random = new Random(seed);
        var p = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        random.Shuffle(p);
        return p;
    }

    [Fact]
    public void Permuting_hidden_units_keeps_standard_mlp_function()
    {
        using var net = Small(Variant.Standard);
        var (theta, x) = Inputs(net);
        using var permuted = HiddenUnitPermutation.Apply(net, theta, 0, Shuffled(16, 1));
        using var permutedTwice = HiddenUnitPermutation.Apply(net, permuted, 1, Shuffled(16, 2));
        using var before = net.Forward(theta.unsqueeze(0), x);
        using var after = net.Forward(permutedTwice.unsqueeze(0), x);
        Assert.False(theta.allclose(permutedTwice), "the permutation should move parameters");
        Assert.True(before.allclose(after, rtol: 1e-5, atol: 1e-5), "a standard MLP's function is invariant to hidden-unit permutations");
    }

    [Theory]
    [InlineData(Variant.WAsym)]
    [InlineData(Variant.SigmaAsym)]
    public void Permuting_hidden_units_changes_symmetry_reduced_mlp_function(Variant variant)
    {
        using var net = Small(variant);
        var (theta, x) = Inputs(net);
        using var permuted = HiddenUnitPermutation.Apply(net, theta, 0, Shuffled(16, 1));
        using var before = net.Forward(theta.unsqueeze(0), x);
        using var after = net.Forward(permuted.unsqueeze(0), x);
        using var gap = (before - after).abs().max();
        // Outputs are O(1); a change far above float32 rounding shows the symmetry is gone.
        Assert.True(gap.item<float>() > 1e-2f, $"{variant}: max output change {gap.item<float>()} after permuting trainable weights");
    }

    [Theory]
    [InlineData("standard", 935_434, 0)]
    [InlineData("w-asym", 834_570, 100_864)]
    [InlineData("sigma-asym", 935_434, 3 * 512 * 512)]
    public void Paper_mnist_lmc_mlp_has_the_papers_parameter_counts(string variant, long trainable, long fixedEntries)
    {
        using var net = ModelCatalog.Create(new ModelOptions("mlp-mnist-lmc", VariantNames.Parse(variant)));
        Assert.Equal(trainable, net.TrainableCount);
        Assert.Equal(fixedEntries, net.FixedCount);
    }

    [Fact]
    public void Fixed_entries_are_bit_identical_after_training_steps_with_weight_decay()
    {
        using var net = Small(Variant.WAsym);
        var (theta0, x) = Inputs(net);
        using var y = randint(5, [1, 32]);
        var theta = theta0.unsqueeze(0).clone();
        using var w0 = net.EffectiveWeight(theta, "fc1").clone();
        for (int step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            var p = theta.detach().requires_grad_(true);
            var loss = nn.functional.cross_entropy(net.Forward(p, x).view(32, 5), y.view(32));
            loss.backward();
            using (no_grad()) theta.mul_(HeldScalars.Of(1 - 0.1 * 0.03)).add_(p.grad!, alpha: HeldScalars.Of(-0.1)); // SGD with weight decay 0.03
        }
        using var w1 = net.EffectiveWeight(theta, "fc1");
        var mask = net.Layout["fc1.weight"].TrainableIndex!;
        var fixedPositions = Enumerable.Range(0, 16 * 12).Where(i => !mask.Contains(i)).Select(i => (long)i).ToArray();
        using var idx = tensor(fixedPositions);
        using var fixedBefore = w0.view(-1).index_select(0, idx);
        using var fixedAfter = w1.view(-1).index_select(0, idx);
        using var trainIdx = tensor(mask);
        using var trainBefore = w0.view(-1).index_select(0, trainIdx);
        using var trainAfter = w1.view(-1).index_select(0, trainIdx);
        Assert.Equal(16 * 4, fixedPositions.Length);
        var bitsBefore = fixedBefore.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits);
        var bitsAfter = fixedAfter.data<float>().ToArray().Select(BitConverter.SingleToInt32Bits);
        Assert.Equal(bitsBefore, bitsAfter);
        Assert.False(trainBefore.allclose(trainAfter), "trainable entries should have moved");
    }

    [Fact]
    public void Batched_chains_compute_what_each_chain_computes_alone()
    {
        using var net = Small(Variant.WAsym);
        using var g = new Generator(3);
        using var a = net.InitialPosition(g);
        using var b = net.InitialPosition(g);
        using var x = randn([2, 8, 12], generator: g);
        using var both = net.Forward(stack([a, b]), x);
        using var first = net.Forward(a.unsqueeze(0), x.narrow(0, 0, 1));
        using var second = net.Forward(b.unsqueeze(0), x.narrow(0, 1, 1));
        Assert.True(both.narrow(0, 0, 1).allclose(first, rtol: 1e-5, atol: 1e-6));
        Assert.True(both.narrow(0, 1, 1).allclose(second, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Entry_names_locate_weights_in_their_full_matrix()
    {
        using var net = Small(Variant.Standard);
        var segment = net.Layout["fc1.weight"];
        Assert.Equal("fc1.weight[0,0]", net.Layout.EntryName(segment.Offset));
        Assert.Equal("fc1.weight[1,2]", net.Layout.EntryName(segment.Offset + 12 + 2));
        Assert.Equal("fc1.bias[3]", net.Layout.EntryName(net.Layout["fc1.bias"].Offset + 3));
    }

    [Fact]
    public void Bnn_preset_has_the_requested_depth()
    {
        using var deep = (Mlp)ModelCatalog.Create(new ModelOptions("mlp-bnn", Variant.WAsym, Depth: 16));
        Assert.Equal(16, deep.Spec.Hidden.Length);
        Assert.All(deep.Spec.Hidden, w => Assert.Equal(256, w));
        // n_fix 8 per unit in every Linear: 16·256 hidden units + 10 output units.
        Assert.Equal(8L * (16 * 256 + 10), deep.FixedCount);
    }
}
