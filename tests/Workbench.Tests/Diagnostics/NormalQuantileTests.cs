using Workbench.Studies.Diagnostics;

namespace Workbench.Tests.Diagnostics;

public sealed class NormalQuantileTests
{
    // Expected values: Python 3 statistics.NormalDist().inv_cdf(p), each checked by the round trip
    // 0.5·erfc(∓x/√2) = p (relative error below 1e-13 everywhere, 3e-15 for p ≥ 1e-5).
    [Theory]
    [InlineData(1e-300, -37.0470962993612)]
    [InlineData(1e-20, -9.262340089798405)]
    [InlineData(1e-10, -6.361340902404056)]
    [InlineData(1e-5, -4.2648907939228256)]
    [InlineData(0.001, -3.090232306167813)]
    [InlineData(0.025, -1.9599639845400538)]
    [InlineData(0.05, -1.6448536269514726)]
    [InlineData(0.1, -1.2815515655446008)]
    [InlineData(0.2, -0.8416212335729142)]
    [InlineData(0.4, -0.2533471031357998)]
    [InlineData(0.5, 0.0)]
    [InlineData(0.75, 0.6744897501960817)]
    [InlineData(0.975, 1.9599639845400536)]
    [InlineData(0.99, 2.3263478740408408)]
    [InlineData(0.9999999999, 6.361340889697421)]
    public void Normal_quantile_matches_known_values_to_1e_12_relative(double p, double expected)
    {
        double x = NormalQuantile.Of(p);
        Assert.True(Math.Abs(x - expected) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"Φ⁻¹({p}) = {x:R}, expected {expected:R}");
    }

    [Fact]
    public void Normal_quantile_is_infinite_at_0_and_1_and_NaN_outside()
    {
        Assert.Equal(double.NegativeInfinity, NormalQuantile.Of(0));
        Assert.Equal(double.PositiveInfinity, NormalQuantile.Of(1));
        Assert.True(double.IsNaN(NormalQuantile.Of(-0.1)));
        Assert.True(double.IsNaN(NormalQuantile.Of(1.5)));
        Assert.True(double.IsNaN(NormalQuantile.Of(double.NaN)));
    }

    [Fact]
    public void Normal_quantile_is_odd_around_one_half()
    {
        foreach (double p in new[] { 1e-8, 0.01, 0.07, 0.3, 0.42, 0.499 })
            Assert.Equal(-NormalQuantile.Of(p), NormalQuantile.Of(1 - p), 1e-9 * Math.Abs(NormalQuantile.Of(p)) + 1e-15);
    }
}
