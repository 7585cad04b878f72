using Workbench.Samplers;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

public class SgldConformanceTests
{
    [Fact]
    public void Sgld_without_data_draws_from_the_prior()
    {
        // No data: the target is the prior N(0, σ²I), σ = 2. ULA step h = η/N on precision λ = 1/σ² = 0.25;
        // choose hλ = 0.02 (variance bias 1/(1 − hλ/2) − 1 ≈ 1 %). Per step ρ = 1 − hλ, τ = (1+ρ)/(1−ρ) = 99.
        const int chains = 32, steps = 5_000, warmup = 1_000;
        const double sigma = 2.0, n = 100;
        double h = 0.02 / (1 / (sigma * sigma)), tau = (2 - 0.02) / 0.02;
        var sgld = new Sgld(new Tempering((long)n, 1, 1.0, sigma), stepSize: h * n);
        using var initial = zeros(chains, 3);
        var draws = ChainDriver.Run(sgld, new NoData(), initial.clone(), steps, warmup, thin: 1, seed: 5);
        double ess = draws.Length / tau;
        var mean = ChainDriver.MeanOf(draws);
        var cov = ChainDriver.CovarianceOf(draws);
        for (int i = 0; i < 3; i++)
        {
            // 5 standard errors: mean se σ/√ESS, variance relative se √(2/ESS), plus the 1 % bias.
            Assert.True(Math.Abs(mean[i]) < 5 * sigma / Math.Sqrt(ess), $"θ[{i}] mean {mean[i]:F4}");
            Assert.True(Math.Abs(cov[i, i] / (sigma * sigma) - 1) < 5 * Math.Sqrt(2 / ess) + 0.011, $"θ[{i}] variance {cov[i, i]:F4} vs {sigma * sigma}");
        }
    }

    [Fact]
    public void Sgld_at_temperature_two_doubles_the_posterior_variance()
    {
        // Full-batch SGLD on linear regression at T = 2 against the closed-form tempered posterior (covariance 2Σ).
        using var problem = new LinearRegressionProblem(temperature: 2.0);
        const int chains = 32, steps = 12_000, warmup = 2_000;
        // Step h = η/N on the tempered precision Λ/T: choose h·λ_max(Λ/T) = 0.02 (variance bias ≤ 1 %).
        double lambdaMax = problem.PrecisionEigenvalues.Max(), lambdaMin = problem.PrecisionEigenvalues.Min();
        double h = 0.02 / lambdaMax, rho = 1 - h * lambdaMin, tau = (1 + rho) / (1 - rho);
        var sgld = new Sgld(problem.Tempering(temperature: 2.0), stepSize: h * problem.N);
        using var initial = zeros(chains, 3);
        var draws = ChainDriver.Run(sgld, problem.FullBatch(chains), initial.clone(), steps, warmup, thin: 1, seed: 9);
        double ess = draws.Length / tau;
        var mean = ChainDriver.MeanOf(draws);
        var cov = ChainDriver.CovarianceOf(draws);
        for (int i = 0; i < 3; i++)
        {
            double sd = Math.Sqrt(problem.Covariance[i, i]);
            Assert.True(Math.Abs(mean[i] - problem.Mean[i]) < 5 * sd / Math.Sqrt(ess), $"w[{i}] mean {mean[i]:F4} vs {problem.Mean[i]:F4}");
            Assert.True(Math.Abs(cov[i, i] / problem.Covariance[i, i] - 1) < 5 * Math.Sqrt(2 / ess) + 0.011,
                $"w[{i}] variance {cov[i, i]:E3} vs tempered {problem.Covariance[i, i]:E3}");
        }
    }
}
