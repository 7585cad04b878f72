namespace Workbench.Studies.Diagnostics;

/// <summary>
/// Φ⁻¹, the standard normal quantile, by Wichura's algorithm AS 241 (PPND16, Applied Statistics 37, 1988):
/// rational approximations in three regions, relative error about 1e-16. .NET has no normal quantile.
/// </summary>
public static class NormalQuantile
{
    /// <summary>Φ⁻¹(p): −∞ at 0, +∞ at 1, NaN outside [0, 1] or for NaN.</summary>
    public static double Of(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1) return double.NaN;
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;

        double q = p - 0.5;
        if (Math.Abs(q) <= 0.425)
        {
            // Central region: r = 0.180625 − q², a degree-7 rational function of r.
            double r = 0.180625 - q * q;
            return q * (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
                            + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
                            + 133.14166789178437745) * r + 3.387132872796366608)
                   / (((((((5226.495278852854561 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
                            + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r
                            + 42.313330701600911252) * r + 1.0);
        }

        // Tails: r = √(−ln min(p, 1 − p)), two regions split at r = 5.
        double tail = q < 0 ? p : 1 - p;
        double s = Math.Sqrt(-Math.Log(tail));
        double x;
        if (s <= 5.0)
        {
            s -= 1.6;
            x = (((((((7.7454501427834140764e-4 * s + 0.0227238449892691845833) * s + 0.24178072517745061177) * s
                    + 1.27045825245236838258) * s + 3.64784832476320460504) * s + 5.7694972214606914055) * s
                    + 4.6303378461565452959) * s + 1.42343711074968357734)
                / (((((((1.05075007164441684324e-9 * s + 5.475938084995344946e-4) * s + 0.0151986665636164571966) * s
                    + 0.14810397642748007459) * s + 0.68976733498510000455) * s + 1.6763848301838038494) * s
                    + 2.05319162663775882187) * s + 1.0);
        }
        else
        {
            s -= 5.0;
            x = (((((((2.01033439929228813265e-7 * s + 2.71155556874348757815e-5) * s + 0.0012426609473880784386) * s
                    + 0.026532189526576123093) * s + 0.29656057182850489123) * s + 1.7848265399172913358) * s
                    + 5.4637849111641143699) * s + 6.6579046435011037772)
                / (((((((2.04426310338993978564e-15 * s + 1.4215117583164458887e-7) * s + 1.8463183175100546818e-5) * s
                    + 7.868691311456132591e-4) * s + 0.0148753612908506148525) * s + 0.13692988092273580531) * s
                    + 0.59983220655588793769) * s + 1.0);
        }
        return q < 0 ? -x : x;
    }
}
