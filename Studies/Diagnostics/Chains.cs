namespace Workbench.Studies.Diagnostics;

/// <summary>
/// Operations on draws laid out as <c>double[chain][draw]</c> (equal lengths) that R̂ and ESS share:
/// splitting, rank normalisation, folding, quantiles. METHODS: Diagnostics.
/// </summary>
public static class Chains
{
    /// <summary>Each chain's first and last ⌊n/2⌋ draws as two chains; an odd length drops the middle draw (as ArviZ).</summary>
    public static double[][] Split(double[][] chains)
    {
        var result = new double[2 * chains.Length][];
        for (int c = 0; c < chains.Length; c++)
        {
            int n = chains[c].Length, half = n / 2;
            result[2 * c] = chains[c][..half];
            result[2 * c + 1] = chains[c][(n - half)..];
        }
        return result;
    }

    /// <summary>
    /// Each chain cut into <paramref name="pieces"/> consecutive pieces of ⌊n/pieces⌋ draws, each treated as a chain
    /// (the remainder, fewer than <paramref name="pieces"/> draws, is dropped from the start of the chain).
    /// </summary>
    public static double[][] Pieces(double[] chain, int pieces)
    {
        int length = chain.Length / pieces, skip = chain.Length - length * pieces;
        return Enumerable.Range(0, pieces).Select(p => chain.AsSpan(skip + p * length, length).ToArray()).ToArray();
    }

    /// <summary>
    /// Ranks of all draws pooled (1 … S, ties get the average of the ranks they span), mapped to normal scores
    /// z = Φ⁻¹((r − 3/8)/(S + 1/4)) (Blom), same layout as the input. METHODS: rank-normalise pooled draws.
    /// </summary>
    public static double[][] RankNormalise(double[][] chains)
    {
        var ranks = AverageRanks(chains.SelectMany(c => c).ToArray());
        double size = ranks.Length;
        var result = new double[chains.Length][];
        int k = 0;
        for (int c = 0; c < chains.Length; c++)
        {
            result[c] = new double[chains[c].Length];
            for (int i = 0; i < chains[c].Length; i++) result[c][i] = NormalQuantile.Of((ranks[k++] - 0.375) / (size + 0.25));
        }
        return result;
    }

    /// <summary>Ranks 1 … n of <paramref name="values"/>; tied values share the mean of their ranks.</summary>
    public static double[] AverageRanks(double[] values)
    {
        int n = values.Length;
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(values.ToArray(), order);
        var ranks = new double[n];
        for (int start = 0; start < n;)
        {
            int end = start;
            while (end + 1 < n && values[order[end + 1]] == values[order[start]]) end++;
            double rank = (start + end) / 2.0 + 1; // mean of ranks start+1 … end+1
            for (int i = start; i <= end; i++) ranks[order[i]] = rank;
            start = end + 1;
        }
        return ranks;
    }

    /// <summary>|θ − median(θ)| with the median of all draws pooled: the folded draws whose R̂ detects unequal spreads.</summary>
    public static double[][] Fold(double[][] chains)
    {
        double median = Quantile(chains, 0.5);
        return chains.Select(c => c.Select(v => Math.Abs(v - median)).ToArray()).ToArray();
    }

    /// <summary>Quantile of all draws pooled, linear interpolation between order statistics (NumPy's default).</summary>
    public static double Quantile(double[][] chains, double p)
    {
        var sorted = chains.SelectMany(c => c).ToArray();
        Array.Sort(sorted);
        double h = (sorted.Length - 1) * p;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    public static double Mean(double[] x)
    {
        double sum = 0;
        foreach (double v in x) sum += v;
        return sum / x.Length;
    }

    /// <summary>Sample variance with ddof 1.</summary>
    public static double Variance(double[] x)
    {
        double mean = Mean(x), sum = 0;
        foreach (double v in x) sum += (v - mean) * (v - mean);
        return sum / (x.Length - 1);
    }
}
