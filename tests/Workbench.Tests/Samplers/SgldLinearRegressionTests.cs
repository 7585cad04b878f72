using System.Globalization;
using Workbench.Architectures;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

public sealed class SgldLinearRegressionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-sgld-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes y = x·w + ε, ε ~ N(0, s²), with d = 3 correlated features, as a CSV file.</summary>
    private static string WriteRegressionCsv(string dir, int rows, double noiseStd)
    {
        var random = new Random(42);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        double[] w = [1.0, -2.0, 0.5];
        var lines = new List<string> { "x0,x1,x2,y" };
        for (int i = 0; i < rows; i++)
        {
            double a = Normal(), b = 0.6 * a + 0.8 * Normal(), c = Normal(); // x1 correlated with x0
            double y = w[0] * a + w[1] * b + w[2] * c + noiseStd * Normal();
            lines.Add(string.Join(',', new[] { a, b, c, y }.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }
        string path = Path.Combine(dir, "linreg.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>Closed-form posterior of w: Λ = XᵀX/s² + I/σ², Σ = Λ⁻¹, μ = Σ Xᵀy/s² (float64).</summary>
    private static (double[] Mean, double[,] Cov, double[] Eigen) Posterior(Dataset data, double noiseStd, double priorStd)
    {
        using var x = data.TrainX.to_type(ScalarType.Float64).reshape(data.TrainX.shape[0], -1);
        using var y = data.TrainY.to_type(ScalarType.Float64);
        using var precision = x.t().matmul(x).div(HeldScalars.Of(noiseStd * noiseStd)).add(eye(x.shape[1], dtype: ScalarType.Float64).div(HeldScalars.Of(priorStd * priorStd)), HeldScalars.One);
        using var cov = linalg.inv(precision);
        using var mean = cov.matmul(x.t().matmul(y)).div(HeldScalars.Of(noiseStd * noiseStd));
        using var eigen = linalg.eigvalsh(precision);
        int d = (int)x.shape[1];
        var c = new double[d, d];
        var flat = cov.data<double>().ToArray();
        for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) c[i, j] = flat[i * d + j];
        return (mean.data<double>().ToArray(), c, eigen.data<double>().ToArray());
    }

    [Fact]
    public void Sgld_matches_analytic_posterior_of_linear_regression()
    {
        const double noiseStd = 0.5, priorStd = 1.0;
        const int chains = 32, steps = 22_000, warmup = 2_000;
        string csv = WriteRegressionCsv(_dir, rows: 250, noiseStd);
        using var data = DataSource.Load(new DataOptions(csv, TaskKind.Regression, "y", 0.2, SplitSeed: 7));
        long n = data.TrainX.shape[0];
        var (mu, sigma, eigen) = Posterior(data, noiseStd, priorStd);

        // Full-batch SGLD is the unadjusted Langevin algorithm on U = −log posterior with step h = η/N. Choose
        // h·λ_max = 0.02: on a Gaussian its stationary covariance is (Λ − hΛ²/2)⁻¹, so variances are inflated by at
        // most 1/(1 − hλ_max/2) − 1 ≈ 1.0 % and the mean is exact.
        double h = 0.02 / eigen.Max(), eta = h * n;
        double bias = 1 / (1 - h * eigen.Max() / 2) - 1;
        var options = new SampleOptions
        {
            Model = new ModelOptions("linreg"), Data = csv, Target = "y", TestFraction = 0.2, NoiseStd = noiseStd, PriorStd = priorStd,
            Sampler = "sgld", StepSize = eta, Chains = chains, Steps = steps, Warmup = warmup, Thin = 1, BatchSize = (int)n,
            Seed = 1, EvalEvery = 1000, Out = Path.Combine(_dir, "run"), Threads = 1, Device = "cpu", SplitSeed = 7,
        };
        var result = SamplingRun.Execute(options, TextWriter.Null);
        Assert.Equal("finished", result.Status);

        var draws = ParquetTable.Read(Path.Combine(result.Folder, "draws.parquet"));
        Assert.Equal(chains * (steps - warmup), draws.RowCount);
        // Slowest direction: per-step autocorrelation ρ = 1 − hλ_min, integrated autocorrelation time
        // τ = (1 + ρ)/(1 − ρ), so the pooled draws are worth ESS ≈ S/τ independent ones.
        double rho = 1 - h * eigen.Min(), tau = (1 + rho) / (1 - rho), ess = draws.RowCount / tau;
        for (int i = 0; i < 3; i++)
        {
            var w = draws.Column<double>($"w[{i}]");
            double mean = w.Average(), variance = w.Select(v => (v - mean) * (v - mean)).Sum() / (w.Length - 1);
            double sd = Math.Sqrt(sigma[i, i]);
            // Mean: standard error sd/√ESS; allow 5 se. Variance: relative standard error √(2/ESS); allow 5 se plus
            // the discretisation bias. (ESS ≈ 1,500 here: 5 se = 0.13 sd on the mean, 18 % on the variance.)
            Assert.True(Math.Abs(mean - mu[i]) < 5 * sd / Math.Sqrt(ess), $"w[{i}] mean {mean:F5} vs analytic {mu[i]:F5} (sd {sd:F5}, ESS {ess:F0})");
            double relative = variance / sigma[i, i] - 1;
            Assert.True(Math.Abs(relative) < 5 * Math.Sqrt(2 / ess) + bias, $"w[{i}] variance {variance:E4} vs analytic {sigma[i, i]:E4} ({relative:P1} off, ESS {ess:F0})");
        }
    }
}
