using static TorchSharp.torch;

namespace Workbench.Studies.Metrics;

/// <summary>
/// One confidence bin [<paramref name="Lower"/>, <paramref name="Upper"/>) of a reliability diagram (the last bin also
/// holds confidence 1). <paramref name="Accuracy"/> and <paramref name="Confidence"/> are the bin's means; NaN when
/// the bin is empty.
/// </summary>
public sealed record CalibrationBin(double Lower, double Upper, long Count, double Accuracy, double Confidence)
{
    public bool IsEmpty => Count == 0;

    /// <summary>|accuracy − confidence|; NaN for an empty bin.</summary>
    public double Gap => Math.Abs(Accuracy - Confidence);
}

/// <summary>Expected and maximum calibration error with the bin table they came from (METHODS: Predictive metrics).</summary>
public sealed record CalibrationResult(double Ece, double Mce, IReadOnlyList<CalibrationBin> Bins)
{
    public long Examples => Bins.Sum(b => b.Count);
}

/// <summary>
/// ECE and MCE over equal-width confidence bins (METHODS: Predictive metrics): confidence c = max_k p̄_k, bins
/// left-closed [b_m, b_{m+1}) with c = 1 in the last bin, ECE = Σ_m (|B_m|/n)·|acc(B_m) − conf(B_m)|,
/// MCE = max over non-empty bins of |acc(B_m) − conf(B_m)|. All arithmetic in float64.
/// </summary>
public static class Calibration
{
    public const int DefaultBins = 15;

    /// <summary>Calibration of predictions with the given confidences and correctness.</summary>
    public static CalibrationResult Compute(double[] confidence, bool[] correct, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(confidence);
        ArgumentNullException.ThrowIfNull(correct);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), bins, "Calibration needs at least one bin.");
        if (confidence.Length != correct.Length)
            throw new ArgumentException($"Calibration got {confidence.Length} confidences but {correct.Length} correctness flags.", nameof(correct));
        if (confidence.Length == 0) throw new ArgumentException("Calibration needs at least one prediction.", nameof(confidence));

        var counts = new long[bins];
        var hits = new long[bins];
        var confidenceSums = new double[bins];
        for (var i = 0; i < confidence.Length; i++)
        {
            var c = confidence[i];
            if (!(c >= 0.0 && c <= 1.0))
                throw new ArgumentOutOfRangeException(nameof(confidence), c,
                    $"Confidence of prediction {i} is {c}; a confidence is a probability in [0, 1] (pass log p̄ = log Σ_s p_s − log S, not the log-sum).");
            var m = BinOf(c, bins);
            counts[m]++;
            if (correct[i]) hits[m]++;
            confidenceSums[m] += c;
        }

        double n = confidence.Length, ece = 0.0, mce = 0.0;
        var table = new CalibrationBin[bins];
        for (var m = 0; m < bins; m++)
        {
            var bin = counts[m] == 0
                ? new CalibrationBin(Edge(m, bins), Edge(m + 1, bins), 0, double.NaN, double.NaN)
                : new CalibrationBin(Edge(m, bins), Edge(m + 1, bins), counts[m], (double)hits[m] / counts[m], confidenceSums[m] / counts[m]);
            if (!bin.IsEmpty)
            {
                ece += bin.Count / n * bin.Gap;
                mce = Math.Max(mce, bin.Gap);
            }
            table[m] = bin;
        }
        return new CalibrationResult(ece, mce, table);
    }

    /// <summary>
    /// Calibration of the Bayesian model average from log p̄ [N, C] (log-probabilities, rows summing to 1 in
    /// probability) and labels [N]: confidence = max_k p̄_k, correct = (argmax_k p̄_k == label).
    /// </summary>
    public static CalibrationResult Compute(Tensor logMeanProbabilities, Tensor labels, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(logMeanProbabilities);
        if (logMeanProbabilities.dim() != 2)
            throw new ArgumentException($"Calibration expects log p̄ of shape [N, C]; got [{string.Join(", ", logMeanProbabilities.shape)}] (use ComputePerChain for [K, N, C]).", nameof(logMeanProbabilities));
        using var scope = NewDisposeScope();
        return ComputePerChain(logMeanProbabilities.unsqueeze(0), labels, bins)[0];
    }

    /// <summary>One calibration per chain from log p̄ [K, N, C] (e.g. <c>PredictiveEvaluator</c>'s log Σ_s p_s − log S) and labels [N].</summary>
    public static CalibrationResult[] ComputePerChain(Tensor logMeanProbabilities, Tensor labels, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(logMeanProbabilities);
        ArgumentNullException.ThrowIfNull(labels);
        if (logMeanProbabilities.dim() != 3)
            throw new ArgumentException($"Per-chain calibration expects log p̄ of shape [K, N, C]; got [{string.Join(", ", logMeanProbabilities.shape)}].", nameof(logMeanProbabilities));
        long chains = logMeanProbabilities.shape[0], n = logMeanProbabilities.shape[1];
        CheckLabels(labels, n, logMeanProbabilities.shape[2]);

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logp = logMeanProbabilities.detach().to(ScalarType.Float64).cpu();
        var (maxLog, argmax) = logp.max(2);
        // A running float32 log-sum-exp minus log S can end a hair above 0 for a certain prediction (rounding grows
        // with S): treat log p̄ ≤ tolerance as confidence 1. Anything larger (e.g. log 2 from a forgotten − log S)
        // stays above 1 and is rejected below.
        var tolerance = logMeanProbabilities.dtype == ScalarType.Float64 ? 1e-9 : 1e-3;
        maxLog = where(maxLog.le(HeldScalars.Of(tolerance)), maxLog.clamp_max(HeldScalars.Of(0.0)), maxLog);
        var confidence = maxLog.exp().contiguous().data<double>().ToArray();
        var correct = argmax.eq(labels.to(ScalarType.Int64).cpu().unsqueeze(0)).contiguous().data<bool>().ToArray();

        var results = new CalibrationResult[chains];
        for (var k = 0; k < chains; k++)
        {
            var start = (int)(k * n);
            results[k] = Compute(confidence[start..(start + (int)n)], correct[start..(start + (int)n)], bins);
        }
        return results;
    }

    /// <summary>
    /// Several bin tables of the same bins as one (e.g. the final BMA of each seed of a study arm): per bin the counts
    /// add, and accuracy and confidence are count-weighted means — exactly the table of all predictions together.
    /// ECE and MCE are recomputed from the pooled bins.
    /// </summary>
    public static CalibrationResult Pool(IReadOnlyList<CalibrationResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Count == 0) throw new ArgumentException("Pooling needs at least one calibration.", nameof(results));
        var edges = results[0].Bins.Select(b => (b.Lower, b.Upper)).ToArray();
        if (results.Any(r => !r.Bins.Select(b => (b.Lower, b.Upper)).SequenceEqual(edges)))
            throw new ArgumentException("Calibrations with different bins cannot be pooled.", nameof(results));
        var bins = new CalibrationBin[edges.Length];
        long n = results.Sum(r => r.Examples);
        double ece = 0.0, mce = 0.0;
        for (var m = 0; m < edges.Length; m++)
        {
            var parts = results.Select(r => r.Bins[m]).Where(b => !b.IsEmpty).ToArray();
            long count = parts.Sum(b => b.Count);
            bins[m] = count == 0
                ? new CalibrationBin(edges[m].Lower, edges[m].Upper, 0, double.NaN, double.NaN)
                : new CalibrationBin(edges[m].Lower, edges[m].Upper, count,
                    parts.Sum(b => b.Count * b.Accuracy) / count, parts.Sum(b => b.Count * b.Confidence) / count);
            if (bins[m].IsEmpty) continue;
            ece += (double)count / n * bins[m].Gap;
            mce = Math.Max(mce, bins[m].Gap);
        }
        return new CalibrationResult(ece, mce, bins);
    }

    /// <summary>The lower edge b_m = m / bins (b_bins = 1).</summary>
    public static double Edge(int m, int bins) => (double)m / bins;

    /// <summary>
    /// The bin of confidence c: the m with b_m ≤ c &lt; b_{m+1}, and the last bin for c = 1. Compared against the
    /// stored edges so that a confidence equal to an edge (as a double) lands in the bin that starts there, whatever
    /// the rounding of c·bins.
    /// </summary>
    public static int BinOf(double c, int bins)
    {
        var m = Math.Clamp((int)Math.Floor(c * bins), 0, bins - 1);
        while (m > 0 && c < Edge(m, bins)) m--;
        while (m < bins - 1 && c >= Edge(m + 1, bins)) m++;
        return m;
    }

    internal static void CheckLabels(Tensor labels, long examples, long classes)
    {
        if (labels.dim() != 1 || labels.shape[0] != examples)
            throw new ArgumentException($"Labels must have shape [{examples}]; got [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (labels.is_floating_point() || labels.is_complex())
            throw new ArgumentException($"Labels must be class indices (an integer tensor); got {labels.dtype}.", nameof(labels));
        if (examples == 0) return;
        using var scope = NewDisposeScope();
        long lo = labels.min().to(ScalarType.Int64).item<long>(), hi = labels.max().to(ScalarType.Int64).item<long>();
        if (lo < 0 || hi >= classes)
            throw new ArgumentOutOfRangeException(nameof(labels), $"Labels must lie in [0, {classes - 1}] for {classes} classes; found {lo}..{hi}.");
    }
}
