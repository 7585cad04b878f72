using Xunit.Abstractions;
using Workbench.Samplers;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

public class VariationalConformanceTests
{
    private readonly ITestOutputHelper _output;
    public VariationalConformanceTests(ITestOutputHelper output) => _output = output;

    /// <summary>Runs <paramref name="steps"/> fitting steps of K chains from θ₀ = <paramref name="initial"/>.</summary>
    private static VariationalState Fit(GaussianVariationalFit vi, ILogLikelihood target, Tensor initial, int steps, Generator[] generators)
    {
        var state = (VariationalState)vi.Init(initial);
        for (int t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            var info = vi.Step(state, target, generators);
            Assert.DoesNotContain(true, info.Diverging);
        }
        return state;
    }

    private static Generator[] Generators(int chains, ulong seed) =>
        Enumerable.Range(0, chains).Select(k => new Generator(ChainSeeds.For(seed, k).Noise)).ToArray();

    private static double[,] ToArray2(Tensor t)
    {
        using var d = t.to_type(ScalarType.Float64).cpu();
        var v = d.data<double>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var a = new double[rows, cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) a[i, j] = v[i * cols + j];
        return a;
    }

    /// <summary>Each chain's covariance diag(σ²) + Σ_k f_k f_kᵀ (one block), [K][d, d].</summary>
    private static double[][,] Covariances(GaussianPosterior q)
    {
        int chains = (int)q.Mean.shape[0], d = (int)q.Mean.shape[1];
        var std = ToArray2(q.Std);
        var result = new double[chains][,];
        for (int k = 0; k < chains; k++)
        {
            var c = new double[d, d];
            for (int i = 0; i < d; i++) c[i, i] = std[k, i] * std[k, i];
            if (q.Factors is not null)
            {
                var f = ToArray2(q.Factors[k]);
                for (int r = 0; r < f.GetLength(0); r++)
                    for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) c[i, j] += f[r, i] * f[r, j];
            }
            result[k] = c;
        }
        return result;
    }

    /// <summary>Per-coordinate averages over chains of μᵢ and of q's variance Σ_qᵢᵢ, and the chain-to-chain sd of the latter.</summary>
    private static (double[] Mean, double[] Variance, double[] VarianceSd) ChainAverages(GaussianPosterior q)
    {
        var mean = ToArray2(q.Mean);
        var covariances = Covariances(q);
        int chains = covariances.Length, d = mean.GetLength(1);
        var m = new double[d]; var v = new double[d]; var sd = new double[d];
        for (int i = 0; i < d; i++)
        {
            m[i] = Enumerable.Range(0, chains).Average(k => mean[k, i]);
            var vi = Enumerable.Range(0, chains).Select(k => covariances[k][i, i]).ToArray();
            v[i] = vi.Average();
            sd[i] = Sd(vi);
        }
        return (m, v, sd);
    }

    // Fitting schedule for the linear-regression problems: Adam from η = 0.02, cosine-decayed to 2e-5 over 3000
    // full-batch steps, 8 chains from θ₀ = 0. Measured chain-to-chain spread of the fitted variances at the end: 1–3 %
    // (residual optimisation noise; means: ≤ 0.015 posterior sd), so the chain average carries ≈ 1 % noise.
    private const int FitChains = 8, FitSteps = 3000;
    private const double FitStepSize = 2e-2, FitFinalFraction = 1e-3;

    [Fact]
    public void Mean_field_vi_converges_to_the_mean_field_optimum_of_linear_regression()
    {
        // The mean-field optimum of a Gaussian posterior N(μ, Λ⁻¹) is N(μ, diag(1/Λᵢᵢ)): narrower than Σᵢᵢ by
        // 1/(1 − ρ²) ≈ 1.5 for the correlated features 0 and 1. Tolerance 4 % on the chain-averaged variance (≈ 4 se
        // of the measured optimisation noise, and far inside the 50 % gap to Σᵢᵢ); means within 0.1 mean-field sd.
        using var problem = new LinearRegressionProblem();
        var generators = Generators(FitChains, 11);
        var vi = new MeanFieldVi(problem.Tempering(), FitStepSize, initStd: 1e-3, totalSteps: FitSteps, finalStepFraction: FitFinalFraction);
        using var state = Fit(vi, problem.FullBatch(FitChains), zeros(FitChains, 3), FitSteps, generators);
        using var q = vi.Posterior(state);
        var (mean, variance, spread) = ChainAverages(q);
        for (int i = 0; i < 3; i++)
        {
            double ratio = variance[i] / problem.MeanFieldVariance[i], sd = Math.Sqrt(problem.MeanFieldVariance[i]);
            _output.WriteLine($"w{i}: mean error {(mean[i] - problem.Mean[i]) / sd:F4} sd, variance / (1/Λii) = {ratio:F4} (chain sd {spread[i] / problem.MeanFieldVariance[i]:F4}), Σii/(1/Λii) = {problem.Covariance[i, i] / problem.MeanFieldVariance[i]:F3}");
            Assert.True(Math.Abs(mean[i] - problem.Mean[i]) < 0.1 * sd, $"w[{i}] mean {mean[i]:F5} vs {problem.Mean[i]:F5}");
            Assert.True(Math.Abs(ratio - 1) < 0.04, $"w[{i}] variance {variance[i]:E4} vs mean-field optimum {problem.MeanFieldVariance[i]:E4}");
        }
        foreach (var g in generators) g.Dispose();
    }

    [Fact]
    public void Elrg_covariance_lies_between_mean_field_and_exact_posterior()
    {
        // With rank 2 on 3 coordinates the family contains the exact posterior, so the optimum is Σ itself; the fit
        // must at least leave the mean-field solution: for the correlated w0, w1 the variance is above the midpoint
        // 1.25/Λᵢᵢ of [1/Λᵢᵢ, Σᵢᵢ ≈ 1.5/Λᵢᵢ] and not above Σᵢᵢ by more than 4 % (optimisation noise as for MFVI).
        using var problem = new LinearRegressionProblem();
        var generators = Generators(FitChains, 12);
        var vi = new Elrg(problem.Tempering(), FitStepSize, initStd: 1e-3, rank: 2, totalSteps: FitSteps, finalStepFraction: FitFinalFraction);
        using var state = Fit(vi, problem.FullBatch(FitChains), zeros(FitChains, 3), FitSteps, generators);
        using var q = vi.Posterior(state);
        var (mean, variance, spread) = ChainAverages(q);
        for (int i = 0; i < 3; i++)
        {
            double sd = Math.Sqrt(problem.MeanFieldVariance[i]);
            _output.WriteLine($"w{i}: mean error {(mean[i] - problem.Mean[i]) / sd:F4} sd, variance / (1/Λii) = {variance[i] / problem.MeanFieldVariance[i]:F4} (chain sd {spread[i] / problem.MeanFieldVariance[i]:F4}), variance / Σii = {variance[i] / problem.Covariance[i, i]:F4}");
            Assert.True(Math.Abs(mean[i] - problem.Mean[i]) < 0.1 * sd, $"w[{i}] mean {mean[i]:F5} vs {problem.Mean[i]:F5}");
            Assert.True(variance[i] <= 1.04 * problem.Covariance[i, i], $"w[{i}] variance {variance[i]:E4} above Σii {problem.Covariance[i, i]:E4}");
            if (i < 2)
                Assert.True(variance[i] > 1.25 * problem.MeanFieldVariance[i], $"w[{i}] variance {variance[i]:E4} not above mean-field {problem.MeanFieldVariance[i]:E4}");
        }
        foreach (var g in generators) g.Dispose();
    }

    [Fact]
    public void Draws_from_a_fitted_elrg_have_its_mean_and_covariance()
    {
        // S = 4000 draws per chain from q = N(μ, diag σ² + F Fᵀ) after a short fit. Tolerances: 5 standard errors,
        // mean √(Cᵢᵢ/S), covariance √((CᵢᵢCⱼⱼ + Cᵢⱼ²)/S) (Gaussian sample covariance).
        using var problem = new LinearRegressionProblem();
        const int chains = 2, draws = 4000;
        var generators = Generators(chains, 13);
        var vi = new Elrg(problem.Tempering(), 2e-2, initStd: 1e-3, rank: 2);
        using var state = Fit(vi, problem.FullBatch(chains), zeros(chains, 3), 300, generators);
        using var q = vi.Posterior(state);
        var expected = Covariances(q);
        var mean = ToArray2(q.Mean);
        var samples = Enumerable.Range(0, chains).Select(_ => new List<double[]>()).ToArray();
        for (int s = 0; s < draws; s++)
        {
            using var draw = vi.Draw(state, generators);
            var values = ToArray2(draw);
            for (int k = 0; k < chains; k++) samples[k].Add([values[k, 0], values[k, 1], values[k, 2]]);
        }
        for (int k = 0; k < chains; k++)
        {
            var m = ChainDriver.MeanOf(samples[k].ToArray());
            var c = ChainDriver.CovarianceOf(samples[k].ToArray());
            var e = expected[k];
            for (int i = 0; i < 3; i++)
            {
                Assert.True(Math.Abs(m[i] - mean[k, i]) < 5 * Math.Sqrt(e[i, i] / draws), $"chain {k} w[{i}] draw mean {m[i]:F5} vs {mean[k, i]:F5}");
                for (int j = 0; j < 3; j++)
                    Assert.True(Math.Abs(c[i, j] - e[i, j]) < 5 * Math.Sqrt((e[i, i] * e[j, j] + e[i, j] * e[i, j]) / draws),
                        $"chain {k} cov[{i},{j}] of draws {c[i, j]:E4} vs q's {e[i, j]:E4}");
            }
            Assert.True(Math.Abs(e[0, 1]) > 10 * Math.Sqrt((e[0, 0] * e[1, 1]) / draws), "the fitted q should be visibly correlated");
        }
        foreach (var g in generators) g.Dispose();
    }

    [Fact]
    public void Mean_field_kl_equals_closed_form_for_a_diagonal_gaussian()
    {
        // KL(N(μ, diag σ²) ‖ N(0, s²I)) = ½ Σ [(σ² + μ²)/s² − 1 + ln(s²/σ²)], evaluated term by term in doubles.
        const double priorStd = 0.7;
        using var g = new Generator(3);
        using var mean = randn([2, 5], dtype: ScalarType.Float64, generator: g);
        using var std = rand([2, 5], dtype: ScalarType.Float64, generator: g).add_(HeldScalars.Of(0.1), HeldScalars.One);
        using var kl = GaussianKl.MeanField(mean, std, priorStd);
        var m = ToArray2(mean); var sd = ToArray2(std);
        var values = kl.data<double>().ToArray();
        for (int k = 0; k < 2; k++)
        {
            double expected = 0;
            for (int i = 0; i < 5; i++)
                expected += 0.5 * ((sd[k, i] * sd[k, i] + m[k, i] * m[k, i]) / (priorStd * priorStd) - 1 + Math.Log(priorStd * priorStd / (sd[k, i] * sd[k, i])));
            Assert.True(Math.Abs(values[k] - expected) < 1e-12 * Math.Max(1, Math.Abs(expected)), $"chain {k}: {values[k]} vs {expected}");
        }
    }

    /// <summary>½[tr Σ/s² + μᵀμ/s² − n + n ln s² − ln det Σ] for one chain with the dense block-diagonal
    /// Σ = diag(σ²) + blockdiag(F_b F_bᵀ) (factors [r, n]) and torch.linalg.slogdet; differentiable.</summary>
    private static Tensor DenseKl(Tensor mean, Tensor std, Tensor factors, long[] blocks, double priorStd)
    {
        var parts = new List<Tensor>();
        long offset = 0;
        foreach (long size in blocks)
        {
            var f = factors.narrow(1, offset, size);                 // [r, n_b]
            parts.Add(f.t().matmul(f));
            offset += size;
        }
        var sigma = diag(std.pow(HeldScalars.Two)).add(block_diag(parts.ToArray()), HeldScalars.One);
        var (_, logDet) = linalg.slogdet(sigma);
        double s2 = priorStd * priorStd;
        long n = mean.shape[0];
        return (((sigma.trace() / HeldScalars.Of(s2)).add(mean.pow(HeldScalars.Two).sum() / HeldScalars.Of(s2), HeldScalars.One) - HeldScalars.Of(n)).add(HeldScalars.Of(n * Math.Log(s2)), HeldScalars.One) - logDet) * HeldScalars.Of(0.5);
    }

    [Fact]
    public void Low_rank_kl_equals_dense_log_det_formula()
    {
        // Two blocks (5 and 3 entries), rank 2: the determinant-lemma KL against ½[tr Σ/s² + μᵀμ/s² − n + n ln s² − ln det Σ]
        // with the dense block-diagonal Σ = diag(σ²) + blockdiag(F_b F_bᵀ) and torch.linalg.slogdet. Float64: 1e-10 relative.
        const double priorStd = 1.3;
        long[] blocks = [5, 3];
        using var g = new Generator(4);
        using var mean = randn([2, 8], dtype: ScalarType.Float64, generator: g);
        using var std = rand([2, 8], dtype: ScalarType.Float64, generator: g).add_(HeldScalars.Of(0.05), HeldScalars.One);
        using var factors = randn([2, 2, 8], dtype: ScalarType.Float64, generator: g);
        using var kl = GaussianKl.LowRank(mean, std, factors, blocks, priorStd);
        var values = kl.data<double>().ToArray();
        for (int k = 0; k < 2; k++)
        {
            using var scope = NewDisposeScope();
            double expected = DenseKl(mean[k], std[k], factors[k], blocks, priorStd).item<double>();
            Assert.True(Math.Abs(values[k] - expected) < 1e-10 * Math.Abs(expected), $"chain {k}: {values[k]} vs dense {expected}");
        }
        using var withoutFactors = GaussianKl.LowRank(mean, std, null, blocks, priorStd);
        using var meanField = GaussianKl.MeanField(mean, std, priorStd);
        Assert.True(withoutFactors.allclose(meanField), "rank 0 is the mean-field KL");
    }

    [Fact]
    public void Closed_form_kl_gradient_equals_autograd_of_the_dense_formula()
    {
        // The step's KL gradient (no autograd) against autograd of ½[tr Σ/s² + μᵀμ/s² − n + n ln s² − ln det Σ] with the
        // dense block-diagonal Σ, per chain, two blocks, rank 2. Float64 throughout: both sides agree to rounding, so
        // 1e-9 relative to each gradient's largest entry.
        const double priorStd = 0.7;
        long[] blocks = [4, 3];
        using var g = new Generator(9);
        using var mean = randn([2, 7], dtype: ScalarType.Float64, generator: g);
        using var std = rand([2, 7], dtype: ScalarType.Float64, generator: g).add_(HeldScalars.Of(0.1), HeldScalars.One);
        using var factors = randn([2, 2, 7], dtype: ScalarType.Float64, generator: g).mul_(HeldScalars.Of(0.5));
        var closed = GaussianKl.LowRankWithGradient(mean, std, factors, blocks, priorStd);

        using var scope = NewDisposeScope();
        var m = mean.detach().requires_grad_(true);
        var s = std.detach().requires_grad_(true);
        var f = factors.detach().requires_grad_(true);
        Tensor total = zeros(1, dtype: ScalarType.Float64);
        for (int k = 0; k < 2; k++)
        {
            var kl = DenseKl(m[k], s[k], f[k], blocks, priorStd);
            Assert.True(Math.Abs(kl.item<double>() - closed.Value[k].item<double>()) < 1e-10 * Math.Abs(kl.item<double>()), $"chain {k}: KL value");
            total = total.add(kl, HeldScalars.One);
        }
        total.sum().backward();
        KlGradients.AssertMatch([("mean", closed.Mean, m.grad!), ("std", closed.Std, s.grad!), ("factors", closed.Factors!, f.grad!)], 1e-9, "autograd");
    }

    [Fact]
    public void Elrg_with_fixed_log_variance_learns_only_mean_and_factors()
    {
        using var problem = new LinearRegressionProblem();
        var generators = Generators(1, 14);
        var vi = (Elrg)SamplerRegistry.Create("elrg", new SamplerContext(problem.Tempering(), 50),
            new Dictionary<string, double> { ["fixed_log_var"] = -10, ["step_size"] = 1e-2 });
        using var state = Fit(vi, problem.FullBatch(1), zeros(1, 3), 50, generators);
        using var q = vi.Posterior(state);
        Assert.True(q.Std.allclose(full_like(q.Std, HeldScalars.Of(Math.Exp(-5)))), "σ stays at exp(−10/2)");
        Assert.Equal(4, q.Rank);
        Assert.True(q.Mean.abs().max().item<float>() > 0.1f, "the mean moved");
        foreach (var g in generators) g.Dispose();
    }

    [Fact]
    public void Variational_methods_refuse_a_target_without_expected_log_likelihood()
    {
        var vi = SamplerRegistry.Create("mfvi", new SamplerContext(GaussianTarget.Tempering, 10));
        Assert.Equal(SamplerKind.Fitted, vi.Kind);
        using var state = vi.Init(zeros(1, 2));
        using var g = new Generator(1);
        var error = Assert.Throws<ArgumentException>(() => vi.Step(state, new NoData(), [g]));
        Assert.Contains("IVariationalLogLikelihood", error.Message);
    }

    private static double Sd(double[] a) { double m = a.Average(); return Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / (a.Length - 1)); }
}
