using Workbench.Samplers;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

public class FusedAdamTests
{
    [Theory]
    [InlineData(13L)]          // shorter than one vector: the scalar tail only
    [InlineData(200_003L)]     // several chunks of 65,536 and a tail that is not a multiple of 8
    public void Fused_adam_step_equals_the_formula_written_with_torch_ops(long n)
    {
        // The same Adam step written out with torch ops in float64 from the same float32 inputs. Every quantity is a few
        // float32 roundings away from it (FMA-free vector arithmetic, relative error per operation 2^-24 ≈ 6e-8), so
        // 1e-5 relative to the update's size (plus 1e-6 absolute on m, v, x) is a bound no correct kernel exceeds and a
        // wrong coefficient or a dropped bias correction does.
        using var g = new Generator(5);
        using var x = randn([n], generator: g);
        using var grad = randn([n], generator: g);
        using var m = randn([n], generator: g).mul_(HeldScalars.Of(0.1));
        using var v = rand([n], generator: g).mul_(HeldScalars.Of(0.01));
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, eta = 1e-3;
        const long t = 7;
        double correctedStep = eta / (1 - Math.Pow(beta1, t)), secondCorrection = 1 - Math.Pow(beta2, t);

        using var x64 = x.to_type(ScalarType.Float64); using var g64 = grad.to_type(ScalarType.Float64);
        using var m64 = m.to_type(ScalarType.Float64).mul(HeldScalars.Of(beta1)).add(g64.mul(HeldScalars.Of(1 - beta1)), HeldScalars.One);
        using var v64 = v.to_type(ScalarType.Float64).mul(HeldScalars.Of(beta2)).add(g64.pow(HeldScalars.Two).mul(HeldScalars.Of(1 - beta2)), HeldScalars.One);
        using var expected = x64.add(m64.div(v64.div(HeldScalars.Of(secondCorrection)).sqrt().add(HeldScalars.Of(eps), HeldScalars.One)).mul(HeldScalars.Of(correctedStep)), HeldScalars.One);

        Assert.True(FusedAdam.Applies(x, grad, m, v));
        FusedAdam.Ascend(x, grad, m, v, beta1, beta2, eps, correctedStep, secondCorrection);
        Assert.True(m.to_type(ScalarType.Float64).allclose(m64, rtol: 1e-5, atol: 1e-6), "first moment");
        Assert.True(v.to_type(ScalarType.Float64).allclose(v64, rtol: 1e-5, atol: 1e-6), "second moment");
        using var update = expected - x64;
        using var got = x.to_type(ScalarType.Float64) - x64;
        double error = (got - update).abs().max().item<double>(), scale = update.abs().max().item<double>();
        Assert.True(error < 1e-5 * scale + 1e-6, $"update: max error {error} for updates up to {scale}");
    }

    [Fact]
    public void Fused_adam_applies_only_to_contiguous_float32_cpu_tensors()
    {
        using var a = zeros(8); using var b = zeros(8); using var c = zeros(8);
        using var wide = zeros(8, dtype: ScalarType.Float64);
        using var strided = zeros(16).view(8, 2).select(1, 0);
        Assert.True(FusedAdam.Applies(a, b, c, a));
        Assert.False(FusedAdam.Applies(wide, b, c, a));
        Assert.False(FusedAdam.Applies(strided, b, c, a));
    }
}

public class GaussianKlKernelTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(0)]
    public void Kl_kernel_equals_the_torch_op_formula(int rank)
    {
        // Same formulas in float32; the torch path was checked against autograd of the dense KL. Sums over 150k entries
        // in float32 partial sums (≤ 64 vectors) then float64, and a vector log with relative error 3e-7: the value agrees
        // to 1e-5 relative; elementwise gradients to 1e-4 relative to each gradient's largest entry (float32 roundings of
        // r-term products; C⁻¹ rounded to float32).
        long[] blocks = [70_001, 3, 0, 80_000];
        long p = blocks.Sum();
        using var g = new Generator(21);
        using var mean = randn([2, p], generator: g);
        using var std = rand([2, p], generator: g).add_(HeldScalars.Of(0.05), HeldScalars.One);
        using var factors = rank == 0 ? null : randn([2, rank, p], generator: g).mul_(HeldScalars.Of(0.01));
        Assert.True(GaussianKlKernel.Applies(mean, std, factors));
        var kernel = GaussianKlKernel.Compute(mean, std, factors, blocks, 0.8);
        var torchOps = GaussianKl.WithTorchOps(mean, std, factors, blocks, 0.8);
        var a = kernel.Value.data<double>().ToArray();
        var b = torchOps.Value.data<double>().ToArray();
        for (int k = 0; k < 2; k++) Assert.True(Math.Abs(a[k] - b[k]) < 1e-5 * Math.Abs(b[k]), $"chain {k}: KL {a[k]} vs {b[k]}");
        var pairs = new List<(string, Tensor, Tensor)> { ("mean", kernel.Mean, torchOps.Mean), ("std", kernel.Std, torchOps.Std) };
        if (rank > 0) pairs.Add(("factors", kernel.Factors!, torchOps.Factors!));
        KlGradients.AssertMatch(pairs, 1e-4, "the torch-op path");
    }
}
