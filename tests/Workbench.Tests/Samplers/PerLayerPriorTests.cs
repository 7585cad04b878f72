using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Sampling;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

/// <summary>
/// The paper's Bayesian settings in Gaussian VI: the per-layer prior N(0, 1/(λ·fan)) reaching the KL, normalisation
/// layers as point estimates (no variance, no factors, no KL term), and the reference code's factor initialisation.
/// </summary>
public class PerLayerPriorTests
{
    /// <summary>Σ over blocks in q of ½[tr Σ_b/s_b² + μ_bᵀμ_b/s_b² − n_b + n_b ln s_b² − ln det Σ_b] for one chain, with the
    /// dense Σ_b = diag(σ_b²) + F_b F_bᵀ and torch.linalg.slogdet; blocks with prior sd NaN are skipped; differentiable.</summary>
    private static Tensor DenseKl(Tensor mean, Tensor std, Tensor factors, KlBlocks blocks)
    {
        Tensor total = zeros(1, dtype: ScalarType.Float64);
        long offset = 0;
        for (int b = 0; b < blocks.Sizes.Length; b++)
        {
            long n = blocks.Sizes[b];
            if (!blocks.IsDeterministic(b))
            {
                var m = mean.narrow(0, offset, n);
                var f = factors.narrow(1, offset, n);
                var sigma = diag(std.narrow(0, offset, n).pow(HeldScalars.Two)).add(f.t().matmul(f), HeldScalars.One);
                var (_, logDet) = linalg.slogdet(sigma);
                double s2 = blocks.PriorStd[b] * blocks.PriorStd[b];
                total = total.add((((sigma.trace() / HeldScalars.Of(s2)).add(m.pow(HeldScalars.Two).sum() / HeldScalars.Of(s2), HeldScalars.One) - HeldScalars.Of(n)).add(HeldScalars.Of(n * Math.Log(s2)), HeldScalars.One) - logDet) * HeldScalars.Of(0.5), HeldScalars.One);
            }
            offset += n;
        }
        return total;
    }

    [Fact]
    public void Per_layer_prior_variances_reach_the_closed_form_kl_and_its_gradient()
    {
        // Three blocks with prior sds 0.625, 3.16 and a deterministic one (NaN, σ = 0 there as in a fit), rank 2, float64:
        // the closed form (torch-op path) against autograd of the dense block formula. Both are exact up to rounding, so
        // 1e-10 relative for the value and 1e-9 of each gradient's largest entry. A single-sd KL (the old behaviour) must
        // differ by far more than that, so the test fails if the per-block sds are not used.
        var blocks = new KlBlocks([5, 3, 4], [0.625, Math.Sqrt(10), double.NaN]);
        using var g = new Generator(31);
        using var mean = randn([2, 12], dtype: ScalarType.Float64, generator: g);
        using var std = rand([2, 12], dtype: ScalarType.Float64, generator: g).add_(HeldScalars.Of(0.1), HeldScalars.One);
        using var factors = randn([2, 2, 12], dtype: ScalarType.Float64, generator: g).mul_(HeldScalars.Of(0.5));
        std.narrow(1, 8, 4).zero_();                 // the deterministic block: a point estimate, no variance
        factors.narrow(2, 8, 4).zero_();
        var closed = GaussianKl.LowRankWithGradient(mean, std, factors, blocks);

        using var scope = NewDisposeScope();
        var m = mean.detach().requires_grad_(true);
        var s = std.detach().requires_grad_(true);
        var f = factors.detach().requires_grad_(true);
        Tensor total = zeros(1, dtype: ScalarType.Float64);
        for (int k = 0; k < 2; k++)
        {
            var kl = DenseKl(m[k], s[k], f[k], blocks);
            double dense = kl.item<double>();
            Assert.True(Math.Abs(dense - closed.Value[k].item<double>()) < 1e-10 * Math.Abs(dense), $"chain {k}: KL {closed.Value[k].item<double>()} vs dense {dense}");
            using var single = GaussianKl.LowRank(mean.narrow(1, 0, 8), std.narrow(1, 0, 8), factors.narrow(2, 0, 8), [5, 3], 0.625);
            Assert.True(Math.Abs(single[k].item<double>() - dense) > 1e-3 * Math.Abs(dense), "one sd for all blocks gives another KL");
            total = total.add(kl, HeldScalars.One);
        }
        total.sum().backward();
        // Autograd leaves the deterministic block's gradient at 0 (it is not in the formula); so must the closed form.
        KlGradients.AssertMatch([("mean", closed.Mean, m.grad!), ("std", closed.Std, s.grad!), ("factors", closed.Factors!, f.grad!)], 1e-9, "autograd");
        Assert.Equal(0.0, closed.Mean.narrow(1, 8, 4).abs().max().item<double>());
        using var autogradKl = GaussianKl.LowRank(mean, std, factors, blocks);
        Assert.True(autogradKl.allclose(closed.Value, rtol: 1e-12, atol: 0), "LowRank (autograd path) agrees with the closed form");
    }

    [Theory]
    [InlineData(4)]
    [InlineData(0)]
    public void Kl_kernel_with_per_block_priors_equals_the_torch_op_formula(int rank)
    {
        // As GaussianKlKernelTests (float32 sums over 150k entries: 1e-5 relative for the value, 1e-4 of the largest
        // gradient entry), now with a prior sd per block and a deterministic block, whose gradients must be exactly 0.
        var blocks = new KlBlocks([70_001, 3, 1_000, 80_000], [0.625, 3.1622776601683795, double.NaN, 0.25]);
        long p = blocks.Sizes.Sum();
        using var g = new Generator(22);
        using var mean = randn([2, p], generator: g);
        using var std = rand([2, p], generator: g).add_(HeldScalars.Of(0.05), HeldScalars.One);
        using var factors = rank == 0 ? null : randn([2, rank, p], generator: g).mul_(HeldScalars.Of(0.01));
        std.narrow(1, 70_004, 1_000).zero_();
        factors?.narrow(2, 70_004, 1_000).zero_();
        Assert.True(GaussianKlKernel.Applies(mean, std, factors));
        var kernel = GaussianKlKernel.Compute(mean, std, factors, blocks);
        var torchOps = GaussianKl.WithTorchOps(mean, std, factors, blocks);
        var a = kernel.Value.data<double>().ToArray();
        var b = torchOps.Value.data<double>().ToArray();
        for (int k = 0; k < 2; k++)
        {
            Assert.True(double.IsFinite(a[k]), $"chain {k}: KL {a[k]}");
            Assert.True(Math.Abs(a[k] - b[k]) < 1e-5 * Math.Abs(b[k]), $"chain {k}: KL {a[k]} vs {b[k]}");
        }
        var pairs = new List<(string, Tensor, Tensor)> { ("mean", kernel.Mean, torchOps.Mean), ("std", kernel.Std, torchOps.Std) };
        if (rank > 0) pairs.Add(("factors", kernel.Factors!, torchOps.Factors!));
        KlGradients.AssertMatch(pairs, 1e-4, "the torch-op path");
        foreach (var (_, mine, _) in pairs) Assert.Equal(0f, mine.narrow(-1, 70_004, 1_000).abs().max().item<float>());
    }

    private static INetwork Mlp(int depth = 2, int width = 16) =>
        ModelCatalog.Create(new ModelOptions("mlp", Widths: Enumerable.Repeat(width, depth).ToArray(), LayerNorm: true, Inputs: 12, Outputs: 3));

    [Fact]
    public void The_model_supplies_per_layer_fans_and_deterministic_norms()
    {
        // mlp 12 → 16 → 16 → 3 with LayerNorm: blocks fc1, ln1, fc2, ln2, head. With λ = 0.01 the Linear layers get
        // sd 1/√(0.01·out_features): 1/√0.16 = 2.5 for the 16-wide layers, 1/√0.03 = 5.77 for the head; norms none.
        using var net = Mlp();
        var pieces = MinibatchLogLikelihood.PiecesOf(net);
        var blocks = KlBlocks.From(pieces, new Tempering(100, 10, 1, 1) { PriorPrecision = 0.01 });
        Assert.Equal([12 * 16 + 16, 32, 16 * 16 + 16, 32, 16 * 3 + 3], blocks.Sizes);
        double[] expected = [2.5, double.NaN, 2.5, double.NaN, 1 / Math.Sqrt(0.03)];
        for (int b = 0; b < expected.Length; b++)
            Assert.True(double.IsNaN(expected[b]) ? blocks.IsDeterministic(b) : Math.Abs(blocks.PriorStd[b] - expected[b]) < 1e-12,
                $"block {b}: prior sd {blocks.PriorStd[b]}, expected {expected[b]}");
        // Without a precision every block in q has the run's σ, and the norms are still point estimates.
        var isotropic = KlBlocks.From(pieces, new Tempering(100, 10, 1, 0.7));
        Assert.Equal([0.7, double.NaN, 0.7, double.NaN, 0.7], isotropic.PriorStd);

        // A ResNet's convolutions use in_channels (the reference's weight.shape[1]), λ = 1: the stem reads 1 channel
        // (sd 1), stage 3's first conv 16·2 = 32 channels (sd 1/√32); GroupNorm blocks are deterministic.
        using var resnet = ModelCatalog.Create(new ModelOptions("resnet20-bnn", InputShape: [1, 28, 28]));
        var resnetPieces = MinibatchLogLikelihood.PiecesOf(resnet);
        var perLayer = new Tempering(100, 10, 1, 1) { PriorPrecision = 1 };
        var segments = resnet.Layout.Segments;
        Assert.Equal(1.0, perLayer.PriorStdFor(resnetPieces[segments.ToList().FindIndex(s => s.Name == "stem.weight")].Fan));
        Assert.Equal(1 / Math.Sqrt(32), perLayer.PriorStdFor(resnetPieces[segments.ToList().FindIndex(s => s.Name == "s3b1_conv1.weight")].Fan), 12);
        Assert.Equal(1 / Math.Sqrt(10), perLayer.PriorStdFor(resnetPieces[segments.ToList().FindIndex(s => s.Name == "head.weight")].Fan), 12);
        Assert.All(segments.Select((s, i) => (s, i)).Where(x => x.s.Role == ParameterRole.Norm), x => Assert.True(resnetPieces[x.i].Deterministic, x.s.Name));
        Assert.Equal(segments.Count(s => s.Name.Contains("gn")), segments.Count(s => s.Role == ParameterRole.Norm));
    }

    private static (MinibatchLogLikelihood Target, Tensor Initial) Problem(INetwork net, int chains, ulong seed)
    {
        using var g = new Generator(seed);
        var x = randn([chains, 64, 12], generator: g);
        var y = randint(0, 3, [chains, 64], generator: g);
        var target = new MinibatchLogLikelihood(net, new CategoricalLikelihood());
        target.SetBatch(x, y);
        var initial = stack(Enumerable.Range(0, chains).Select(k =>
        {
            using var init = new Generator(seed + 1 + (ulong)k);
            return net.InitialPosition(init);
        }).ToArray());
        return (target, initial);
    }

    private static Generator[] Generators(int chains, ulong seed) =>
        Enumerable.Range(0, chains).Select(k => new Generator(ChainSeeds.For(seed, k).Noise)).ToArray();

    [Theory]
    [InlineData("elrg")]
    [InlineData("mfvi")]
    public void Norm_parameters_have_no_variance_no_factors_and_no_kl_but_are_trained(string method)
    {
        // A fit of a LayerNorm MLP with the per-layer prior: after 20 Adam steps (lr 1e-2) the LayerNorm entries of q have
        // σ = 0 and factors 0 exactly, their means moved away from the init (γ = 1, β = 0) by the likelihood gradient, and
        // the step's "kl" equals the closed-form KL over the Linear blocks alone (float32 kernel vs float64 torch ops on the
        // same q: 1e-4 relative). Had the norms been in q or in the KL, each check would fail.
        using var net = Mlp();
        var (target, initial) = Problem(net, 2, 5);
        var tempering = new Tempering(640, 64, 1, 1) { PriorPrecision = 0.01 };
        var vi = (GaussianVariationalFit)SamplerRegistry.Create(method, new SamplerContext(tempering, 20),
            new Dictionary<string, double> { ["step_size"] = 1e-2 });
        var generators = Generators(2, 9);
        var state = (VariationalState)vi.Init(initial.clone());   // the fit updates its mean in place
        StepInfo info = null!;
        for (int t = 0; t < 20; t++)
        {
            using var scope = NewDisposeScope();
            info = vi.Step(state, target, generators);
        }
        using var q = vi.Posterior(state);
        var norms = net.Layout.Segments.Where(s => s.Role == ParameterRole.Norm).ToList();
        Assert.Equal(4, norms.Count);
        foreach (var s in norms)
        {
            Assert.Equal(0f, q.Std.narrow(1, s.Offset, s.Count).abs().max().item<float>());
            if (q.Factors is not null) Assert.Equal(0f, q.Factors.narrow(2, s.Offset, s.Count).abs().max().item<float>());
            using var init = initial.narrow(1, s.Offset, s.Count);
            Assert.True((q.Mean.narrow(1, s.Offset, s.Count) - init).abs().max().item<float>() > 1e-3f, $"{s.Name} was trained");
        }
        var linear = net.Layout.Segments.Where(s => s.Role != ParameterRole.Norm).ToList();
        Assert.True(q.Std.narrow(1, linear[0].Offset, linear[0].Count).min().item<float>() > 0, "Linear entries keep their variance");

        // The KL of the final q (info's "kl" is the KL of the q the last step started from; recompute both from one q).
        var blocks = KlBlocks.From(MinibatchLogLikelihood.PiecesOf(net), tempering);
        using var q64 = new GaussianPosterior(q.Mean.to_type(ScalarType.Float64), q.Std.to_type(ScalarType.Float64), q.Factors?.to_type(ScalarType.Float64));
        var reference = GaussianKl.WithTorchOps(q64.Mean, q64.Std, q64.Factors, blocks).Value.data<double>().ToArray();
        var kernel = GaussianKl.LowRankWithGradient(q.Mean, q.Std, q.Factors, blocks).Value.data<double>().ToArray();
        for (int k = 0; k < 2; k++)
        {
            Assert.True(double.IsFinite(info.Extra!["kl"][k]), "the step's KL is finite (no ln 0 from the norms' σ = 0)");
            Assert.True(Math.Abs(kernel[k] - reference[k]) < 1e-4 * Math.Abs(reference[k]), $"chain {k}: KL {kernel[k]} vs {reference[k]}");
        }
    }

    [Fact]
    public void Elrg_factors_start_as_the_reference_code_starts_them()
    {
        // Raw factors v (covariance (1/r) Σ v vᵀ) of a fresh fit, read after one step at lr 1e-12 (Adam moves each entry by
        // ≤ 1e-12): Linear weights N(0, (0.5·sd(W₀)/√r)²), biases N(0, 0.01²), norms 0. The sample sd of n i.i.d. normal
        // values has relative sd 1/√(2n); for the smallest piece checked (the head's 3 biases × 4 ranks = 12 values) that is
        // 0.20, so a 3.5σ band is 0.71 relative (the larger pieces are far tighter); the test fails if the old rule
        // (every factor at init_std 1e-3) came back, since 1e-3 is far outside every band.
        using var net = Mlp(depth: 2, width: 64);
        var (target, initial) = Problem(net, 1, 6);
        const int rank = 4;
        var vi = (Elrg)SamplerRegistry.Create("elrg", new SamplerContext(new Tempering(640, 64, 1, 1) { PriorPrecision = 0.01 }, 1),
            new Dictionary<string, double> { ["step_size"] = 1e-12, ["rank"] = rank, ["fixed_log_var"] = -10 });
        var generators = Generators(1, 3);
        var state = (VariationalState)vi.Init(initial.clone());   // the fit updates its mean in place
        using (NewDisposeScope()) vi.Step(state, target, generators);
        foreach (var s in net.Layout.Segments)
        {
            using var v = state.Factors!.narrow(2, s.Offset, s.Count);
            double sd = v.std().item<float>();
            double n = rank * s.Count;
            double band = 3.5 / Math.Sqrt(2 * n);
            switch (s.Role)
            {
                case ParameterRole.Norm:
                    Assert.Equal(0f, v.abs().max().item<float>());
                    break;
                case ParameterRole.Weight:
                {
                    double expected = 0.5 * initial.narrow(1, s.Offset, s.Count).std().item<float>() / Math.Sqrt(rank);
                    Assert.True(Math.Abs(sd / expected - 1) < band, $"{s.Name}: factor sd {sd:E3}, expected {expected:E3} (±{band:P0})");
                    break;
                }
                case ParameterRole.Bias:
                    Assert.True(Math.Abs(sd / 0.01 - 1) < band, $"{s.Name}: factor sd {sd:E3}, expected 0.01 (±{band:P0})");
                    break;
            }
        }
    }

    [Theory]
    [InlineData("sgld")]
    [InlineData("psgld")]
    [InlineData("sghmc")]
    [InlineData("csgld")]
    [InlineData("hmc")]
    [InlineData("swag")]
    [InlineData("ensemble")]
    public void Methods_without_the_per_layer_prior_refuse_it(string method)
    {
        var error = Assert.Throws<ArgumentException>(() =>
            SamplerRegistry.Create(method, new SamplerContext(new Tempering(100, 10, 1, 1) { PriorPrecision = 0.01 }, 100)));
        Assert.Contains("prior_precision", error.Message);
        Assert.Contains("mfvi and elrg", error.Message);
    }

    [Fact]
    public void Isotropic_prior_runs_are_unchanged_for_a_network_without_roles()
    {
        // linreg's one segment has no role: one block, the run's σ, factors at init_std, as before this change. Its KL
        // blocks are the old uniform ones.
        using var net = new LinearRegression(3);
        var pieces = MinibatchLogLikelihood.PiecesOf(net);
        Assert.Single(pieces);
        Assert.Null(pieces[0].FactorInit);
        Assert.False(pieces[0].Deterministic);
        var blocks = KlBlocks.From(pieces, new Tempering(10, 10, 1, 0.4));
        Assert.Equal(KlBlocks.Uniform([3], 0.4).PriorStd, blocks.PriorStd);
        // With a precision linreg's fan is 1 (a Linear with one output): sd 1/√λ.
        Assert.Equal(1 / Math.Sqrt(4.0), KlBlocks.From(pieces, new Tempering(10, 10, 1, 1) { PriorPrecision = 4 }).PriorStd[0], 12);
    }
}
