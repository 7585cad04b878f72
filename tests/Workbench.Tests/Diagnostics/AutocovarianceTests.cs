using Workbench.Studies.Diagnostics;

namespace Workbench.Tests.Diagnostics;

public sealed class AutocovarianceTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(1000)]
    public void Fft_autocovariance_equals_the_direct_sums(int n)
    {
        var x = Draws.Ar1(1, n, 0.7, seed: n)[0].Select(v => v + 3.0).ToArray();
        var fft = Autocovariance.Of(x);
        var direct = Autocovariance.Direct(x);
        Assert.Equal(n, fft.Length);
        // Rounding of an FFT of length m grows like log2(m)·eps·Σx²: 1e-12 of γ̂₀ is far above it.
        for (int t = 0; t < n; t++) Assert.True(Math.Abs(fft[t] - direct[t]) <= 1e-12 * Math.Max(direct[0], 1e-300), $"lag {t}: {fft[t]} vs {direct[t]}");
    }

    [Fact]
    public void Autocovariance_of_a_known_sequence_by_hand()
    {
        // x = 1, 2, 3, 4: mean 2.5, centred −1.5, −0.5, 0.5, 1.5.
        // γ0 = (2.25+0.25+0.25+2.25)/4 = 1.25; γ1 = (0.75−0.25+0.75)/4 = 0.3125; γ2 = (−0.75−0.75)/4 = −0.375; γ3 = −2.25/4.
        var gamma = Autocovariance.Of([1, 2, 3, 4]);
        Assert.Equal(new[] { 1.25, 0.3125, -0.375, -0.5625 }, gamma.Select(g => Math.Round(g, 12)));
    }
}
