namespace Workbench.Studies.Diagnostics;

/// <summary>
/// Effective sample size (Vehtari et al. 2021; same steps as ArviZ's <c>_ess</c>). Inputs are <c>double[chain][draw]</c>
/// with equal lengths and finite values.
/// </summary>
public static class EffectiveSampleSize
{
    /// <summary>
    /// ESS of the chains as given (no splitting): per-chain FFT autocovariance γ̂_{m,t},
    /// ρ̂_t = 1 − (W − mean_m γ̂_{m,t})/var⁺, Geyer's initial positive then initial monotone sequence,
    /// τ̂ = −1 + 2Σρ̂ (at least 1/log10(MN)), ESS = MN/τ̂. NaN when the pooled draws are constant (var⁺ = 0) or
    /// a chain has fewer than 4 draws.
    /// </summary>
    public static double Of(double[][] chains)
    {
        int m = chains.Length;
        if (m == 0) return double.NaN;
        int n = chains[0].Length;
        if (n < 4) return double.NaN;

        var acov = chains.Select(c => Autocovariance.Of(c)).ToArray();
        double MeanAcov(int t) => acov.Average(a => a[t]);
        double meanVar = MeanAcov(0) * n / (n - 1.0); // W, within-chain variance with ddof 1
        double varPlus = meanVar * (n - 1.0) / n;
        if (m > 1) varPlus += Chains.Variance(chains.Select(Chains.Mean).ToArray()); // B/n
        if (!(varPlus > 0) || !double.IsFinite(varPlus)) return double.NaN;
        double Rho(int t) => 1.0 - (meanVar - MeanAcov(t)) / varPlus;

        var rho = new double[n];
        double rhoEven = 1.0, rhoOdd = Rho(1);
        rho[0] = rhoEven;
        rho[1] = rhoOdd;
        // Geyer's initial positive sequence: sum pairs ρ̂_{2k} + ρ̂_{2k+1} while the pair sum stays positive.
        int t = 1;
        while (t < n - 3 && rhoEven + rhoOdd > 0.0)
        {
            rhoEven = Rho(t + 1);
            rhoOdd = Rho(t + 2);
            if (rhoEven + rhoOdd >= 0)
            {
                rho[t + 1] = rhoEven;
                rho[t + 2] = rhoOdd;
            }
            t += 2;
        }
        int maxT = t - 2;
        // ArviZ's improvement: keep a last positive even lag.
        if (rhoEven > 0) rho[maxT + 1] = rhoEven;
        // Geyer's initial monotone sequence: pair sums may not increase.
        t = 1;
        while (t <= maxT - 2)
        {
            if (rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t])
            {
                rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0;
                rho[t + 2] = rho[t + 1];
            }
            t += 2;
        }
        double draws = (double)m * n;
        double sum = 0;
        for (int i = 0; i <= maxT; i++) sum += rho[i];
        double tau = -1.0 + 2.0 * sum + rho[maxT + 1];
        tau = Math.Max(tau, 1.0 / Math.Log10(draws));
        return rho.Any(double.IsNaN) ? double.NaN : draws / tau;
    }

    /// <summary>Bulk-ESS: ESS of the rank-normalised split chains.</summary>
    public static double Bulk(double[][] chains) => Of(Chains.RankNormalise(Chains.Split(chains)));

    /// <summary>ESS of the split chains on the raw scale (what MCSE of the mean uses).</summary>
    public static double Mean(double[][] chains) => Of(Chains.Split(chains));

    /// <summary>Tail-ESS: min of the split-chain ESS of the indicators I(θ ≤ q₀.₀₅) and I(θ ≤ q₀.₉₅), pooled quantiles.</summary>
    public static double Tail(double[][] chains)
    {
        double q05 = Chains.Quantile(chains, 0.05), q95 = Chains.Quantile(chains, 0.95);
        double Indicator(double q) => Of(Chains.Split(chains.Select(c => c.Select(v => v <= q ? 1.0 : 0.0).ToArray()).ToArray()));
        return Math.Min(Indicator(q05), Indicator(q95));
    }
}

/// <summary>Monte Carlo standard error.</summary>
public static class Mcse
{
    /// <summary>MCSE of the mean: sd (ddof 1, draws pooled) / √ESS, ESS of the split chains (as ArviZ's mcse "mean").</summary>
    public static double Mean(double[][] chains)
    {
        double sd = Math.Sqrt(Chains.Variance(chains.SelectMany(c => c).ToArray()));
        return sd / Math.Sqrt(EffectiveSampleSize.Mean(chains));
    }
}
