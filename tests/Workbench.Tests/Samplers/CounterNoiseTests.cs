using System.Runtime.Intrinsics;
using Workbench.Samplers;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

// Changes torch's thread count: run apart from the other tests that read it (the checkpoint collection).
[Collection(nameof(CheckpointCollection))]
public class CounterNoiseTests
{
    private const int Chunk = CounterNoise.ChunkSize;

    [Fact]
    public void Philox4x32_10_matches_the_Random123_known_answers()
    {
        // Random123's tests/kat_vectors, "philox4x32 10" lines: counter words, key words → output words. The scalar
        // reference of the next test must give them too.
        foreach (var philox in new Func<uint, uint, uint, uint, uint, uint, (uint, uint, uint, uint)>[] { CounterNoise.Philox4x32, ReferencePhilox })
        {
            Assert.Equal((0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u), philox(0, 0, 0, 0, 0, 0));
            Assert.Equal((0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu),
                philox(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff));
            Assert.Equal((0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u),
                philox(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
        }
    }

    [Fact]
    public void Noise_matches_a_scalar_reference_of_philox_and_box_muller()
    {
        // Seed and step with high words set, so all four counter words and both key words are exercised.
        const ulong seed = 0x1234_5678_9ABC_DEF0UL & 0x7FFF_FFFF_FFFF_FFFFUL;
        const long step = (5L << 32) + 17, p = 3 * Chunk + 45;
        using var g = new Generator((long)seed);
        using var noise = zeros(1, p);
        CounterNoise.Fill(noise, [g], step);
        var z = noise.data<float>().ToArray();
        foreach (long i in new long[] { 0, 1, 7, 8, 15, 16, 24, 31, 32, 33, Chunk - 1, Chunk, 2 * Chunk + 9, p - 1 })
        {
            // The float Log/SinCosTurn are within a few float ulps of the double-precision reference: |z| < 6, so 1e-5.
            double expected = Reference(seed, step, i);
            Assert.True(Math.Abs(z[i] - expected) < 1e-5, $"entry {i}: {z[i]} vs reference {expected}");
        }
    }

    [Fact]
    public void Log_matches_Math_Log_for_every_uniform_the_radius_uses()
    {
        // All 2²⁴ values u = n·2⁻²⁴, n = 1 … 2²⁴: from the smallest uniform the generator gives up to u = 1 (ln u = 0).
        double worst = 0;
        var u = new float[8];
        for (int n = 1; n <= 1 << 24; n += 8)
        {
            for (int l = 0; l < 8; l++) u[l] = (n + l) / 16777216f;
            var ln = CounterNoise.Log(Vector256.Create(u));
            for (int l = 0; l < 8; l++)
            {
                double exact = Math.Log(u[l]);
                if (exact == 0) Assert.Equal(0f, ln[l]);
                else worst = Math.Max(worst, Math.Abs(ln[l] - exact) / -exact);
            }
        }
        Assert.True(worst < CounterNoise.LogRelativeError, $"relative error {worst:E2}");
    }

    [Fact]
    public void SinCos_matches_Math_Sin_and_Cos_for_every_angle_the_generator_gives()
    {
        // All 2²⁴ angles 2π·n·2⁻²⁴, quadrant boundaries (n a multiple of 2²²) and their neighbours included; the low
        // 8 bits of the word must not matter, so they are set to a pattern.
        double worst = 0;
        var w = new uint[8];
        for (uint n = 0; n < 1u << 24; n += 8)
        {
            for (uint l = 0; l < 8; l++) w[l] = (n + l) << 8 | (l * 37 & 0xFF);
            var (sin, cos) = CounterNoise.SinCosTurn(Vector256.Create(w));
            for (int l = 0; l < 8; l++)
            {
                double angle = 2 * Math.PI * (n + l) / 16777216.0;
                worst = Math.Max(worst, Math.Max(Math.Abs(sin[l] - Math.Sin(angle)), Math.Abs(cos[l] - Math.Cos(angle))));
            }
        }
        Assert.True(worst < CounterNoise.SinCosError, $"absolute error {worst:E2}");
    }

    [Fact]
    public void Draws_have_the_moments_and_distribution_of_a_standard_normal()
    {
        // n = 2²⁰ draws. Standard errors under N(0,1): mean 1/√n, variance √(2/n), skewness √(6/n), excess kurtosis
        // √(24/n); each must lie within 5 of them (a false alarm about 6·10⁻⁷ per check).
        const int rows = 4, p = 1 << 18;
        var gs = Enumerable.Range(0, rows).Select(k => new Generator((ulong)(1000 + k))).ToArray();
        using var noise = zeros(rows, p, dtype: float64);
        CounterNoise.Fill(noise, gs, step: 3);
        var x = noise.data<double>().ToArray();
        double n = x.Length, mean = x.Average();
        double m2 = x.Sum(v => (v - mean) * (v - mean)) / n, m3 = x.Sum(v => Math.Pow(v - mean, 3)) / n, m4 = x.Sum(v => Math.Pow(v - mean, 4)) / n;
        double skew = m3 / Math.Pow(m2, 1.5), kurtosis = m4 / (m2 * m2) - 3;
        Assert.True(Math.Abs(mean) < 5 / Math.Sqrt(n), $"mean {mean}");
        Assert.True(Math.Abs(m2 - 1) < 5 * Math.Sqrt(2 / n), $"variance {m2}");
        Assert.True(Math.Abs(skew) < 5 * Math.Sqrt(6 / n), $"skewness {skew}");
        Assert.True(Math.Abs(kurtosis) < 5 * Math.Sqrt(24 / n), $"excess kurtosis {kurtosis}");

        // Kolmogorov–Smirnov against Φ (torch.special.ndtr): at α = 10⁻³ the asymptotic critical value is
        // √(ln(2/α)/(2n)) = 1.949/√n ≈ 1.90·10⁻³ for this n.
        using var sorted = noise.flatten().sort().Values;
        using var cdf = special.ndtr(sorted);
        using var i = arange(HeldScalars.One, HeldScalars.Of(x.Length + 1), HeldScalars.One, dtype: float64);
        using var above = (i / HeldScalars.Of(n) - cdf).max();
        using var below = (cdf - (i - HeldScalars.One) / HeldScalars.Of(n)).max();
        double d = Math.Max(above.item<double>(), below.item<double>()), critical = Math.Sqrt(Math.Log(2 / 1e-3) / (2 * n));
        Assert.True(d < critical, $"KS distance {d:E3} ≥ critical {critical:E3}");
    }

    [Fact]
    public void Draws_are_uncorrelated_across_chains_chunks_steps_and_neighbours()
    {
        // Under independence the sample correlation of m pairs has sd ≈ 1/√m: require |r| < 4/√m.
        const int p = 4 * Chunk;
        var gs = new[] { new Generator(7), new Generator(8) };
        using var now = zeros(2, p, dtype: float64);
        using var next = zeros(2, p, dtype: float64);
        CounterNoise.Fill(now, gs, step: 41);
        CounterNoise.Fill(next, gs, step: 42);
        var a = now[0].data<double>().ToArray();
        var b = now[1].data<double>().ToArray();
        var c = next[0].data<double>().ToArray();
        AssertUncorrelated("chain 0 vs chain 1", a, b);
        AssertUncorrelated("step 41 vs step 42", a, c);
        AssertUncorrelated("chunk 0 vs chunk 1", a[..Chunk], a[Chunk..(2 * Chunk)]);
        // Neighbours in memory and the Box–Muller partner (entry i + 8 shares the radius of entry i).
        foreach (int lag in new[] { 1, 8, 16, 32 }) AssertUncorrelated($"lag {lag}", a[..^lag], a[lag..]);
    }

    [Fact]
    public void Draws_do_not_depend_on_the_thread_count()
    {
        const int p = 5 * Chunk + 123;
        var gs = new[] { new Generator(11), new Generator(12) };
        int previous = get_num_threads();
        try
        {
            set_num_threads(1);
            using var one = zeros(2, p);
            CounterNoise.Fill(one, gs, step: 9);
            set_num_threads(2);
            using var two = zeros(2, p);
            CounterNoise.Fill(two, gs, step: 9);
            Assert.Equal(one.data<float>().ToArray(), two.data<float>().ToArray());
        }
        finally { set_num_threads(previous); }
    }

    [Fact]
    public void Batched_chains_draw_what_each_chain_draws_alone_whatever_the_row_length()
    {
        // P is neither a multiple of the chunk nor of the 32-entry vector group; a shorter row is a prefix of a
        // longer one, so a chunk boundary that P does not align with changes nothing.
        const int p = 2 * Chunk + 1005;
        var gs = new[] { new Generator(21), new Generator(22), new Generator(23) };
        using var batched = zeros(3, p);
        CounterNoise.Fill(batched, gs, step: 100);
        for (int k = 0; k < gs.Length; k++)
        {
            using var alone = zeros(1, p);
            CounterNoise.Fill(alone, [gs[k]], step: 100);
            Assert.Equal(batched[k].data<float>().ToArray(), alone[0].data<float>().ToArray());
        }
        using var shorter = zeros(1, Chunk + 77);
        CounterNoise.Fill(shorter, [gs[1]], step: 100);
        Assert.Equal(batched[1, ..(Chunk + 77)].data<float>().ToArray(), shorter[0].data<float>().ToArray());
    }

    [Fact]
    public void Float64_strided_and_fused_paths_give_the_same_draws()
    {
        const int p = Chunk + 301;
        var gs = new[] { new Generator(31), new Generator(32) };
        using var single = zeros(2, p);
        CounterNoise.Fill(single, gs, step: 5);
        // float64: the float draws, widened (exact).
        using var wide = zeros(2, p, dtype: float64);
        CounterNoise.Fill(wide, gs, step: 5);
        Assert.Equal(single.to(float64).data<double>().ToArray(), wide.data<double>().ToArray());
        // A non-contiguous [K, P] view goes through the torch-side fallback: same numbers.
        using var storage = zeros(p, 2);
        using var strided = storage.t();
        CounterNoise.Fill(strided, gs, step: 5);
        Assert.Equal(single.data<float>().ToArray(), strided.contiguous().data<float>().ToArray());
        // θ += c·ξ in one pass equals θ + c·Fill up to float rounding (|θ + cξ| < 10, so 1e-5).
        using var theta = linspace(-1, 1, 2 * p).reshape(2, p);
        using var fused = theta.clone();
        CounterNoise.AddScaled(fused, gs, step: 5, scale: 0.3);
        using var expected = theta.add(HeldScalars.Of(0.3) * single, HeldScalars.One);
        Assert.True(fused.allclose(expected, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Drift_and_noise_in_one_pass_equal_the_two_step_update()
    {
        // p is not a multiple of the 32-entry group, so the row's partial last group is covered too.
        const int p = Chunk + 301;
        var gs = new[] { new Generator(51), new Generator(52) };
        using var noise = zeros(2, p);
        CounterNoise.Fill(noise, gs, step: 9);
        using var theta = linspace(-1, 1, 2 * p).reshape(2, p);
        using var drift = cos(arange(HeldScalars.Zero, HeldScalars.Of(2 * p), HeldScalars.One, dtype: float32)).reshape(2, p).mul_(HeldScalars.Of(3));
        using var expected = theta.add(HeldScalars.Of(0.05) * drift, HeldScalars.One).add(HeldScalars.Of(0.3) * noise, HeldScalars.One);
        // float32, contiguous: the fused kernel; |θ + a·g + cξ| < 10, so a few ulps are at most 1e-5.
        using var fused = theta.clone();
        CounterNoise.AddScaled(fused, drift, 0.05, gs, step: 9, scale: 0.3);
        Assert.True(fused.allclose(expected, rtol: 0, atol: 1e-5), $"largest difference {(fused - expected).abs().max().item<float>()}");
        // A strided drift and float64 θ take the torch-side fallbacks: the same update.
        using var stridedDrift = drift.t().contiguous().t();
        using var fallback = theta.clone();
        CounterNoise.AddScaled(fallback, stridedDrift, 0.05, gs, step: 9, scale: 0.3);
        Assert.True(fallback.allclose(expected, rtol: 0, atol: 1e-5));
        using var wide = theta.to(float64);
        CounterNoise.AddScaled(wide, drift.to(float64), 0.05, gs, step: 9, scale: 0.3);
        Assert.True(wide.to(float32).allclose(expected, rtol: 0, atol: 1e-5));
        // A drift of another shape is refused.
        Assert.Throws<ArgumentException>(() => CounterNoise.AddScaled(fused, drift[.., ..10], 0.05, gs, step: 9, scale: 0.3));
    }

    [Fact]
    public void Sgld_draws_the_same_chain_alone_or_batched()
    {
        // Without data the drift is −θ/(Nσ²); chain 1 run alone must follow the batched chain 1 exactly.
        var sgld = new Sgld(new Tempering(100, 1, 1.0, 2.0), stepSize: 0.01);
        const int p = Chunk + 9;
        using var batched = sgld.Init(zeros(2, p));
        using var alone = sgld.Init(zeros(1, p));
        var gs = new[] { new Generator(41), new Generator(42) };
        using var g1 = new Generator(42);
        for (int t = 0; t < 3; t++)
        {
            sgld.Step(batched, new NoData(), gs);
            sgld.Step(alone, new NoData(), [g1]);
        }
        Assert.True(batched.Position[1].allclose(alone.Position[0], rtol: 0, atol: 1e-6));
    }

    /// <summary>Philox4x32-10, one scalar block (checked against the known answers above).</summary>
    private static (uint, uint, uint, uint) ReferencePhilox(uint x0, uint x1, uint x2, uint x3, uint k0, uint k1)
    {
        for (int r = 0; r < 10; r++)
        {
            ulong p0 = 0xD2511F53UL * x0, p1 = 0xCD9E8D57UL * x2;
            (x0, x1, x2, x3) = ((uint)(p1 >> 32) ^ x1 ^ k0, (uint)p1, (uint)(p0 >> 32) ^ x3 ^ k1, (uint)p0);
            k0 += 0x9E3779B9;
            k1 += 0xBB67AE85;
        }
        return (x0, x1, x2, x3);
    }

    private static void AssertUncorrelated(string what, double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        double r = sxy / Math.Sqrt(sxx * syy), bound = 4 / Math.Sqrt(x.Length);
        Assert.True(Math.Abs(r) < bound, $"{what}: r = {r:E3}, bound {bound:E3}");
    }

    /// <summary>Entry i of a chain's row, computed one scalar at a time in double precision: Philox4x32-10 as Salmon et
    /// al. (2011) define it, the 8-lane layout and Box–Muller, written independently of the vector code.</summary>
    private static double Reference(ulong seed, long step, long i)
    {
        long block = i / 32 * 8 + i % 8;
        int word = (int)(i % 32 / 8);
        uint x0 = (uint)block, x1 = (uint)((ulong)block >> 32), x2 = (uint)step, x3 = (uint)((ulong)step >> 32);
        var (w0, w1, w2, w3) = ReferencePhilox(x0, x1, x2, x3, (uint)seed, (uint)(seed >> 32));
        uint[] w = [w0, w1, w2, w3];
        int pair = word / 2 * 2;
        double u0 = ((w[pair] >> 8) + 1) / 16777216.0, u1 = (w[pair + 1] >> 8) / 16777216.0;
        double radius = Math.Sqrt(-2 * Math.Log(u0));
        return word % 2 == 0 ? radius * Math.Cos(2 * Math.PI * u1) : radius * Math.Sin(2 * Math.PI * u1);
    }
}
