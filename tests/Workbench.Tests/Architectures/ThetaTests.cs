using TorchSharp;
using Workbench.Architectures;
using static TorchSharp.torch;

namespace Workbench.Tests.Architectures;

/// <summary>
/// <see cref="Theta.Segmented"/> (one autograd leaf per segment; a W-Asym weight's leaf is its full weight, whose
/// gradient is gathered back) must give exactly the gradient of autograd through one leaf θ, where the layers place
/// θ's entries themselves with libtorch's scatter.
/// </summary>
public class ThetaTests
{
    public static TheoryData<string, string, int> Networks() => new()
    {
        { "mlp", "w-asym", 1 }, { "mlp", "w-asym", 3 }, { "mlp", "standard", 2 },
        { "cnn", "w-asym", 1 }, { "cnn", "w-asym", 2 },
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void Segmented_gradient_equals_the_one_leaf_gradient(string model, string variant, int chains)
    {
        using var scope = NewDisposeScope();
        var v = variant == "w-asym" ? Variant.WAsym : Variant.Standard;
        using var net = model == "mlp"
            ? ModelCatalog.Create(new ModelOptions("mlp", v, Inputs: 20, Outputs: 5, Widths: [24, 16], NFix: 6, MaskSeed: 3))
            : ModelCatalog.Create(new ModelOptions("cnn", v, Outputs: 5, Widths: [4, 8], InputShape: [3, 8, 8], MaskSeed: 3));
        var g = new Generator(11);
        var theta = stack(Enumerable.Range(0, chains).Select(_ => net.InitialPosition(g)).ToArray());
        var x = model == "mlp" ? randn([chains, 7, 20], generator: g) : randn([chains, 7, 3, 8, 8], generator: g);
        // A loss that weights every output differently, so every gradient entry is exercised.
        var weights = randn(net.Forward(theta, x).shape, generator: g);

        var leaf = theta.detach().clone().requires_grad_(true);
        net.Forward(leaf, x).mul(weights).sum().backward();
        var reference = leaf.grad!.clone();

        var segmented = Theta.Segmented(theta.detach().clone(), net.Layout);
        net.Forward(segmented, x).mul(weights).sum().backward();
        var gradient = segmented.Gradient();

        // Same arithmetic in a different association order (per-segment accumulation): float32 rounding only.
        Assert.Equal(reference.shape, gradient.shape);
        double scale = reference.abs().max().item<float>();
        Assert.True(scale > 0);
        double worst = (gradient - reference).abs().max().item<float>();
        Assert.True(worst <= 1e-5 * scale, $"largest difference {worst} (gradient scale {scale})");

        // The W-Asym weights went through the full-weight leaves (the path under test), the rest did not.
        foreach (var s in net.Layout.Segments)
        {
            bool embedded = s.FixedFill is not null && s.Count > 0;
            Assert.Equal(embedded, segmented.Full(s) is not null);
            if (embedded) Assert.Throws<InvalidOperationException>(() => segmented.Of(s));
        }
        Assert.Equal(variant == "w-asym", net.Layout.Segments.Any(s => segmented.Full(s) is not null));
    }

    [Fact]
    public void Full_weight_leaf_holds_the_stored_entries_and_the_fixed_values()
    {
        using var scope = NewDisposeScope();
        using var net = ModelCatalog.Create(new ModelOptions("mlp", Variant.WAsym, Inputs: 10, Outputs: 3, Widths: [12], NFix: 4, MaskSeed: 5));
        var theta = stack([net.InitialPosition(new Generator(1)), net.InitialPosition(new Generator(2))]);
        var segmented = Theta.Segmented(theta, net.Layout);
        foreach (var s in net.Layout.Segments.Where(s => s.FixedFill is not null))
        {
            var full = segmented.Full(s)!;
            Assert.Equal(new long[] { 2, s.FullCount }, full.shape);
            var values = full.detach().data<float>().ToArray();
            var stored = theta.narrow(1, s.Offset, s.Count).contiguous().data<float>().ToArray();
            var trainable = new HashSet<long>(s.TrainableIndex!);
            for (int k = 0; k < 2; k++)
            {
                for (int i = 0; i < s.Count; i++) Assert.Equal(stored[k * s.Count + i], values[k * s.FullCount + s.TrainableIndex![i]]);
                for (long j = 0; j < s.FullCount; j++)
                    if (!trainable.Contains(j)) Assert.Equal(s.FixedFill![j], values[k * s.FullCount + j]);
            }
            Assert.Contains(s.FixedFill!, v => v != 0f); // κ > 0: the fixed values are really there
        }
    }
}
