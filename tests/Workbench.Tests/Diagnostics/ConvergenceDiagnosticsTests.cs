using Workbench.Studies.Diagnostics;

namespace Workbench.Tests.Diagnostics;

public sealed class ConvergenceDiagnosticsTests
{
    private static void AssertAllNaN(DiagnosticsResult r)
    {
        foreach (double v in new[] { r.Rhat, r.RhatClassic, r.RhatWithin, r.EssBulk, r.EssTail, r.McseMean })
            Assert.True(double.IsNaN(v), $"{r} should be NaN throughout");
    }

    [Fact]
    public void Constant_draws_give_NaN_and_a_flag()
    {
        var r = ConvergenceDiagnostics.Of("w", [[2, 2, 2, 2, 2], [2, 2, 2, 2, 2]]);
        AssertAllNaN(r);
        Assert.Equal("constant", r.Flag);
    }

    [Fact]
    public void A_stuck_chain_gives_NaN_and_names_it()
    {
        var chains = Draws.Iid(3, 100, seed: 31);
        chains[1] = Enumerable.Repeat(0.5, 100).ToArray();
        var r = ConvergenceDiagnostics.Of("w", chains);
        AssertAllNaN(r);
        Assert.Equal("constant chain 1", r.Flag);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_non_finite_draw_gives_NaN_and_a_flag(double bad)
    {
        var chains = Draws.Iid(2, 100, seed: 32);
        chains[0][17] = bad;
        var r = ConvergenceDiagnostics.Of("w", chains);
        AssertAllNaN(r);
        Assert.Equal("non-finite", r.Flag);
    }

    [Fact]
    public void Too_few_draws_give_NaN_and_a_flag()
    {
        var r = ConvergenceDiagnostics.Of("w", [[1, 2, 3], [4, 5, 6]]);
        AssertAllNaN(r);
        Assert.StartsWith("too few draws", r.Flag);
    }

    [Fact]
    public void One_chain_gives_NaN_rhat_with_a_flag_but_ess_and_mcse()
    {
        var r = ConvergenceDiagnostics.Of("w", Draws.Iid(1, 1000, seed: 33));
        Assert.True(double.IsNaN(r.Rhat) && double.IsNaN(r.RhatClassic));
        Assert.StartsWith("one chain", r.Flag);
        Assert.InRange(r.EssBulk, 850, 1150);
        Assert.True(double.IsFinite(r.McseMean) && double.IsFinite(r.RhatWithin));
    }

    [Fact]
    public void Unequal_chain_lengths_are_truncated_to_the_shortest_and_flagged()
    {
        var chains = Draws.Iid(3, 500, seed: 34);
        chains[2] = chains[2][..400];
        var r = ConvergenceDiagnostics.Of("w", chains);
        var truncated = ConvergenceDiagnostics.Of("w", chains.Select(c => c[..400]).ToArray());
        Assert.Contains("truncated to 400", r.Flag);
        Assert.Equal(truncated with { Flag = r.Flag }, r);
    }

    [Fact]
    public void Well_mixed_chains_pass_without_a_flag()
    {
        var r = ConvergenceDiagnostics.Of("w", Draws.Iid(4, 1000, seed: 35));
        Assert.Equal("", r.Flag);
        Assert.True(r.Rhat < DiagnosticsResult.RhatThreshold, r.ToString());
        Assert.True(r.RhatClassic < DiagnosticsResult.RhatThreshold && r.RhatWithin < 1.02, r.ToString());
        Assert.True(r.EssBulk > 3000 && r.EssTail > 2500, r.ToString());
    }
}
