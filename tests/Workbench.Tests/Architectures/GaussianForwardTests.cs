using TorchSharp;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using static TorchSharp.torch;

namespace Workbench.Tests.Architectures;

public class GaussianForwardTests
{
    private static Mlp Small(Variant variant) => new(new MlpSpec("small", 12, [16, 16], 5, true,
        Activation.Gelu, variant, [new WAsymSetting(4, 1.0)], 1.0, 1));

    /// <summary>One Linear layer (no hidden layers): 4 inputs → 3 outputs; W-Asym fixes 2 of 4 entries per row, κ = 2.</summary>
    private static Mlp SingleLinear(Variant variant) => new(new MlpSpec("one-linear", 4, [], 3, false,
        Activation.Relu, variant, [new WAsymSetting(2, 2.0)], 1.0, 7));

    private static Generator[] Generators(int chains, ulong seed) =>
        Enumerable.Range(0, chains).Select(k => new Generator(seed + (ulong)k)).ToArray();

    [Theory]
    [InlineData(Variant.Standard)]
    [InlineData(Variant.WAsym)]
    [InlineData(Variant.SigmaAsym)]
    public void Gaussian_forward_with_zero_variance_equals_forward(Variant variant)
    {
        // σ = 0 and zero factors: every noise term is multiplied by 0 (the variance floor adds ≤ 1e-15), so the
        // Gaussian forward is the ordinary forward at μ up to float32 rounding of the same operations.
        using var net = Small(variant);
        using var g = new Generator(2);
        using var theta = stack([net.InitialPosition(g), net.InitialPosition(g)]);
        using var x = randn([2, 32, 12], generator: g);
        using var std = zeros_like(theta);
        using var factors = zeros(2, 3, theta.shape[1]);
        var generators = Generators(2, 5);
        using var expected = net.Forward(theta, x);
        using var actual = net.ForwardGaussian(theta, std, factors, x, generators);
        using var gap = (expected - actual).abs().max();
        Assert.True(gap.item<float>() < 1e-6f, $"{variant}: max difference {gap.item<float>()}");
        foreach (var gen in generators) gen.Dispose();
    }

    [Theory]
    [InlineData(Variant.Standard)]
    [InlineData(Variant.WAsym)]
    public void Gaussian_forward_of_a_linear_layer_matches_analytic_preactivation_moments(Variant variant)
    {
        // One input x repeated M times: each copy gets its own noise, so the M outputs are draws of the pre-activation
        // a = A θ + c, with A the derivative wrt the trainable entries (x on row i's trainable weights, 1 on bias i)
        // and c the fixed W-Asym part. Exact moments: mean = forward(μ), covariance A (diag σ² + FᵀF) Aᵀ, built
        // densely from the layout. Tolerances: 5 standard errors (mean √(Cᵢᵢ/M), covariance √((CᵢᵢCⱼⱼ + Cᵢⱼ²)/M)).
        const int m = 40_000;
        using var net = SingleLinear(variant);
        net.To(CPU, ScalarType.Float64);
        using var g = new Generator(3);
        long p = net.Layout.Count;
        using var mean = net.InitialPosition(g).to_type(ScalarType.Float64).unsqueeze(0);
        using var std = rand([1, p], dtype: ScalarType.Float64, generator: g).mul_(HeldScalars.Of(0.25)).add_(HeldScalars.Of(0.05), HeldScalars.One);
        using var factors = randn([1, 2, p], dtype: ScalarType.Float64, generator: g).mul_(HeldScalars.Of(0.2));
        using var input = tensor(new[] { 0.8, -1.5, 0.3, 2.0 });
        using var x = input.expand(1, m, 4).contiguous();
        var generators = Generators(1, 9);
        using var outputs = net.ForwardGaussian(mean, std, factors, x, generators).squeeze(0);   // [M, 3]
        using var expectedMean = net.Forward(mean, input.view(1, 1, 4)).view(3);

        var weight = net.Layout["head.weight"];
        var bias = net.Layout["head.bias"];
        using var a = zeros([3, p], dtype: ScalarType.Float64);
        var xs = input.data<double>().ToArray();
        for (long e = 0; e < weight.Count; e++)
        {
            long position = weight.TrainableIndex?[e] ?? e;
            a[position / 4, weight.Offset + e] = xs[position % 4];
        }
        for (int i = 0; i < 3; i++) a[i, bias.Offset + i] = 1.0;
        using var f = factors[0];
        using var sigmaTheta = diag(std[0].pow(HeldScalars.Two)).add(f.t().matmul(f), HeldScalars.One);
        using var covariance = a.matmul(sigmaTheta).matmul(a.t());

        using var empiricalMean = outputs.mean([0]);
        using var centred = outputs - empiricalMean;
        using var empiricalCov = centred.t().matmul(centred) / HeldScalars.Of(m - 1);
        var em = empiricalMean.data<double>().ToArray(); var xm = expectedMean.data<double>().ToArray();
        var ec = empiricalCov.data<double>().ToArray(); var c = covariance.data<double>().ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(Math.Abs(em[i] - xm[i]) < 5 * Math.Sqrt(c[i * 3 + i] / m), $"{variant} output {i}: mean {em[i]:F5} vs {xm[i]:F5}");
            for (int j = 0; j < 3; j++)
                Assert.True(Math.Abs(ec[i * 3 + j] - c[i * 3 + j]) < 5 * Math.Sqrt((c[i * 3 + i] * c[j * 3 + j] + c[i * 3 + j] * c[i * 3 + j]) / m),
                    $"{variant} cov[{i},{j}]: {ec[i * 3 + j]:E4} vs analytic {c[i * 3 + j]:E4}");
        }
        foreach (var gen in generators) gen.Dispose();
    }

    [Fact]
    public void WAsym_fixed_entries_contribute_no_variance()
    {
        // Every trainable entry has σ = 0 and no factors, while the fixed entries are large (κ = 2): if fixed entries
        // carried variance, copies of one input would spread by ≈ κ|x|; they must all be equal to the forward at μ.
        using var net = SingleLinear(Variant.WAsym);
        Assert.True(net.FixedCount > 0);
        using var g = new Generator(4);
        using var mean = net.InitialPosition(g).unsqueeze(0);
        using var std = zeros_like(mean);
        using var x = randn([1, 1, 4], generator: g).expand(1, 1000, 4).contiguous();
        var generators = Generators(1, 6);
        using var outputs = net.ForwardGaussian(mean, std, null, x, generators);
        using var expected = net.Forward(mean, x);
        using var gap = (outputs - expected).abs().max();
        Assert.True(gap.item<float>() < 1e-6f, $"max deviation {gap.item<float>()}");
        foreach (var gen in generators) gen.Dispose();
    }
}
