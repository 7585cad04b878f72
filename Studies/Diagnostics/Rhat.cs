namespace Workbench.Studies.Diagnostics;

/// <summary>
/// Potential scale reduction R̂ (Vehtari et al. 2021; matches ArviZ). Inputs are <c>double[chain][draw]</c> with equal
/// lengths and finite values; <see cref="ConvergenceDiagnostics"/> checks that and flags what is wrong.
/// </summary>
public static class Rhat
{
    /// <summary>
    /// R̂ of the chains as given (no splitting): W = mean within-chain variance (ddof 1), B = n·var of chain means
    /// (ddof 1), var⁺ = ((n−1)/n)W + B/n, R̂ = √(var⁺/W). NaN with fewer than 2 chains or 2 draws.
    /// </summary>
    public static double Classic(double[][] chains)
    {
        if (chains.Length < 2 || chains[0].Length < 2) return double.NaN;
        double n = chains[0].Length;
        double w = chains.Average(Chains.Variance);
        double b = n * Chains.Variance(chains.Select(Chains.Mean).ToArray());
        double varPlus = (n - 1) / n * w + b / n;
        return Math.Sqrt(varPlus / w);
    }

    /// <summary>Classic R̂ of the split chains (each chain's halves as two chains).</summary>
    public static double Split(double[][] chains) => Classic(Chains.Split(chains));

    /// <summary>R̂_bulk: split R̂ of the rank-normalised draws.</summary>
    public static double Bulk(double[][] chains) => Classic(Chains.RankNormalise(Chains.Split(chains)));

    /// <summary>R̂_folded: split R̂ of the rank-normalised |θ − median|, sensitive to unequal spreads (tails).</summary>
    public static double Folded(double[][] chains) => Classic(Chains.RankNormalise(Chains.Split(Chains.Fold(chains))));

    /// <summary>R̂ = max(R̂_bulk, R̂_folded); converged means below 1.01. METHODS: Diagnostics.</summary>
    public static double RankNormalised(double[][] chains) => Math.Max(Bulk(chains), Folded(chains));

    /// <summary>
    /// Within-chain split R̂: each chain cut into 4 pieces treated as chains, rank-normalised R̂ of those pieces
    /// (no further splitting); the largest over the chains. Detects a chain still drifting, even with one chain.
    /// NaN when a piece has fewer than 4 draws.
    /// </summary>
    public static double Within(double[][] chains)
    {
        if (chains.Length == 0 || chains[0].Length / 4 < 4) return double.NaN;
        return chains.Max(chain =>
        {
            var pieces = Chains.Pieces(chain, 4);
            return Math.Max(Classic(Chains.RankNormalise(pieces)), Classic(Chains.RankNormalise(Chains.Fold(pieces))));
        });
    }
}
