namespace Workbench.Studies.Metanetworks;

/// <summary>
/// StatNN's input (METHODS: Metanetworks; Unterthiner et al. 2020): for each tensor of θ, seven statistics of its
/// trainable entries, in this order: mean, variance, min, 25 % quantile, median, 75 % quantile, max. The variance is the
/// population variance (divide by the count, numpy's default); quantiles interpolate linearly between order statistics
/// (numpy's default rule): q-quantile of sorted x₀ ≤ … ≤ x_{n−1} at h = (n − 1)q is x_⌊h⌋ + (h − ⌊h⌋)(x_⌊h⌋₊₁ − x_⌊h⌋).
/// </summary>
public static class StatNNFeatures
{
    public const int PerTensor = 7;
    public static readonly IReadOnlyList<string> Names = ["mean", "var", "min", "q25", "median", "q75", "max"];

    /// <summary>The 7 statistics of every segment of <paramref name="layout"/>, concatenated in layout order.</summary>
    public static double[] Of(float[] theta, IReadOnlyList<ZooSegment> layout)
    {
        var features = new double[PerTensor * layout.Count];
        for (int s = 0; s < layout.Count; s++)
        {
            var segment = layout[s];
            if (segment.Count < 1 || segment.Offset < 0 || segment.Offset + segment.Count > theta.Length)
                throw new ArgumentException($"segment {segment.Name} (offset {segment.Offset}, count {segment.Count}) does not fit in θ of {theta.Length} entries");
            Of(theta.AsSpan((int)segment.Offset, (int)segment.Count)).CopyTo(features, PerTensor * s);
        }
        return features;
    }

    /// <summary>The 7 statistics of one tensor's entries.</summary>
    public static double[] Of(ReadOnlySpan<float> values)
    {
        if (values.Length == 0) throw new ArgumentException("statistics of an empty tensor are undefined");
        var sorted = new double[values.Length];
        for (int i = 0; i < values.Length; i++) sorted[i] = values[i];
        Array.Sort(sorted);
        double mean = sorted.Average();
        double variance = sorted.Sum(v => (v - mean) * (v - mean)) / sorted.Length;
        return [mean, variance, sorted[0], Quantile(sorted, 0.25), Quantile(sorted, 0.5), Quantile(sorted, 0.75), sorted[^1]];
    }

    /// <summary>The <paramref name="q"/>-quantile of ascending <paramref name="sorted"/> by linear interpolation.</summary>
    public static double Quantile(IReadOnlyList<double> sorted, double q)
    {
        if (sorted.Count == 0) throw new ArgumentException("the quantile of no values is undefined");
        if (q is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(q), q, "a quantile level is in [0, 1]");
        double h = (sorted.Count - 1) * q;
        int low = (int)Math.Floor(h);
        if (low >= sorted.Count - 1) return sorted[^1];
        return sorted[low] + (h - low) * (sorted[low + 1] - sorted[low]);
    }
}
