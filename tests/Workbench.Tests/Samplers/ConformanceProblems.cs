using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Sampling;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

/// <summary>
/// Bayesian linear regression with a closed-form posterior, for checking samplers: y = Xw + ε, ε ~ N(0, s²),
/// prior w ~ N(0, σ²I). Λ = XᵀX/s² + I/σ², Σ = Λ⁻¹, μ = Σ Xᵀy/s². Features 0 and 1 are correlated, so the
/// mean-field variances 1/Λᵢᵢ are narrower than Σᵢᵢ.
/// </summary>
internal sealed class LinearRegressionProblem : IDisposable
{
    public Tensor X { get; }          // [N, d]
    public Tensor Y { get; }          // [N]
    public int N { get; }
    public int D { get; }
    public double NoiseStd { get; }
    public double PriorStd { get; }
    public double[] Mean { get; }
    public double[,] Covariance { get; }
    /// <summary>Eigenvalues of the posterior precision Λ (ascending).</summary>
    public double[] PrecisionEigenvalues { get; }
    /// <summary>The mean-field optimum's variances: 1/Λᵢᵢ.</summary>
    public double[] MeanFieldVariance { get; }
    public LinearRegression Network { get; }
    public ScalarType Dtype { get; }

    public LinearRegressionProblem(int n = 200, double correlation = 0.6, double noiseStd = 0.5, double priorStd = 1.0,
        ulong seed = 42, ScalarType dtype = ScalarType.Float32, double temperature = 1.0)
    {
        N = n; D = 3; NoiseStd = noiseStd; PriorStd = priorStd; Dtype = dtype;
        using var g = new Generator(seed);
        using var z = randn([n, 3], dtype: ScalarType.Float64, generator: g);
        using var x = z.clone();
        x.select(1, 1).copy_((z.select(1, 0) * HeldScalars.Of(correlation)).add(z.select(1, 1) * HeldScalars.Of(Math.Sqrt(1 - correlation * correlation)), HeldScalars.One));
        using var w = tensor(new[] { 1.0, -2.0, 0.5 });
        using var noise = randn([n], dtype: ScalarType.Float64, generator: g);
        using var y = x.matmul(w).add(noise * HeldScalars.Of(noiseStd), HeldScalars.One);
        X = x.to_type(dtype).DetachFromDisposeScope();
        Y = y.to_type(dtype).DetachFromDisposeScope();

        // Temperature T scales the posterior covariance by T (p_T ∝ exp(log posterior / T)).
        using var precision = ((x.t().matmul(x) / HeldScalars.Of(noiseStd * noiseStd)).add(eye(3, dtype: ScalarType.Float64) / HeldScalars.Of(priorStd * priorStd), HeldScalars.One)) / HeldScalars.Of(temperature);
        using var cov = linalg.inv(precision);
        using var mean = cov.matmul(x.t().matmul(y)) / HeldScalars.Of(noiseStd * noiseStd) / HeldScalars.Of(temperature);
        Mean = mean.data<double>().ToArray();
        var c = cov.data<double>().ToArray();
        Covariance = new double[3, 3];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) Covariance[i, j] = c[i * 3 + j];
        using var eig = linalg.eigvalsh(precision);
        PrecisionEigenvalues = eig.data<double>().ToArray();
        var p = precision.data<double>().ToArray();
        MeanFieldVariance = Enumerable.Range(0, 3).Select(i => 1 / p[i * 3 + i]).ToArray();
        Network = new LinearRegression(3);
    }

    public Tempering Tempering(double temperature = 1.0, int? batch = null) => new(N, batch ?? N, temperature, PriorStd);

    /// <summary>The full-batch mean log-likelihood of K chains, through the same code path runs use.</summary>
    public MinibatchLogLikelihood FullBatch(int chains)
    {
        var target = new MinibatchLogLikelihood(Network, new GaussianLikelihood(NoiseStd));
        target.SetBatch(X.unsqueeze(0).expand(chains, -1, -1), Y.unsqueeze(0).expand(chains, -1));
        return target;
    }

    public void Dispose()
    {
        X.Dispose();
        Y.Dispose();
        Network.Dispose();
    }
}

/// <summary>A target with no data: the log-likelihood is 0, so the tempered posterior is the prior p(θ)^(1/T).</summary>
internal sealed class NoData : ILogLikelihood
{
    public (Tensor Value, Tensor Gradient) Evaluate(Tensor position) =>
        (zeros(position.shape[0], dtype: position.dtype), zeros_like(position));
}

/// <summary>
/// A Gaussian "likelihood" N(θ; m, S) in closed form, for 2-D tests with a strongly correlated target. Used with
/// Tempering(N = 1, B = 1, T = 1, prior sd 1e4): the prior's precision 1e-8 is negligible, so the target is N(m, S).
/// </summary>
internal sealed class GaussianTarget(double[] mean, double[,] covariance) : ILogLikelihood
{
    public double[] Mean { get; } = mean;
    public double[,] Covariance { get; } = covariance;

    public (Tensor Value, Tensor Gradient) Evaluate(Tensor position)
    {
        using var scope = NewDisposeScope();
        int d = Mean.Length;
        var s = zeros([d, d], dtype: ScalarType.Float64);
        for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) s[i, j] = Covariance[i, j];
        var precision = linalg.inv(s).to_type(position.dtype);
        var centred = position - tensor(Mean).to_type(position.dtype);
        var gradient = centred.matmul(precision).neg();                // −S⁻¹(θ − m), row per chain
        var value = (centred * gradient).sum(1).mul(HeldScalars.Of(0.5));               // −½ (θ − m)ᵀ S⁻¹ (θ − m)
        return (value.MoveToOuterDisposeScope(), gradient.MoveToOuterDisposeScope());
    }

    public static Tempering Tempering => new(TrainingSize: 1, BatchSize: 1, Temperature: 1, PriorStd: 1e4);
}

/// <summary>Runs K chains of a sampler and pools the draws; for conformance tests.</summary>
internal static class ChainDriver
{
    /// <summary>Pooled draws [S][d] after warm-up, every <paramref name="thin"/>-th step where the step allows a draw.</summary>
    public static double[][] Run(ISampler sampler, ILogLikelihood target, Tensor initial, int steps, int warmup, int thin, ulong seed)
    {
        int chains = (int)initial.shape[0];
        var generators = Enumerable.Range(0, chains).Select(k => new Generator(ChainSeeds.For(seed, k).Noise)).ToArray();
        var draws = new List<double[]>();
        using var state = sampler.Init(initial);
        for (int t = 1; t <= steps; t++)
        {
            using var scope = NewDisposeScope();
            var info = sampler.Step(state, target, generators);
            if (t > warmup && (t - warmup) % thin == 0 && info.Collect && sampler.Kind == SamplerKind.MarkovChain)
                draws.AddRange(Rows(state.Position));
        }
        if (sampler.Kind == SamplerKind.Fitted)
            for (int s = 0; s < Math.Max(1, (steps - warmup) / thin); s++)
            {
                using var draw = sampler.Draw(state, generators);
                draws.AddRange(Rows(draw));
            }
        foreach (var g in generators) g.Dispose();
        return draws.ToArray();
    }

    private static IEnumerable<double[]> Rows(Tensor position)
    {
        using var cpu = position.to_type(ScalarType.Float64).cpu();
        var values = cpu.data<double>().ToArray();
        int d = (int)position.shape[1];
        for (int k = 0; k < position.shape[0]; k++) yield return values.AsSpan(k * d, d).ToArray();
    }

    public static double[] MeanOf(double[][] draws) =>
        Enumerable.Range(0, draws[0].Length).Select(i => draws.Average(r => r[i])).ToArray();

    public static double[,] CovarianceOf(double[][] draws)
    {
        int d = draws[0].Length;
        var m = MeanOf(draws);
        var c = new double[d, d];
        foreach (var r in draws)
            for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) c[i, j] += (r[i] - m[i]) * (r[j] - m[j]);
        for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) c[i, j] /= draws.Length - 1;
        return c;
    }
}
