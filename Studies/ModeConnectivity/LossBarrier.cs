namespace Workbench.Studies.ModeConnectivity;

/// <summary>
/// Loss barriers along the straight line θ(λ) = (1 − λ)θ_A + λθ_B (PAPER 2.1; METHODS: Mode connectivity). Works on any
/// curve of a loss (or error) over λ ∈ [0, 1] that includes both ends, e.g. the 25 evenly spaced points of <see cref="Grid"/>.
/// </summary>
public static class LossBarrier
{
    /// <summary>n evenly spaced λ in [0, 1], both ends included (n = 25 in the paper); λ = ½ is on the grid for odd n.</summary>
    public static double[] Grid(int points)
    {
        if (points < 2) throw new ArgumentOutOfRangeException(nameof(points), points, "an interpolation needs at least the two end points");
        // i / (n − 1) rather than accumulated steps: the ends are exactly 0 and 1 and the middle exactly ½.
        return Enumerable.Range(0, points).Select(i => (double)i / (points - 1)).ToArray();
    }

    /// <summary>The paper's barrier: L(θ(½)) − ½(L(θ_A) + L(θ_B)). λ = ½ must be on the curve.</summary>
    public static double Midpoint(IReadOnlyList<double> lambdas, IReadOnlyList<double> losses)
    {
        Check(lambdas, losses);
        int middle = Enumerable.Range(0, lambdas.Count).FirstOrDefault(i => lambdas[i] == 0.5, -1);
        if (middle < 0) throw new ArgumentException("the midpoint barrier needs λ = ½ on the curve (use an odd number of evenly spaced points)");
        return losses[middle] - 0.5 * (losses[0] + losses[^1]);
    }

    /// <summary>Entezari et al.'s barrier: max over λ of L(θ(λ)) − ((1 − λ)L(θ_A) + λL(θ_B)); ≥ 0 (the ends give 0)
    /// and ≥ the midpoint barrier whenever λ = ½ is on the curve.</summary>
    public static double Entezari(IReadOnlyList<double> lambdas, IReadOnlyList<double> losses)
    {
        Check(lambdas, losses);
        double a = losses[0], b = losses[^1];
        return Enumerable.Range(0, lambdas.Count).Max(i => losses[i] - ((1 - lambdas[i]) * a + lambdas[i] * b));
    }

    /// <summary>Throws unless the curve has one loss per λ and λ increases from 0 to 1 (used by <see cref="MonotonicInterpolation"/> too).</summary>
    public static void Check(IReadOnlyList<double> lambdas, IReadOnlyList<double> losses)
    {
        if (lambdas.Count != losses.Count) throw new ArgumentException($"{lambdas.Count} λ values but {losses.Count} losses");
        if (lambdas.Count < 2 || lambdas[0] != 0 || lambdas[^1] != 1)
            throw new ArgumentException("a curve must start at λ = 0 and end at λ = 1");
        for (int i = 1; i < lambdas.Count; i++)
            if (!(lambdas[i] > lambdas[i - 1])) throw new ArgumentException("λ must increase along the curve");
    }
}
