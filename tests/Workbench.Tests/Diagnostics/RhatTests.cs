using Workbench.Studies.Diagnostics;
using Xunit.Abstractions;

namespace Workbench.Tests.Diagnostics;

public sealed class RhatTests(ITestOutputHelper log)
{
    // ArviZ is not installed on the build machine (python3 -c "import arviz" fails) and was not installed, so the
    // small cases below are computed by hand from METHODS' formulas.

    [Fact]
    public void Split_rhat_of_a_small_case_matches_the_hand_computation()
    {
        // Chains 1,2,3,4 and 5,6,7,8 split into [1,2] [3,4] [5,6] [7,8]: means 1.5, 3.5, 5.5, 7.5, variances 0.5.
        // W = 0.5; var of means (ddof 1) = 20/3, B = n·20/3 with n = 2; var⁺ = ½·0.5 + 20/3; R̂ = √(var⁺/W) = √(83/6).
        double[][] chains = [[1, 2, 3, 4], [5, 6, 7, 8]];
        Assert.Equal(Math.Sqrt(83.0 / 6.0), Rhat.Split(chains), 12);
        Assert.Equal(3.719318934070233, Rhat.Split(chains), 12);
    }

    [Fact]
    public void Bulk_and_folded_rhat_of_a_small_case_match_the_hand_computation()
    {
        // Bulk: all 8 draws distinct, ranks 1…8, z_r = Φ⁻¹((r − 3/8)/8.25), then the split R̂ of z.
        // Folded: |θ − 4.5| = 3.5 2.5 1.5 .5 | .5 1.5 2.5 3.5, tied pairs get ranks 1.5, 3.5, 5.5, 7.5.
        // Expected values: the same arithmetic in Python 3 with statistics.NormalDist().inv_cdf.
        double[][] chains = [[1, 2, 3, 4], [5, 6, 7, 8]];
        Assert.Equal(2.9994207791566865, Rhat.Bulk(chains), 12);
        Assert.Equal(1.6186585696952713, Rhat.Folded(chains), 12);
        Assert.Equal(2.9994207791566865, Rhat.RankNormalised(chains), 12);
    }

    [Fact]
    public void Identical_iid_chains_give_rhat_near_1()
    {
        // 4 copies of one i.i.d. N(0,1) chain of 1000: only the halves differ. With n = 500 per split chain,
        // R̂ − 1 ≈ (var of half means)/2 ≈ 1/(2n) = 0.001 with sd of the same order: 0.005 is about 4 sd.
        var one = Draws.Iid(1, 1000, seed: 11)[0];
        double[][] chains = [one, one, one, one];
        double rhat = Rhat.RankNormalised(chains), classic = Rhat.Split(chains);
        log.WriteLine($"identical chains: R̂ = {rhat:F5}, classic split R̂ = {classic:F5}");
        Assert.InRange(rhat, 0.995, 1.005);
        Assert.InRange(classic, 0.995, 1.005);
    }

    [Fact]
    public void Chains_with_means_shifted_by_one_sd_give_rhat_well_above_1_01()
    {
        // 4 i.i.d. N(0,1) chains of 1000, one shifted by +1: var of the 8 split means ≈ (8/7)·(2/8)(6/8) = 0.214,
        // so R̂ ≈ √1.214 ≈ 1.10; sampling noise is ~0.002 so > 1.05 is certain.
        var chains = Draws.Iid(4, 1000, seed: 12);
        chains[3] = chains[3].Select(v => v + 1.0).ToArray();
        double rhat = Rhat.RankNormalised(chains), classic = Rhat.Split(chains);
        log.WriteLine($"shifted chain: R̂ = {rhat:F4}, classic split R̂ = {classic:F4}");
        Assert.True(rhat > 1.05, $"R̂ = {rhat}");
        Assert.True(classic > 1.05, $"classic R̂ = {classic}");
    }

    [Fact]
    public void Folded_rhat_detects_chains_with_equal_means_but_unequal_spreads()
    {
        // Same mean, one chain with sd 3: the bulk R̂ barely moves, the folded R̂ (|θ − median|) does.
        var chains = Draws.Iid(4, 1000, seed: 13);
        chains[0] = chains[0].Select(v => 3 * v).ToArray();
        double bulk = Rhat.Bulk(chains), folded = Rhat.Folded(chains);
        log.WriteLine($"unequal spreads: bulk R̂ = {bulk:F4}, folded R̂ = {folded:F4}");
        Assert.True(bulk < 1.01, $"bulk R̂ = {bulk}");
        Assert.True(folded > 1.05, $"folded R̂ = {folded}");
        Assert.Equal(folded, Rhat.RankNormalised(chains));
    }

    [Fact]
    public void Odd_chain_length_drops_the_middle_draw()
    {
        Assert.Equal([[1.0, 2.0], [4.0, 5.0]], Chains.Split([[1, 2, 3, 4, 5]]));
        var odd = Draws.Iid(3, 101, seed: 14);
        var withoutMiddle = odd.Select(c => c.Where((_, i) => i != 50).ToArray()).ToArray();
        Assert.Equal(Rhat.Split(withoutMiddle), Rhat.Split(odd));
        Assert.Equal(Rhat.RankNormalised(withoutMiddle), Rhat.RankNormalised(odd));
        Assert.Equal(EffectiveSampleSize.Bulk(withoutMiddle), EffectiveSampleSize.Bulk(odd));
    }

    [Fact]
    public void Ties_get_average_ranks()
    {
        Assert.Equal([3.5, 1, 3.5, 2, 5.5, 5.5], Chains.AverageRanks([3, 1, 3, 2, 7, 7]));
        // Pooled over chains, and the normal scores of tied draws are equal.
        var z = Chains.RankNormalise([[2, 1], [2, 2]]);
        Assert.Equal(z[0][0], z[1][0]);
        Assert.Equal(z[0][0], z[1][1]);
        Assert.Equal(NormalQuantile.Of((3 - 0.375) / 4.25), z[0][0], 15); // ranks 2,3,4 → 3
        Assert.Equal(NormalQuantile.Of((1 - 0.375) / 4.25), z[0][1], 15);
    }

    [Fact]
    public void Within_chain_rhat_flags_a_drifting_chain_even_alone()
    {
        var iid = Draws.Iid(1, 1000, seed: 15);
        var drifting = new[] { iid[0].Select((v, i) => v + 2.0 * i / 1000).ToArray() };
        double still = Rhat.Within(iid), drift = Rhat.Within(drifting);
        log.WriteLine($"within-chain R̂: i.i.d. {still:F4}, drifting {drift:F4}");
        // 4 pieces of 250 i.i.d. draws: R̂ − 1 ≈ 1/(2·250) ± same order, so < 1.01 holds with room.
        Assert.True(still < 1.01, $"i.i.d. within R̂ = {still}");
        Assert.True(drift > 1.1, $"drifting within R̂ = {drift}");
    }
}
