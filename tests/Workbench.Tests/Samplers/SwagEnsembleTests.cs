using Workbench.Samplers;
using Workbench.Studies.Sampling;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

public class SwagEnsembleTests(ITestOutputHelper output)
{
    [Fact]
    public void Swag_collects_running_mean_second_moment_and_last_K_deviations_of_its_iterates()
    {
        // A target whose gradient is a fixed script g_t, so θ follows a path computed here by hand in float64:
        // v ← μv + g_t − λθ, θ ← θ + ηv. Snapshots after steps 12, 14, …, 20 (start 0.5 of 20, every 2): 5 of them,
        // the ring buffer of K = 3 keeps snapshots 4, 5, 3 in slots 0, 1, 2.
        const int chains = 2, p = 3, steps = 20, rank = 3;
        const double eta = 0.1, momentum = 0.9;
        var tempering = GaussianTarget.Tempering; // N = 1, σ = 1e4: λ = 1e-8, kept in the hand computation
        double lambda = tempering.WeightDecay;
        var random = new Random(3);
        var script = Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, chains * p).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var start = Enumerable.Range(0, chains * p).Select(_ => random.NextDouble()).ToArray();

        var swag = new Swag(tempering, totalSteps: steps, stepSize: eta, momentum: momentum, rank: rank, collectEvery: 2, start: 0.5);
        using var state = (SwagState)swag.Init(tensor(start, [chains, p], ScalarType.Float64));
        var generators = new[] { new Generator(1), new Generator(2) };
        var target = new ScriptedGradient(script);

        var theta = (double[])start.Clone();
        var v = new double[chains * p];
        var snapshots = new List<double[]>();
        var deviations = new List<double[]>();
        for (int t = 1; t <= steps; t++)
        {
            if (t == 12) Assert.Throws<InvalidOperationException>(() => swag.Draw(state, generators)); // nothing collected yet
            var info = swag.Step(state, target, generators);
            for (int j = 0; j < theta.Length; j++)
            {
                v[j] = momentum * v[j] + script[t - 1][j] - lambda * theta[j];
                theta[j] += eta * v[j];
            }
            if (t > 10 && t % 2 == 0)
            {
                snapshots.Add((double[])theta.Clone());
                var mean = MeanOf(snapshots);
                deviations.Add(theta.Select((x, j) => x - mean[j]).ToArray());
            }
            Assert.Equal(snapshots.Count, (int)info.Extra["collected"][1]);
        }

        var thetaBar = MeanOf(snapshots);
        var m2 = Enumerable.Range(0, theta.Length).Select(j => snapshots.Average(s => s[j] * s[j])).ToArray();
        var variance = thetaBar.Select((m, j) => Math.Max(m2[j] - m * m, Swag.MinVariance)).ToArray();
        Assert.Equal(5, state.Collected);
        // float64 throughout; the running update and the direct average differ by rounding only (~1e-15 relative).
        const double tol = 1e-12;
        AssertClose(theta, Values(state.Position), tol, "θ");
        AssertClose(thetaBar, Values(state.Mean), tol, "θ̄");
        AssertClose(m2, Values(state.SecondMoment), tol, "m₂");
        using (var diag = state.DiagonalVariance()) AssertClose(variance, Values(diag), tol, "Σ_diag");
        int[] snapshotInSlot = [3, 4, 2]; // 0-based snapshot index held by ring slots 0, 1, 2
        for (int slot = 0; slot < rank; slot++)
        {
            using var column = state.Deviations.select(1, slot);
            AssertClose(deviations[snapshotInSlot[slot]], Values(column), tol, $"D̂ slot {slot}");
        }
        foreach (var g in generators) g.Dispose();
    }

    [Fact]
    public void Swag_draws_have_mean_theta_bar_and_covariance_half_diagonal_plus_low_rank()
    {
        // Fixed moments from 7 snapshots (the same in every chain); K = 5 keeps the last 5 deviations. Expected:
        // E = θ̄, C = diag(Σ_diag)/2 + D̂D̂ᵀ/(2(K−1)). Pooled over S = 1000 chains × 100 draws, independent Gaussians:
        // 5 standard errors, mean se √(C_ii/S), sample-covariance se √((C_ii C_jj + C_ij²)/S).
        const int chains = 1000, p = 4, rank = 5, calls = 100;
        var swag = new Swag(GaussianTarget.Tempering, totalSteps: 10, stepSize: 0.1, rank: rank, collectEvery: 1);
        using var state = (SwagState)swag.Init(zeros(chains, p, dtype: ScalarType.Float64));
        var random = new Random(11);
        var snapshots = new List<double[]>();
        var deviations = new List<double[]>();
        for (int n = 0; n < 7; n++)
        {
            var theta = Enumerable.Range(0, p).Select(j => j + (j + 1) * 0.3 * (random.NextDouble() - 0.5)).ToArray();
            snapshots.Add(theta);
            var mean = MeanOf(snapshots);
            deviations.Add(theta.Select((x, j) => x - mean[j]).ToArray());
            using var row = tensor(theta, [1, p], ScalarType.Float64);
            using var all = row.expand(chains, p).contiguous();
            state.Collect(all);
        }
        var thetaBar = MeanOf(snapshots);
        var diag = Enumerable.Range(0, p).Select(j => Math.Max(snapshots.Average(s => s[j] * s[j]) - thetaBar[j] * thetaBar[j], Swag.MinVariance)).ToArray();
        var d = deviations.Skip(7 - rank).ToArray();
        var expected = new double[p, p];
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++)
                expected[i, j] = (i == j ? diag[i] / 2 : 0) + d.Sum(col => col[i] * col[j]) / (2.0 * (rank - 1));

        var generators = Enumerable.Range(0, chains).Select(k => new Generator(ChainSeeds.For(21, k).Noise)).ToArray();
        var draws = new List<double[]>();
        for (int c = 0; c < calls; c++)
        {
            using var draw = swag.Draw(state, generators);
            var flat = Values(draw);
            for (int k = 0; k < chains; k++) draws.Add(flat.AsSpan(k * p, p).ToArray());
        }
        foreach (var g in generators) g.Dispose();
        var sampleMean = ChainDriver.MeanOf(draws.ToArray());
        var sampleCov = ChainDriver.CovarianceOf(draws.ToArray());
        double s = draws.Count;
        double worst = 0;
        for (int i = 0; i < p; i++)
        {
            double se = Math.Sqrt(expected[i, i] / s);
            worst = Math.Max(worst, Math.Abs(sampleMean[i] - thetaBar[i]) / se);
            Assert.True(Math.Abs(sampleMean[i] - thetaBar[i]) < 5 * se, $"mean[{i}] {sampleMean[i]:G6} vs θ̄ {thetaBar[i]:G6} (se {se:E2})");
            for (int j = 0; j < p; j++)
            {
                double seCov = Math.Sqrt((expected[i, i] * expected[j, j] + expected[i, j] * expected[i, j]) / s);
                worst = Math.Max(worst, Math.Abs(sampleCov[i, j] - expected[i, j]) / seCov);
                Assert.True(Math.Abs(sampleCov[i, j] - expected[i, j]) < 5 * seCov,
                    $"cov[{i},{j}] {sampleCov[i, j]:E4} vs {expected[i, j]:E4} (se {seCov:E2})");
            }
        }
        output.WriteLine($"largest deviation: {worst:F2} standard errors (bound 5)");
    }

    [Fact]
    public void Swag_on_linear_regression_draws_are_finite_and_centred_on_the_posterior_mean()
    {
        // Minibatch SGD (B = 20, drawn with replacement) on the linear-regression posterior. The objective is quadratic
        // and minibatch gradients are unbiased, so the iterates' stationary mean is the MAP = μ exactly; the draws'
        // pooled mean misses μ only by Monte Carlo error: θ̄ averages n snapshots (25 steps apart, ≫ the slowest
        // relaxation time 1/(η/(1−μ_m)·λ_min(Λ/N)) ≈ 8 steps, so nearly independent) and the S draws add their own.
        // With v_i the measured within-chain draw variance (≈ the iterate variance: the two halves of the SWAG
        // covariance each estimate half of it): tol_i = 5 √(v_i/(n·C) + v_i/(S·C)).
        using var problem = new LinearRegressionProblem();
        const int chains = 8, steps = 3_000, batch = 20, drawsPerChain = 200;
        const double eta = 8e-3, momentum = 0.9;
        var swag = new Swag(problem.Tempering(batch: batch), steps, eta, momentum, rank: 20, collectEvery: 25, start: 0.5);
        using var target = new ResampledMinibatches(problem, chains, batch, seed: 17);
        using var initial = zeros(chains, 3);
        var draws = ChainDriver.Run(swag, target, initial.clone(), steps, warmup: steps - drawsPerChain, thin: 1, seed: 4);
        Assert.Equal(chains * drawsPerChain, draws.Length);
        Assert.All(draws, r => Assert.All(r, x => Assert.True(double.IsFinite(x))));
        int snapshots = (steps - steps / 2) / 25;

        var mean = ChainDriver.MeanOf(draws);
        // Mandt et al. (2017): with gradient-noise covariance ≈ the Fisher (well-specified model), SGD's iterate
        // covariance is ≈ (η/(1−μ_m))/(2B)·I; discretisation (η_eff·λ_max ≈ 0.5) changes it by tens of percent.
        double predicted = eta / (1 - momentum) / (2 * batch);
        for (int i = 0; i < 3; i++)
        {
            double within = Enumerable.Range(0, chains)
                .Select(k => ChainDriver.CovarianceOf(draws.Skip(k * drawsPerChain).Take(drawsPerChain).ToArray())[i, i]).Average();
            double tol = 5 * Math.Sqrt(within / (snapshots * chains) + within / (drawsPerChain * chains));
            output.WriteLine($"w[{i}]: mean {mean[i]:F5} vs μ {problem.Mean[i]:F5} (|Δ| {Math.Abs(mean[i] - problem.Mean[i]):E2}, tol {tol:E2}); " +
                $"draw variance {within:E3}, predicted iterate variance {predicted:E3}, posterior {problem.Covariance[i, i]:E3}");
            Assert.True(Math.Abs(mean[i] - problem.Mean[i]) < tol, $"w[{i}] mean {mean[i]:F5} vs μ {problem.Mean[i]:F5} (tol {tol:E2})");
            Assert.InRange(within / predicted, 0.5, 2.0); // SWAG spreads like SGD's iterates, not collapsed, not blown up
        }
    }

    [Fact]
    public void Ensemble_members_converge_to_the_map_from_different_starts()
    {
        // Full-batch Adam on the linear-regression posterior: the MAP is μ (Gaussian posterior), whatever the start.
        // Tolerance 1e-4 absolute ≤ 0.004 posterior sd on every coordinate (sd ≥ 0.028): optimisation error, not
        // sampling error (float32 puts the optimum within ~1e-6 of μ). Dropping the prior's weight decay moves the
        // optimum by Σμ/σ² ≈ 1e-3, ten times the tolerance.
        using var problem = new LinearRegressionProblem();
        const int chains = 6, steps = 3_000, drawsPerChain = 10;
        const double tol = 1e-4;
        var ensemble = new Ensemble(problem.Tempering(), stepSize: 0.01);
        using var g = new Generator(8);
        using var initial = randn([chains, 3], generator: g).mul_(HeldScalars.Of(3));
        var starts = Values(initial);
        var draws = ChainDriver.Run(ensemble, problem.FullBatch(chains), initial.clone(), steps, warmup: steps - drawsPerChain, thin: 1, seed: 2);
        Assert.Equal(chains * drawsPerChain, draws.Length);
        double worst = 0;
        for (int k = 0; k < chains; k++)
        {
            var member = draws[k];
            double distanceFromStart = Math.Sqrt(Enumerable.Range(0, 3).Sum(i => Math.Pow(starts[k * 3 + i] - problem.Mean[i], 2)));
            Assert.True(distanceFromStart > 1, $"member {k} started at the MAP already ({distanceFromStart:F2})");
            for (int i = 0; i < 3; i++)
            {
                worst = Math.Max(worst, Math.Abs(member[i] - problem.Mean[i]));
                Assert.True(Math.Abs(member[i] - problem.Mean[i]) < tol, $"member {k} w[{i}] {member[i]:F6} vs μ {problem.Mean[i]:F6}");
            }
            // Every later draw of member k repeats it (ChainDriver draws call after call, chains in order).
            for (int s = 1; s < drawsPerChain; s++) Assert.Equal(member, draws[s * chains + k]);
        }
        Assert.All(draws, r => Assert.All(r, x => Assert.True(double.IsFinite(x))));
        var mean = ChainDriver.MeanOf(draws);
        for (int i = 0; i < 3; i++) Assert.True(Math.Abs(mean[i] - problem.Mean[i]) < tol, $"draws' mean w[{i}] {mean[i]:F6} vs μ {problem.Mean[i]:F6}");
        output.WriteLine($"largest |member − μ|: {worst:E2} (tol {tol:E0})");
    }

    [Fact]
    public void Ensemble_takes_the_Adam_steps_computed_by_hand()
    {
        // Scripted gradients g_t, float64: m ← β₁m + (1−β₁)ĝ, v ← β₂v + (1−β₂)ĝ², θ ← θ + η m̂/(√v̂ + ε) with
        // ĝ = g_t − λθ and bias corrections 1−βᵗ. The first step moves each coordinate by η·sign(ĝ) (m̂ = ĝ, v̂ = ĝ²).
        const int chains = 2, p = 3, steps = 8;
        const double eta = 0.05, beta1 = 0.8, beta2 = 0.95;
        var tempering = GaussianTarget.Tempering;
        double lambda = tempering.WeightDecay;
        var random = new Random(5);
        var script = Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, chains * p).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var theta = Enumerable.Range(0, chains * p).Select(_ => random.NextDouble()).ToArray();
        var ensemble = new Ensemble(tempering, eta, beta1, beta2);
        using var state = ensemble.Init(tensor(theta, [chains, p], ScalarType.Float64));
        var generators = new[] { new Generator(1), new Generator(2) };
        var target = new ScriptedGradient(script);
        var m = new double[chains * p];
        var v = new double[chains * p];
        for (int t = 1; t <= steps; t++)
        {
            ensemble.Step(state, target, generators);
            for (int j = 0; j < theta.Length; j++)
            {
                double g = script[t - 1][j] - lambda * theta[j];
                m[j] = beta1 * m[j] + (1 - beta1) * g;
                v[j] = beta2 * v[j] + (1 - beta2) * g * g;
                theta[j] += eta * (m[j] / (1 - Math.Pow(beta1, t))) / (Math.Sqrt(v[j] / (1 - Math.Pow(beta2, t))) + Ensemble.Epsilon);
            }
            AssertClose(theta, Values(state.Position), 1e-12, $"θ after step {t}");
        }
        using var draw = ensemble.Draw(state, generators);
        AssertClose(Values(state.Position), Values(draw), 0, "draw (the member itself)");
        foreach (var g in generators) g.Dispose();
    }

    [Fact]
    public void Swag_and_ensemble_flag_only_the_chain_whose_gradient_is_not_finite()
    {
        var script = new[] { new[] { 0.1, 0.2, double.NaN, 0.3 } }; // chain 1's gradient has a NaN
        foreach (var sampler in new ISampler[] { new Swag(GaussianTarget.Tempering, 10, 0.1), new Ensemble(GaussianTarget.Tempering, 0.1) })
        {
            using var state = sampler.Init(zeros(2, 2, dtype: ScalarType.Float64));
            var generators = new[] { new Generator(1), new Generator(2) };
            var info = sampler.Step(state, new ScriptedGradient(script), generators);
            Assert.True(info.Diverging is [false, true] && double.IsFinite(info.GradNorm[0]) && double.IsNaN(info.GradNorm[1]),
                $"{sampler.Name}: diverging [{string.Join(", ", info.Diverging)}], grad norm [{string.Join(", ", info.GradNorm)}], lp [{string.Join(", ", info.Lp)}]");
            foreach (var g in generators) g.Dispose();
        }
    }

    [Fact]
    public void Registry_creates_swag_and_ensemble_with_their_defaults()
    {
        var context = new SamplerContext(new Tempering(TrainingSize: 200, BatchSize: 20, Temperature: 1, PriorStd: 1), TotalSteps: 1000);
        var swag = Assert.IsType<Swag>(SamplerRegistry.Create("swag", context));
        Assert.Equal(SamplerKind.Fitted, ((ISampler)swag).Kind);
        Assert.Equal(["collected"], ((ISampler)swag).ExtraStats);
        Assert.Equal((0.01, 0.9, 20, 500L), (swag.StepSize, swag.Momentum, swag.Rank, swag.StartStep));
        Assert.Equal(10, swag.CollectEvery); // one epoch ⌈200/20⌉ = 10 fits 500/20 = 25
        var shortRun = Assert.IsType<Swag>(SamplerRegistry.Create("swag", context with { TotalSteps = 100 }));
        Assert.Equal(2, shortRun.CollectEvery); // window 50 steps holds K = 20 snapshots only every 50/20 → 2 steps
        Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("swag", context, new Dictionary<string, double> { ["rank"] = 2.5 }));
        Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("swag", context with { TotalSteps = 1 }, new Dictionary<string, double> { ["collect_every"] = 5 }));

        var ensemble = Assert.IsType<Ensemble>(SamplerRegistry.Create("ensemble", context));
        Assert.Equal(SamplerKind.Fitted, ((ISampler)ensemble).Kind);
        Assert.Equal((1e-3, 0.9, 0.999), (ensemble.StepSize, ensemble.Beta1, ensemble.Beta2));
        Assert.Contains("swag", SamplerRegistry.Names);
        Assert.Contains("ensemble", SamplerRegistry.Names);
    }

    private static double[] MeanOf(List<double[]> rows) =>
        Enumerable.Range(0, rows[0].Length).Select(j => rows.Average(r => r[j])).ToArray();

    private static double[] Values(Tensor t)
    {
        using var cpu = t.detach().to_type(ScalarType.Float64).cpu().contiguous();
        return cpu.data<double>().ToArray();
    }

    private static void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < expected.Length; j++)
            Assert.True(Math.Abs(expected[j] - actual[j]) <= tol, $"{what}[{j}]: {actual[j]:R} vs by hand {expected[j]:R}");
    }

    /// <summary>A target whose gradient at call t is script[t] (any θ) and whose log-likelihood is 0.</summary>
    private sealed class ScriptedGradient(double[][] script) : ILogLikelihood
    {
        private int _call;

        public (Tensor Value, Tensor Gradient) Evaluate(Tensor position) =>
            (zeros(position.shape[0], dtype: position.dtype), tensor(script[_call++], position.shape, position.dtype));
    }

    /// <summary>The linear-regression likelihood on a fresh minibatch per call: B rows per chain, drawn with replacement.</summary>
    private sealed class ResampledMinibatches(LinearRegressionProblem problem, int chains, int batch, ulong seed) : ILogLikelihood, IDisposable
    {
        private readonly MinibatchLogLikelihood _inner = new(problem.Network, new GaussianLikelihood(problem.NoiseStd));
        private readonly Generator _generator = new(seed);

        public (Tensor Value, Tensor Gradient) Evaluate(Tensor position)
        {
            using var scope = NewDisposeScope();
            var rows = randint(0, problem.N, [chains * batch], generator: _generator);
            var x = problem.X.index_select(0, rows).reshape(chains, batch, -1);
            var y = problem.Y.index_select(0, rows).reshape(chains, batch);
            _inner.SetBatch(x, y);
            var (value, gradient) = _inner.Evaluate(position);
            return (value.MoveToOuterDisposeScope(), gradient.MoveToOuterDisposeScope());
        }

        public void Dispose() => _generator.Dispose();
    }
}
