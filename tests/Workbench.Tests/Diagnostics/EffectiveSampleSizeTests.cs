using Workbench.Studies.Diagnostics;
using Xunit.Abstractions;

namespace Workbench.Tests.Diagnostics;

public sealed class EffectiveSampleSizeTests(ITestOutputHelper log)
{
    [Fact]
    public void Iid_normal_draws_have_ess_near_the_number_of_draws()
    {
        // S = 4 × 1000. For i.i.d. draws each ρ̂_t has sd ≈ 1/√S; Geyer's sequence stops after about K ≈ 3 lags, so
        // τ̂ − 1 ≈ 2Σρ̂_t has sd ≈ 2√K/√S ≈ 0.055. ±0.15 is about 3 sd.
        var chains = Draws.Iid(4, 1000, seed: 21);
        double s = 4000, bulk = EffectiveSampleSize.Bulk(chains) / s, tail = EffectiveSampleSize.Tail(chains) / s;
        double plain = EffectiveSampleSize.Of(chains) / s;
        log.WriteLine($"i.i.d.: bulk-ESS/S = {bulk:F4}, tail-ESS/S = {tail:F4}, ESS/S = {plain:F4}");
        Assert.InRange(bulk, 0.85, 1.15);
        Assert.InRange(plain, 0.85, 1.15);
        // The indicator of a 5% tail carries less information per draw; its ESS is still the number of draws ± noise.
        Assert.InRange(tail, 0.75, 1.25);
    }

    [Theory]
    [InlineData(0.5, 0.15)]
    [InlineData(0.9, 0.20)]
    public void Ar1_draws_have_ess_per_draw_near_one_minus_rho_over_one_plus_rho(double rho, double relativeTolerance)
    {
        // S = 4 × 10000 draws. Relative sd of τ̂ ≈ √(2(2K+1)/S) with K the truncation lag (≈ 3τ): ρ = 0.5 (τ = 3):
        // ≈ 0.03; ρ = 0.9 (τ = 19): ≈ 0.07. Tolerances 0.15 and 0.20 are about 3–5 sd.
        var chains = Draws.Ar1(4, 10_000, rho, seed: 22);
        double expected = (1 - rho) / (1 + rho);
        double plain = EffectiveSampleSize.Of(chains) / 40_000, bulk = EffectiveSampleSize.Bulk(chains) / 40_000;
        log.WriteLine($"AR(1) ρ = {rho}: ESS/N = {plain:F4}, bulk-ESS/N = {bulk:F4}, expected {expected:F4}");
        Assert.InRange(plain / expected, 1 - relativeTolerance, 1 + relativeTolerance);
        Assert.InRange(bulk / expected, 1 - relativeTolerance, 1 + relativeTolerance);
    }

    [Fact]
    public void Antithetic_draws_have_ess_above_the_number_of_draws()
    {
        // AR(1) with ρ = −0.5: τ = (1+ρ)/(1−ρ) = 1/3, so ESS/N → 3 (above the floor 1/log10(S) of τ̂). Pair sums
        // ρ̂_{2k} + ρ̂_{2k+1} are positive, so Geyer keeps the negative odd lags; same tolerance as ρ = 0.5 (±15%).
        var chains = Draws.Ar1(4, 10_000, -0.5, seed: 26);
        double plain = EffectiveSampleSize.Of(chains) / 40_000;
        log.WriteLine($"AR(1) ρ = −0.5: ESS/N = {plain:F4}, expected 3");
        Assert.InRange(plain / 3.0, 0.85, 1.15);
    }

    [Fact]
    public void Tail_ess_drops_for_a_chain_whose_heavy_tails_mix_slowly()
    {
        // x = exp(h)·ε with h an AR(1) of ρ = 0.99: signs are i.i.d. (bulk mixes), large |x| cluster (tails do not).
        var slow = Draws.SlowTails(4, 4000, seed: 23);
        var normal = Draws.Iid(4, 4000, seed: 24);
        double slowBulk = EffectiveSampleSize.Bulk(slow), slowTail = EffectiveSampleSize.Tail(slow);
        double normalTail = EffectiveSampleSize.Tail(normal);
        log.WriteLine($"slow tails: bulk-ESS = {slowBulk:F0}, tail-ESS = {slowTail:F0}; i.i.d. normal tail-ESS = {normalTail:F0} (S = 16000)");
        Assert.True(slowTail < 0.5 * slowBulk, $"tail {slowTail} vs bulk {slowBulk}");
        Assert.True(slowTail < 0.5 * normalTail, $"tail {slowTail} vs normal tail {normalTail}");
    }

    [Fact]
    public void Mcse_of_the_mean_is_sd_over_root_ess()
    {
        // i.i.d. N(0,1), S = 4000: MCSE ≈ 1/√4000 = 0.0158, within the ESS tolerance (±15%) → ±8% on MCSE.
        var chains = Draws.Iid(4, 1000, seed: 25);
        double mcse = Mcse.Mean(chains);
        log.WriteLine($"MCSE of the mean, i.i.d.: {mcse:F5} (1/√S = {1 / Math.Sqrt(4000):F5})");
        Assert.InRange(mcse * Math.Sqrt(4000), 0.92, 1.08);
    }
}
