using Workbench.Studies.Metrics;

namespace Workbench.Studies.Comparisons;

/// <summary>Mean and sample sd (n − 1) of the finite values among some seeds; NaN mean for none, NaN sd for one.</summary>
public sealed record Spread(double Mean, double Sd, int N)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        if (v.Length == 0) return new Spread(double.NaN, double.NaN, 0);
        double mean = v.Average();
        double sd = v.Length < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
        return new Spread(mean, sd, v.Length);
    }
}

/// <summary>A curve averaged over seeds: per point the mean x, and the mean and sd over seeds of y.</summary>
public sealed record SeedCurve(double[] X, double[] Mean, double[] Sd);

/// <summary>
/// One arm of a study — the finished cells that share (Model, Variant, Sampler) — and its numbers over seeds. Every
/// per-seed number comes from <see cref="RunOutcome"/>; here they are only combined, mean ± sd over seeds.
/// </summary>
public sealed record ArmSummary(string Model, string Variant, string Sampler, int Planned, IReadOnlyList<RunOutcome> Runs)
{
    public string Name => $"{Model} · {Variant} · {Sampler}";
    public int Seeds => Runs.Count;

    public Spread Accuracy => Spread.Of(Runs.Select(r => r.Final.Accuracy));
    public Spread Nll => Spread.Of(Runs.Select(r => r.Final.Nll));
    public Spread Ece => Spread.Of(Runs.Select(r => r.Final.Ece));
    public Spread Brier => Spread.Of(Runs.Select(r => r.Final.Brier));

    /// <summary>Seeds whose chain-averaged BMA test accuracy reached the target.</summary>
    public int Reached => Runs.Count(r => r.TargetReached is not null);
    /// <summary>Time to the target over the seeds that reached it (NaN mean when none did).</summary>
    public Spread EpochsToTarget => Spread.Of(Runs.Where(r => r.TargetReached is not null).Select(r => r.TargetReached!.Epoch));
    public Spread GradEvalsToTarget => Spread.Of(Runs.Where(r => r.TargetReached is not null).Select(r => r.TargetReached!.GradEvals));
    public Spread SecondsToTarget => Spread.Of(Runs.Where(r => r.TargetReached is not null).Select(r => r.TargetReached!.WallSeconds));

    /// <summary>Median R̂ of a view over seeds; N = 0 when no seed has the view (e.g. canonical of a W-Asym network).</summary>
    public Spread MedianRhat(string view) => Spread.Of(Runs.Where(r => r.MedianRhat.ContainsKey(view)).Select(r => r.MedianRhat[view]));
    public Spread EssPer1kGradEvals => Spread.Of(Runs.Select(r => r.EssPer1kGradEvals));

    public int DivergedChains => Runs.Sum(r => r.Divergences.Count);
    public Spread WallSeconds => Spread.Of(Runs.Select(r => r.WallSeconds));

    /// <summary>
    /// A metric against an x axis, mean ± sd over seeds. Seeds are aligned by evaluation index: the k-th point of every
    /// seed's chain-averaged curve is one point, cut to the seed with the fewest points. Cells of one arm share their
    /// configuration, so their k-th evaluations sit at the same epoch and gradient count; only wall time differs, and x
    /// is its mean over seeds.
    /// </summary>
    public SeedCurve Convergence(Func<ConvergencePoint, double> x, Func<ConvergencePoint, double> y)
    {
        int length = Runs.Min(r => r.Curve.Count);
        var points = Enumerable.Range(0, length)
            .Select(i => (X: Runs.Average(r => x(r.Curve[i])), Y: Spread.Of(Runs.Select(r => y(r.Curve[i])))))
            .Where(p => double.IsFinite(p.X) && p.Y.N > 0).ToList();
        return new SeedCurve(points.Select(p => p.X).ToArray(), points.Select(p => p.Y.Mean).ToArray(), points.Select(p => p.Y.Sd).ToArray());
    }

    /// <summary>Training loss per epoch, mean ± sd over seeds, on the epochs every seed has.</summary>
    public SeedCurve LossPerEpoch()
    {
        var epochs = Runs.Select(r => r.LossPerEpoch.Select(e => e.Epoch).ToHashSet()).Aggregate((a, b) => { a.IntersectWith(b); return a; }).Order().ToList();
        var spreads = epochs.Select(e => Spread.Of(Runs.Select(r => r.LossPerEpoch.First(p => p.Epoch == e).Loss))).ToList();
        return new SeedCurve(epochs.Select(e => (double)e).ToArray(), spreads.Select(s => s.Mean).ToArray(), spreads.Select(s => s.Sd).ToArray());
    }

    /// <summary>The final BMA's reliability bins pooled over seeds (each seed's bins already pooled over its chains); null if no seed has them.</summary>
    public CalibrationResult? PooledCalibration()
    {
        var tables = Runs.Select(r => r.Calibration).OfType<CalibrationResult>().ToList();
        return tables.Count == 0 ? null : Calibration.Pool(tables);
    }
}
