namespace Workbench.Studies.Diagnostics;

/// <summary>
/// Convergence diagnostics of one variable (one row of <c>diagnostics.parquet</c>). <see cref="Flag"/> is "" when the
/// numbers can be read as they are; otherwise it says why some are NaN or what to keep in mind ("constant",
/// "non-finite", "too few draws", "one chain", "unequal chain lengths …").
/// </summary>
public sealed record DiagnosticsResult(
    string Variable,
    double Rhat,
    double RhatClassic,
    double RhatWithin,
    double EssBulk,
    double EssTail,
    double McseMean,
    string Flag)
{
    /// <summary>R̂ threshold of Vehtari et al. (2021).</summary>
    public const double RhatThreshold = 1.01;
}

/// <summary>All diagnostics of one variable from its draws. METHODS: Diagnostics (Vehtari et al. 2021; match ArviZ).</summary>
public static class ConvergenceDiagnostics
{
    /// <summary>Fewest draws per chain for any diagnostic (ArviZ's minimum; each split half then has 2).</summary>
    public const int MinDraws = 4;

    /// <summary>
    /// Diagnostics of <paramref name="draws"/> laid out as <c>double[chain][draw]</c>. Chains of unequal length are
    /// truncated to the shortest (the flag says so). Constant or non-finite draws give NaN and a flag, never a number
    /// that looks fine; one chain gives NaN R̂ (R̂ compares chains) but ESS and MCSE.
    /// </summary>
    public static DiagnosticsResult Of(string variable, double[][] draws)
    {
        ArgumentNullException.ThrowIfNull(draws);
        var flags = new List<string>();
        DiagnosticsResult AllNaN() => new(variable, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, string.Join("; ", flags));

        if (draws.Length == 0 || draws.All(c => c.Length == 0))
        {
            flags.Add("no draws");
            return AllNaN();
        }
        int n = draws.Min(c => c.Length);
        if (draws.Any(c => c.Length != n))
        {
            flags.Add($"unequal chain lengths ({draws.Min(c => c.Length)}–{draws.Max(c => c.Length)}), truncated to {n}");
            draws = draws.Select(c => c[..n]).ToArray();
        }
        if (n < MinDraws)
        {
            flags.Add($"too few draws ({n} per chain; need {MinDraws})");
            return AllNaN();
        }
        if (draws.Any(c => c.Any(v => !double.IsFinite(v))))
        {
            flags.Add("non-finite");
            return AllNaN();
        }
        // A chain stuck at one value makes W = 0 or ESS meaningless: report it, not a number.
        var constantChains = Enumerable.Range(0, draws.Length).Where(c => draws[c].All(v => v == draws[c][0])).ToArray();
        if (constantChains.Length == draws.Length && draws.All(c => c[0] == draws[0][0]))
        {
            flags.Add("constant");
            return AllNaN();
        }
        if (constantChains.Length > 0)
        {
            flags.Add($"constant chain{(constantChains.Length > 1 ? "s" : "")} {string.Join(", ", constantChains)}");
            return AllNaN();
        }

        double rhat = double.NaN, rhatClassic = double.NaN;
        if (draws.Length < 2) flags.Add("one chain: R̂ needs 2 or more");
        else
        {
            rhat = Rhat.RankNormalised(draws);
            rhatClassic = Rhat.Split(draws);
        }
        double rhatWithin = Rhat.Within(draws);
        return new DiagnosticsResult(variable, rhat, rhatClassic, rhatWithin,
            EffectiveSampleSize.Bulk(draws), EffectiveSampleSize.Tail(draws), Mcse.Mean(draws), string.Join("; ", flags));
    }
}
