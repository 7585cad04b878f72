namespace Workbench.Tests.Diagnostics;

/// <summary>Seeded synthetic chains for the diagnostics tests: <c>double[chain][draw]</c>.</summary>
internal static class Draws
{
    /// <summary>A standard normal draw by Box–Muller from a seeded <see cref="Random"/>.</summary>
    public static double Normal(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());

    public static double[][] Iid(int chains, int draws, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, chains).Select(_ => Enumerable.Range(0, draws).Select(_ => Normal(random)).ToArray()).ToArray();
    }

    /// <summary>AR(1) x_t = ρx_{t−1} + √(1−ρ²)ε_t started in its stationary N(0, 1) distribution.</summary>
    public static double[][] Ar1(int chains, int draws, double rho, int seed)
    {
        var random = new Random(seed);
        double scale = Math.Sqrt(1 - rho * rho);
        return Enumerable.Range(0, chains).Select(_ =>
        {
            var x = new double[draws];
            x[0] = Normal(random);
            for (int t = 1; t < draws; t++) x[t] = rho * x[t - 1] + scale * Normal(random);
            return x;
        }).ToArray();
    }

    /// <summary>
    /// A heavy-tailed chain whose tails mix slowly: x_t = exp(h_t) ε_t with log-scale h an AR(1) (ρ = 0.99, sd 1).
    /// The sign of x is i.i.d., so the bulk mixes fast; large |x| come in long stretches, so the tails do not.
    /// </summary>
    public static double[][] SlowTails(int chains, int draws, int seed)
    {
        var h = Ar1(chains, draws, 0.99, seed);
        var random = new Random(seed + 1);
        return h.Select(c => c.Select(v => Math.Exp(v) * Normal(random)).ToArray()).ToArray();
    }
}
