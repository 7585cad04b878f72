using Workbench.Studies.ModeConnectivity;

namespace Workbench.Tests.Studies;

public sealed class MonotonicInterpolationTests
{
    private static MliStatistics Of(Func<double, double> loss, int points = 9)
    {
        var alphas = LossBarrier.Grid(points);
        return MonotonicInterpolation.Of(alphas, alphas.Select(loss).ToList());
    }

    [Fact]
    public void A_decreasing_curve_is_monotonic_with_delta_its_smallest_drop()
    {
        var s = MonotonicInterpolation.Of(LossBarrier.Grid(5), [3, 2, 1.5, 1.2, 1]);
        Assert.True(s.Monotonic);
        Assert.Equal(-0.2, s.Delta, 12);
    }

    [Fact]
    public void A_bump_makes_delta_positive_and_the_curve_not_monotonic()
    {
        var s = MonotonicInterpolation.Of(LossBarrier.Grid(5), [2, 2.5, 1.5, 1.2, 1]);
        Assert.False(s.Monotonic);
        Assert.Equal(0.5, s.Delta, 12);
    }

    [Fact]
    public void A_flat_curve_is_monotonic_with_delta_zero()
    {
        var s = MonotonicInterpolation.Of(LossBarrier.Grid(5), [1, 1, 1, 1, 1]);
        Assert.True(s.Monotonic);
        Assert.Equal(0.0, s.Delta);
        Assert.Equal(1.0, s.LocalConvexity);
        Assert.Equal(1.0, s.GlobalConvexity);
    }

    [Fact]
    public void A_convex_decreasing_curve_is_locally_and_globally_convex()
    {
        var s = Of(a => (1 - a) * (1 - a) + 0.5);
        Assert.True(s.Monotonic);
        Assert.Equal(1.0, s.LocalConvexity);
        Assert.Equal(1.0, s.GlobalConvexity);
    }

    [Fact]
    public void A_concave_decreasing_curve_is_monotonic_but_nowhere_convex_and_above_its_chord()
    {
        var s = Of(a => 2 - a * a);
        Assert.True(s.Monotonic);
        Assert.Equal(0.0, s.LocalConvexity);
        Assert.Equal(0.0, s.GlobalConvexity);
    }

    [Fact]
    public void A_straight_line_lies_on_its_chord_and_counts_as_convex()
    {
        var s = MonotonicInterpolation.Of(LossBarrier.Grid(5), [1, 0.75, 0.5, 0.25, 0]);
        Assert.Equal(1.0, s.LocalConvexity);
        Assert.Equal(1.0, s.GlobalConvexity);
    }

    [Fact]
    public void Global_convexity_uses_the_true_chord_from_L0_to_L1()
    {
        // A rising curve: the chord 1 + 2α lies above every interior point, although two of them lie above L(0) = 1
        // (a chord pinned to one endpoint would count 1/3). Second differences: −0.7, 2.1, −0.5.
        var s = MonotonicInterpolation.Of(LossBarrier.Grid(5), [1, 1.1, 0.5, 2.0, 3]);
        Assert.Equal(1.0, s.GlobalConvexity);
        Assert.Equal(1.0 / 3, s.LocalConvexity, 12);
        Assert.Equal(1.5, s.Delta, 12);
        Assert.False(s.Monotonic);
        // Chord 2 − α is 1.75, 1.5, 1.25 at the interior points: 1.8 and 1.3 lie above it, 1.4 under it.
        var third = MonotonicInterpolation.Of(LossBarrier.Grid(5), [2, 1.8, 1.4, 1.3, 1]);
        Assert.Equal(1.0 / 3, third.GlobalConvexity, 12);
    }

    [Fact]
    public void Bad_curves_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => MonotonicInterpolation.Of([0, 1], [1, 0]));
        Assert.Throws<ArgumentException>(() => MonotonicInterpolation.Of([0, 0.5, 1], [1, 0]));
        Assert.Throws<ArgumentException>(() => MonotonicInterpolation.Of([0, 0.5, 0.9], [1, 0.5, 0]));
        Assert.Throws<ArgumentException>(() => MonotonicInterpolation.Of([0, 0.5, 1], [1, double.NaN, 0]));
    }
}
