using System.Numerics;

namespace Workbench.Studies.Diagnostics;

/// <summary>
/// Autocovariance of one chain by FFT, as ArviZ computes it: γ̂_t = (1/n) Σ_{i&lt;n−t} (x_i − x̄)(x_{i+t} − x̄) for
/// t = 0 … n−1. The centred chain is zero-padded to a power of two ≥ 2n so the circular correlation has no wrap-around.
/// </summary>
public static class Autocovariance
{
    public static double[] Of(ReadOnlySpan<double> chain)
    {
        int n = chain.Length;
        if (n == 0) return [];
        double mean = 0;
        foreach (double v in chain) mean += v;
        mean /= n;
        int m = (int)BitOperations.RoundUpToPowerOf2((uint)(2 * n));
        var buffer = new Complex[m];
        for (int i = 0; i < n; i++) buffer[i] = chain[i] - mean;
        Fft.Transform(buffer, inverse: false);
        for (int i = 0; i < m; i++) buffer[i] = buffer[i].Real * buffer[i].Real + buffer[i].Imaginary * buffer[i].Imaginary;
        Fft.Transform(buffer, inverse: true);
        var gamma = new double[n];
        // The inverse transform is unscaled: divide by m (FFT length) and by n (the estimator's 1/n).
        for (int t = 0; t < n; t++) gamma[t] = buffer[t].Real / ((double)m * n);
        return gamma;
    }

    /// <summary>The same sums directly, O(n²): the reference the FFT version is tested against.</summary>
    public static double[] Direct(ReadOnlySpan<double> chain)
    {
        int n = chain.Length;
        double mean = 0;
        foreach (double v in chain) mean += v;
        mean /= n;
        var gamma = new double[n];
        for (int t = 0; t < n; t++)
        {
            double sum = 0;
            for (int i = 0; i + t < n; i++) sum += (chain[i] - mean) * (chain[i + t] - mean);
            gamma[t] = sum / n;
        }
        return gamma;
    }
}

/// <summary>In-place iterative radix-2 Cooley–Tukey FFT of a power-of-two length; the inverse is not scaled by 1/n.</summary>
public static class Fft
{
    public static void Transform(Complex[] data, bool inverse)
    {
        int n = data.Length;
        if (n == 0 || (n & (n - 1)) != 0) throw new ArgumentException($"FFT length must be a power of two, got {n}.", nameof(data));
        // Bit-reversal permutation.
        for (int i = 1, j = 0; i < n; i++)
        {
            int bit = n >> 1;
            for (; (j & bit) != 0; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j) (data[i], data[j]) = (data[j], data[i]);
        }
        for (int length = 2; length <= n; length <<= 1)
        {
            double angle = (inverse ? 2 : -2) * Math.PI / length;
            var step = new Complex(Math.Cos(angle), Math.Sin(angle));
            int half = length / 2;
            for (int start = 0; start < n; start += length)
            {
                var w = Complex.One;
                for (int k = 0; k < half; k++)
                {
                    var even = data[start + k];
                    var odd = data[start + k + half] * w;
                    data[start + k] = even + odd;
                    data[start + k + half] = even - odd;
                    w *= step;
                }
            }
        }
    }
}
