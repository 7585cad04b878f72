namespace Workbench.Studies.Metanetworks;

/// <summary>
/// Kendall's τ-b between two paired samples (METHODS: Metanetworks), with ties: τ_b = (C − D) / √((n₀ − n₁)(n₀ − n₂)),
/// n₀ = n(n − 1)/2 pairs, C and D the concordant and discordant pairs, n₁ and n₂ the pairs tied in x and in y. A pair tied
/// in x or y counts neither as concordant nor as discordant. O(n²): fine for the few hundred networks of a test split.
/// </summary>
public static class RankCorrelation
{
    /// <summary>τ-b of <paramref name="x"/> and <paramref name="y"/>; NaN when either is constant (the denominator is 0)
    /// or there are fewer than two pairs, so an undefined correlation never reads as a number.</summary>
    public static double KendallTauB(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count) throw new ArgumentException($"τ needs paired samples; got {x.Count} and {y.Count} values");
        int n = x.Count;
        long concordant = 0, discordant = 0, tiedX = 0, tiedY = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                int sx = Math.Sign(x[i] - x[j]), sy = Math.Sign(y[i] - y[j]);
                if (sx == 0) tiedX++;
                if (sy == 0) tiedY++;
                if (sx != 0 && sy != 0)
                {
                    if (sx == sy) concordant++;
                    else discordant++;
                }
            }
        long pairs = (long)n * (n - 1) / 2;
        double denominator = Math.Sqrt((double)(pairs - tiedX) * (pairs - tiedY));
        return denominator > 0 ? (concordant - discordant) / denominator : double.NaN;
    }
}

/// <summary>
/// The coefficient of determination of predictions ŷ of targets y: R² = 1 − SS_res/SS_tot, SS_res = Σ(y − ŷ)²,
/// SS_tot = Σ(y − ȳ)². 1 is perfect, 0 is as good as predicting the mean of the targets, below 0 worse than that.
/// </summary>
public static class Determination
{
    /// <summary>R² of <paramref name="predicted"/> against <paramref name="actual"/>. When SS_tot = 0 (all targets equal,
    /// or fewer than two) R² is undefined: NaN (see <see cref="IsDefined"/>), never a number that looks fine.</summary>
    public static double RSquared(IReadOnlyList<double> actual, IReadOnlyList<double> predicted)
    {
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(predicted);
        if (actual.Count != predicted.Count) throw new ArgumentException($"R² needs one prediction per target; got {actual.Count} targets and {predicted.Count} predictions");
        if (!IsDefined(actual)) return double.NaN;
        double mean = actual.Average();
        double residual = 0, total = 0;
        for (int i = 0; i < actual.Count; i++)
        {
            residual += (actual[i] - predicted[i]) * (actual[i] - predicted[i]);
            total += (actual[i] - mean) * (actual[i] - mean);
        }
        return 1 - residual / total;
    }

    /// <summary>Whether R² is defined for these targets: at least two, and not all equal (SS_tot &gt; 0).</summary>
    public static bool IsDefined(IReadOnlyList<double> actual) => actual.Count >= 2 && actual.Any(a => a != actual[0]);
}
