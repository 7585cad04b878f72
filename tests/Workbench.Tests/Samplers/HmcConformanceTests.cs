using Workbench.Samplers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

/// <summary>
/// HMC against targets with known answers. How tolerances are set: K independent chains (own seeds, dispersed or common
/// starts, warm-up discarded) give K independent estimates of each moment, so the standard error of the pooled estimate
/// is the standard deviation of the K chain averages over √K: a batch-means SE with one batch per chain, which needs no
/// model of the autocorrelation. Each moment must lie within 5 SE of the closed form (t with K − 1 ≥ 15 degrees of
/// freedom: a false alarm has probability below 2·10⁻⁴ per moment; the seeds are fixed). Because a sampler that does not
/// mix would have a large SE and pass vacuously, each test also requires the measured ESS = var/SE² to be at least S/10
/// (S pooled draws), far below what the chosen trajectories give: on a Gaussian, the leapfrog map rotates mode i by
/// θ̃ᵢ = arccos(1 − ε²λᵢ/2) per step, so an accepted transition is AR(1) per mode with ρᵢ = cos(L·θ̃ᵢ); the trajectory
/// lengths below are picked so that every |ρᵢ| ≤ 0.55 (ESS/S ≥ (1 − |ρ|)/(1 + |ρ|) ≈ 0.3 for means, more for variances).
/// </summary>
public class HmcConformanceTests(ITestOutputHelper output)
{
    private const double Z = 5;

    [Fact]
    public void Hmc_matches_analytic_posterior_of_linear_regression_in_float64()
    {
        using var problem = new LinearRegressionProblem(dtype: ScalarType.Float64);
        // ε√λ_max = 0.7 on the posterior precision Λ (λ = 327, 778, 1238: ε ≈ 0.020); L = 3 gives ρ = 0.47, −0.12, −0.54
        // (longer L = 4…8 resonate: some |ρ| > 0.75). Acceptance of a 3-D Gaussian at ε√λ_max = 0.7 is about 0.95.
        var draws = RunLinearRegression(problem, temperature: 1.0, seed: 11, out double acceptance);
        AssertMoments(draws, Chains, problem.Mean, problem.Covariance);
        output.WriteLine($"acceptance {acceptance:F3}");
        Assert.InRange(acceptance, 0.85, 0.995);
    }

    [Fact]
    public void Hmc_at_temperature_two_doubles_the_posterior_covariance()
    {
        using var problem = new LinearRegressionProblem(dtype: ScalarType.Float64, temperature: 2.0);
        using var untempered = new LinearRegressionProblem(dtype: ScalarType.Float64);
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++)
            Assert.Equal(2 * untempered.Covariance[i, j], problem.Covariance[i, j], 1e-12); // the fixture's premise
        // Same phases as at T = 1: ε scales with 1/√λ_max of the tempered precision Λ/T.
        var draws = RunLinearRegression(problem, temperature: 2.0, seed: 12, out double acceptance);
        AssertMoments(draws, Chains, problem.Mean, problem.Covariance);
        output.WriteLine($"acceptance {acceptance:F3}");
        Assert.InRange(acceptance, 0.85, 0.995);
    }

    private const int Chains = 16;

    private double[][] RunLinearRegression(LinearRegressionProblem problem, double temperature, ulong seed, out double acceptance)
    {
        var hmc = new Hmc(problem.Tempering(temperature), stepSize: 0.7 / Math.Sqrt(TemperedLambdaMax(problem)), nSteps: 3);
        // Start every chain at 0, ~2.3 away from the mean (≈ 50 posterior sds): the warm-up of 200 transitions must
        // also show that HMC finds the posterior.
        using var initial = zeros([Chains, 3], dtype: ScalarType.Float64);
        var (draws, stats) = Run(hmc, problem.FullBatch(Chains), initial, steps: 1_000, warmup: 200, seed);
        acceptance = stats.Average(s => s.Extra["acceptance_rate"].Average());
        return draws;
    }

    /// <summary>λ_max of the posterior precision Λ/T, from the fixture's (tempered) covariance: its eigenvalues are of Λ.</summary>
    private static double TemperedLambdaMax(LinearRegressionProblem problem)
    {
        var c = new double[9];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) c[i * 3 + j] = problem.Covariance[i, j];
        using var cov = tensor(c, [3, 3]);
        using var eig = linalg.eigvalsh(cov);
        return 1 / eig.data<double>().ToArray().Min();
    }

    [Fact]
    public void Hmc_without_data_draws_from_the_prior()
    {
        // No data: U = |θ|²/(2σ²), σ = 2, so ω = 1/σ = 0.5 in every coordinate. ε = 0.5 (εω = 0.25, acceptance ≈ 1),
        // L = 6: θ̃ = 0.251 per step, ρ = cos(1.50) = 0.07 — nearly independent draws. Float32 positions.
        const double sigma = 2.0;
        const int chains = 16;
        var hmc = new Hmc(new Tempering(100, 100, 1.0, sigma), stepSize: 0.5, nSteps: 6);
        using var initial = zeros(chains, 3);
        var (draws, stats) = Run(hmc, new NoData(), initial, steps: 650, warmup: 50, seed: 5);
        var covariance = new double[3, 3];
        for (int i = 0; i < 3; i++) covariance[i, i] = sigma * sigma;
        AssertMoments(draws, chains, new double[3], covariance);
        // Lp is log p(θ) at the position the chain holds after the step (no data: N·ℓ = 0).
        var last = stats[^1];
        using var lastPosition = tensor(draws.TakeLast(chains).SelectMany(r => r).Select(v => (float)v).ToArray(), [chains, 3]);
        var logPrior = hmc.Tempering.LogPrior(lastPosition);
        for (int k = 0; k < chains; k++) Assert.Equal(logPrior[k], last.Lp[k], 1e-4);
    }

    [Fact]
    public void Hmc_samples_a_strongly_correlated_gaussian_with_high_acceptance()
    {
        // N(0, S), unit variances, correlation 0.95: precision eigenvalues 1/1.95 = 0.51 and 1/0.05 = 20. ε = 0.2
        // (ε√λ_max = 0.89 < 2: stable), L = 12: slow mode ρ = cos(12·0.143) = −0.15, fast mode cos(12·0.927) = 0.13.
        // At ε√λ_max = 0.89 the energy error of the stiff mode is ~(ε²λ/4)·(its energy): acceptance ≈ 0.9; bound 0.8.
        var target = new GaussianTarget([0.0, 0.0], new[,] { { 1.0, 0.95 }, { 0.95, 1.0 } });
        const int chains = 16;
        var hmc = new Hmc(GaussianTarget.Tempering, stepSize: 0.2, nSteps: 12);
        using var g = new Generator(3);
        using var initial = randn([chains, 2], generator: g);  // dispersed starts, N(0, I)
        var (draws, stats) = Run(hmc, target, initial, steps: 1_100, warmup: 100, seed: 21);
        double acceptance = stats.Average(s => s.Extra["acceptance_rate"].Average());
        output.WriteLine($"acceptance {acceptance:F3} at ε = 0.2");
        Assert.True(acceptance > 0.8, $"acceptance {acceptance:F3} at ε = 0.2, expected > 0.8");
        AssertMoments(draws, chains, target.Mean, target.Covariance);
        Assert.DoesNotContain(stats, s => s.Diverging.Any(d => d));
    }

    [Fact]
    public void Hmc_energy_error_vanishes_at_second_order_in_the_step_size()
    {
        // Leapfrog conserves a shadow Hamiltonian H̃ = H + ε²H₂ + O(ε⁴), so at fixed trajectory length εL = 1 the energy
        // error of one transition is ΔH = −ε²ΔH₂ + O(ε⁴): halving ε divides |ΔH| by 4 (to within O(ε²λ_max) = 1 %);
        // a first-order integrator would divide it by 2. Same start and momenta (same seeds) for every ε; float64.
        var target = new GaussianTarget([0.5, -0.5], new[,] { { 1.0, 0.95 }, { 0.95, 1.0 } });
        const int chains = 32;
        double MeanAbsEnergyError(double eps, out double acceptance)
        {
            var hmc = new Hmc(GaussianTarget.Tempering, stepSize: eps, nSteps: (int)Math.Round(1 / eps));
            using var g = new Generator(8);
            using var initial = randn([chains, 2], dtype: ScalarType.Float64, generator: g);
            var (_, stats) = Run(hmc, target, initial, steps: 1, warmup: 0, seed: 31);
            acceptance = stats[0].Extra["acceptance_rate"].Average();
            return stats[0].Extra["energy_error"].Average(Math.Abs);
        }
        double e1 = MeanAbsEnergyError(0.02, out _), e2 = MeanAbsEnergyError(0.01, out _), e3 = MeanAbsEnergyError(0.005, out double a3);
        output.WriteLine($"mean |ΔH|: {e1:E3} {e2:E3} {e3:E3}; ratios {e1 / e2:F3} {e2 / e3:F3}; acceptance {a3:F6}");
        Assert.InRange(e1 / e2, 3.8, 4.2);
        Assert.InRange(e2 / e3, 3.8, 4.2);
        // ε = 0.005: starts from N(0, I) put ≈ ½·20·1 = 10 units of energy into the stiff mode (λ = 20), and the leapfrog
        // energy error of a harmonic mode is ≈ (ε²λ/4)·(its energy) ≈ 1.3e−3: bound 5e−3. min(1, e^−ΔH) ≥ 1 − |ΔH|.
        Assert.True(e3 < 5e-3, $"mean |ΔH| {e3:E3} at ε = 0.005");
        Assert.True(a3 > 0.999, $"acceptance {a3:F6} at ε = 0.005");
    }

    [Fact]
    public void Hmc_marks_a_diverging_chain_without_leaking_into_the_others()
    {
        // Chain 0 sees precision 1e6: ε = 0.3 is ε√λ = 300 ≫ 2, so its trajectory blows up (to ±∞ and NaN in float32).
        // Chains 1–3 see precision 1 and must run exactly as they do when chain 0 is well behaved.
        const int chains = 4, steps = 30;
        var hmc = new Hmc(GaussianTarget.Tempering, stepSize: 0.3, nSteps: 10);
        using var g = new Generator(4);
        using var initial = randn([chains, 3], generator: g);
        var start = initial.data<float>().ToArray();
        var (bad, badStats) = Run(hmc, new PerChainGaussian([1e6, 1, 1, 1]), initial, steps, warmup: 0, seed: 41);
        var (good, _) = Run(hmc, new PerChainGaussian([1, 1, 1, 1]), initial, steps, warmup: 0, seed: 41);

        foreach (var s in badStats)
        {
            Assert.True(s.Diverging[0]);
            Assert.Equal(0, s.Extra["accepted"][0]);
            Assert.Equal(0, s.Extra["acceptance_rate"][0]);
            for (int k = 1; k < chains; k++) Assert.False(s.Diverging[k]);
            foreach (var values in new[] { s.LogLikelihood, s.Lp, s.GradNorm, s.Extra["energy"] })
                Assert.All(values, v => Assert.True(double.IsFinite(v)));
        }
        for (int t = 0; t < steps; t++)
        {
            // Chain 0 never moves; the others are bit for bit the well-behaved run.
            for (int i = 0; i < 3; i++) Assert.Equal((double)start[i], bad[t * chains][i]);
            for (int k = 1; k < chains; k++) Assert.Equal(good[t * chains + k], bad[t * chains + k]);
        }
    }

    [Fact]
    public void Hmc_steps_leave_no_tensor_behind()
    {
        // Memory stays flat over a long chain: a step called outside any dispose scope, with autograd in the target,
        // must not leave live tensors (each leapfrog evaluation has its own scope; buffers live in the state).
        using var problem = new LinearRegressionProblem(dtype: ScalarType.Float64);
        const int chains = 4;
        var hmc = new Hmc(problem.Tempering(), stepSize: 0.01, nSteps: 5);
        var target = problem.FullBatch(chains);
        var generators = Enumerable.Range(0, chains).Select(k => new Generator(ChainSeeds.For(51, k).Noise)).ToArray();
        using var state = hmc.Init(zeros([chains, 3], dtype: ScalarType.Float64));
        hmc.Step(state, target, generators);
        long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int t = 0; t < 50; t++) hmc.Step(state, target, generators);
        Assert.Equal(live, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        foreach (var g in generators) g.Dispose();
    }

    [Fact]
    public void Hmc_is_registered_with_defaults_and_runs_full_batch()
    {
        var sampler = SamplerRegistry.Create("hmc", new SamplerContext(new Tempering(10, 10, 1, 1), 100));
        var hmc = Assert.IsType<Hmc>(sampler);
        Assert.Equal(1e-3, hmc.StepSize);
        Assert.Equal(20, hmc.NSteps);
        Assert.True(sampler.FullBatch);
        Assert.Equal(["acceptance_rate", "accepted", "n_steps", "energy", "energy_error"], sampler.ExtraStats);
        Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("hmc", new SamplerContext(new Tempering(10, 10, 1, 1), 100),
            new Dictionary<string, double> { ["n_steps"] = 2.5 }));
    }

    /// <summary>Runs K chains from <paramref name="initial"/> (cloned) and keeps every post-warm-up position (step-major,
    /// K rows per step, as <see cref="ChainDriver"/> pools them) and every step's info.</summary>
    private static (double[][] Draws, List<StepInfo> Stats) Run(ISampler sampler, ILogLikelihood target, Tensor initial,
        int steps, int warmup, ulong seed)
    {
        int chains = (int)initial.shape[0];
        var generators = Enumerable.Range(0, chains).Select(k => new Generator(ChainSeeds.For(seed, k).Noise)).ToArray();
        var draws = new List<double[]>();
        var stats = new List<StepInfo>();
        using var state = sampler.Init(initial.clone());
        for (int t = 1; t <= steps; t++)
        {
            using var scope = NewDisposeScope();
            var info = sampler.Step(state, target, generators);
            if (t <= warmup) continue;
            stats.Add(info);
            var values = state.Position.to_type(ScalarType.Float64).data<double>().ToArray();
            int d = (int)state.Position.shape[1];
            for (int k = 0; k < chains; k++) draws.Add(values.AsSpan(k * d, d).ToArray());
        }
        foreach (var g in generators) g.Dispose();
        return (draws.ToArray(), stats);
    }

    /// <summary>
    /// Mean and every covariance entry (off-diagonal included) within <see cref="Z"/> across-chain standard errors of the
    /// closed form, and an ESS of at least S/10 for each (see the class comment).
    /// </summary>
    private void AssertMoments(double[][] draws, int chains, double[] mean, double[,] covariance)
    {
        int d = mean.Length, s = draws.Length;
        var pooledMean = ChainDriver.MeanOf(draws);
        void Check(string name, Func<double[], double> f, double truth, double varianceOfF)
        {
            var chainAverages = new double[chains];
            for (int i = 0; i < s; i++) chainAverages[i % chains] += f(draws[i]) / (s / chains);
            double estimate = chainAverages.Average();
            double se = Math.Sqrt(chainAverages.Sum(a => (a - estimate) * (a - estimate)) / (chains - 1) / chains);
            double ess = varianceOfF / (se * se);
            output.WriteLine($"{name}: {estimate:E4} vs {truth:E4}, |z| = {Math.Abs(estimate - truth) / se:F2}, ESS/S = {ess / s:F2}");
            Assert.True(Math.Abs(estimate - truth) < Z * se, $"{name} = {estimate:E4}, closed form {truth:E4}, se {se:E2}");
            Assert.True(ess >= s / 10.0, $"{name}: ESS {ess:F0} of {s} draws: the chains do not mix");
        }
        for (int i = 0; i < d; i++)
        {
            int a = i;
            Check($"mean[{a}]", r => r[a], mean[a], covariance[a, a]);
        }
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++)
            {
                int a = i, b = j;
                // Var[(θa − μa)(θb − μb)] = Σaa Σbb + Σab² for a Gaussian.
                Check($"cov[{a},{b}]", r => (r[a] - pooledMean[a]) * (r[b] - pooledMean[b]), covariance[a, b],
                    covariance[a, a] * covariance[b, b] + covariance[a, b] * covariance[a, b]);
            }
    }

    /// <summary>log-likelihood −½ aₖ|θ|² for chain k: a different curvature per chain.</summary>
    private sealed class PerChainGaussian(double[] precision) : ILogLikelihood
    {
        public (Tensor Value, Tensor Gradient) Evaluate(Tensor position)
        {
            using var scope = NewDisposeScope();
            var a = tensor(precision).to_type(position.dtype).unsqueeze(1);
            var gradient = position.mul(a).neg();
            var value = position.pow(HeldScalars.Two).sum(1).mul(a.squeeze(1)).mul(HeldScalars.Of(-0.5));
            return (value.MoveToOuterDisposeScope(), gradient.MoveToOuterDisposeScope());
        }
    }
}
