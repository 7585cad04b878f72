namespace Workbench.Architectures.Masks;

/// <summary>
/// A deterministic random stream keyed by (seed, layer index, purpose). W-Asym masks and fixed values must be
/// bit-identical in every process and on every OS (PAPER 1.1: interpolated or merged networks share M and F),
/// so this uses only integer arithmetic (SplitMix64) and IEEE basic operations — no platform libm.
/// </summary>
public sealed class KeyedRandom
{
    private ulong _state;

    public KeyedRandom(ulong seed, int layerIndex, KeyedStream purpose)
    {
        // Mix the three key parts through SplitMix64 so nearby keys give unrelated streams.
        ulong s = Mix(seed);
        s = Mix(s ^ (ulong)(uint)layerIndex * 0x9E3779B97F4A7C15UL);
        _state = Mix(s ^ ((ulong)purpose + 1) * 0xD1B54A32D192ED03UL);
    }

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject).</summary>
    public int NextBelow(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        ulong bound = (ulong)n;
        while (true)
        {
            ulong x = NextUInt64();
            UInt128 m = (UInt128)x * bound;
            ulong low = (ulong)m;
            if (low >= bound || low >= (0UL - bound) % bound) return (int)(ulong)(m >> 64);
        }
    }

    /// <summary>Standard normal by Marsaglia's polar method, with a portable logarithm.</summary>
    public double NextNormal()
    {
        while (true)
        {
            double u = 2.0 * NextDouble() - 1.0, v = 2.0 * NextDouble() - 1.0;
            double s = u * u + v * v;
            if (s <= 0.0 || s >= 1.0) continue;
            return u * Math.Sqrt(-2.0 * PortableMath.Log(s) / s);
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

public enum KeyedStream { MaskPositions = 0, FixedValues = 1, FiGluMatrix = 2 }

/// <summary>Functions computed with basic IEEE operations only, so every platform gets the same bits.</summary>
public static class PortableMath
{
    private const double Ln2 = 0.69314718055994530942;

    /// <summary>Natural logarithm of a positive finite double, accurate to a few ulps.</summary>
    public static double Log(double x)
    {
        if (!(x > 0.0) || double.IsInfinity(x)) throw new ArgumentOutOfRangeException(nameof(x), x, "needs a positive finite number");
        // x = m · 2^e with m in [1/√2, √2); log m = 2 atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716.
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF);
        if (e == 0) // subnormal: scale into the normal range first
        {
            x *= 4503599627370496.0; // 2^52
            bits = BitConverter.DoubleToInt64Bits(x);
            e = (int)((bits >> 52) & 0x7FF) - 52;
        }
        e -= 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > 1.4142135623730951) { m *= 0.5; e += 1; }
        double s = (m - 1.0) / (m + 1.0), s2 = s * s;
        // Series 2(s + s³/3 + … + s²³/23): the next term is below 2.6e-19 relative.
        double sum = 1.0 / 23.0;
        for (int k = 21; k >= 1; k -= 2) sum = sum * s2 + 1.0 / k;
        return 2.0 * s * sum + e * Ln2;
    }
}
