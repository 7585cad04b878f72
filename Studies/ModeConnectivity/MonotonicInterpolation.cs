namespace Workbench.Studies.ModeConnectivity;

/// <summary>Monotonic-linear-interpolation statistics of one loss curve L(α) on (1 − α)θ_0 + αθ_T (PAPER 2.4).</summary>
/// <param name="Delta">Δ = max_i (L(α_{i+1}) − L(α_i)): the largest rise between neighbouring grid points.</param>
/// <param name="Monotonic">Δ ≤ 0: the loss never rises from init to trained.</param>
/// <param name="LocalConvexity">share of interior points with a non-negative centred second difference L(α_{i−1}) − 2L(α_i) + L(α_{i+1}).</param>
/// <param name="GlobalConvexity">share of interior points on or under the chord (1 − α_i)L(0) + α_i L(1).</param>
public sealed record MliStatistics(double Delta, bool Monotonic, double LocalConvexity, double GlobalConvexity);

public static class MonotonicInterpolation
{
    /// <summary>The statistics of a curve on an evenly spaced grid from α = 0 to α = 1 (at least 3 points, e.g. <see cref="LossBarrier.Grid"/>).
    /// The chord is the true one from L(0) to L(1) (PAPER 2.4: the reference code's chord used the wrong endpoint).</summary>
    public static MliStatistics Of(IReadOnlyList<double> alphas, IReadOnlyList<double> losses)
    {
        LossBarrier.Check(alphas, losses);
        if (alphas.Count < 3) throw new ArgumentException("an MLI curve needs at least 3 points (the statistics need interior points)");
        if (losses.Any(l => !double.IsFinite(l))) throw new ArgumentException("an MLI curve's losses must be finite");

        int n = losses.Count;
        double delta = Enumerable.Range(0, n - 1).Max(i => losses[i + 1] - losses[i]);
        var interior = Enumerable.Range(1, n - 2).ToList();
        double local = interior.Count(i => losses[i - 1] - 2 * losses[i] + losses[i + 1] >= 0) / (double)interior.Count;
        double global = interior.Count(i => losses[i] <= (1 - alphas[i]) * losses[0] + alphas[i] * losses[^1]) / (double)interior.Count;
        return new MliStatistics(delta, delta <= 0, local, global);
    }
}
