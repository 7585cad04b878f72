using Workbench.Architectures.Masks;

namespace Workbench.Tests.Architectures;

public class MaskTests
{
    [Fact]
    public void Every_row_has_exactly_n_fix_fixed_entries()
    {
        var mask = WAsymMask.Generate(maskSeed: 7, layerIndex: 2, rows: 50, columns: 30, nFix: 8, kappa: 0.5);
        for (int r = 0; r < 50; r++)
            Assert.Equal(8, Enumerable.Range(0, 30).Count(c => !mask.Trainable[r * 30 + c]));
        Assert.Equal(50 * 8, mask.FixedCount);
    }

    [Fact]
    public void N_fix_at_least_d_in_fixes_the_whole_row()
    {
        var mask = WAsymMask.Generate(1, 0, rows: 4, columns: 5, nFix: 9, kappa: 1.0);
        Assert.All(mask.Trainable, t => Assert.False(t));
        Assert.Equal(0, mask.TrainableCount);
    }

    [Fact]
    public void Fixed_values_are_kappa_scaled_standard_normals_and_zero_elsewhere()
    {
        var mask = WAsymMask.Generate(3, 0, rows: 400, columns: 100, nFix: 50, kappa: 2.0);
        var fixedValues = mask.FixedValues.Where((v, i) => !mask.Trainable[i]).Select(v => (double)v).ToArray();
        Assert.All(mask.FixedValues.Where((v, i) => mask.Trainable[i]), v => Assert.Equal(0f, v));
        double mean = fixedValues.Average(), sd = Math.Sqrt(fixedValues.Select(v => (v - mean) * (v - mean)).Average());
        // 20,000 draws of κ·N(0,1), κ = 2: sd of the mean 2/√20000 ≈ 0.014, so |mean| < 0.07 is a 5-sd bound;
        // the sample sd has standard error ≈ κ/√(2n) = 0.01, so |sd − 2| < 0.05 is 5 se.
        Assert.InRange(mean, -0.07, 0.07);
        Assert.InRange(sd, 1.95, 2.05);
    }

    [Fact]
    public void Masks_depend_on_seed_and_layer_but_not_on_anything_else()
    {
        string a = WAsymMask.Generate(11, 0, 64, 32, 8, 0.5).Sha256();
        Assert.Equal(a, WAsymMask.Generate(11, 0, 64, 32, 8, 0.5).Sha256());
        Assert.NotEqual(a, WAsymMask.Generate(12, 0, 64, 32, 8, 0.5).Sha256());
        Assert.NotEqual(a, WAsymMask.Generate(11, 1, 64, 32, 8, 0.5).Sha256());
    }

    [Fact]
    public void Mask_hash_is_pinned_so_a_change_of_generator_is_noticed()
    {
        // Masks are part of every saved W-Asym network: two runs can only be interpolated or merged if they share
        // M and F, across versions of Workbench too. This value was produced by the generator when it was written;
        // if it changes, old run folders no longer reproduce — change it only on purpose, with a note.
        var mask = WAsymMask.Generate(maskSeed: 0, layerIndex: 0, rows: 3, columns: 4, nFix: 2, kappa: 1.0);
        Assert.Equal(MaskGolden.Trainable, string.Concat(mask.Trainable.Select(t => t ? '1' : '0')));
        Assert.True(MaskGolden.Sha256 == mask.Sha256(), $"mask hash {mask.Sha256()} differs from the pinned {MaskGolden.Sha256}");
    }

    [Theory]
    [InlineData(1e-300)]
    [InlineData(4.9e-324)]
    [InlineData(0.001)]
    [InlineData(0.5)]
    [InlineData(0.70710678)]
    [InlineData(1.0)]
    [InlineData(1.41421357)]
    [InlineData(3.0)]
    [InlineData(1e300)]
    public void Portable_log_agrees_with_the_platform_log(double x)
    {
        double expected = Math.Log(x);
        Assert.True(Math.Abs(PortableMath.Log(x) - expected) <= 4e-16 * Math.Max(1.0, Math.Abs(expected)),
            $"log({x}): portable {PortableMath.Log(x):R} vs {expected:R}");
    }

    [Fact]
    public void Keyed_normals_have_unit_variance()
    {
        var random = new KeyedRandom(5, 0, KeyedStream.FixedValues);
        var draws = Enumerable.Range(0, 100_000).Select(_ => random.NextNormal()).ToArray();
        double mean = draws.Average(), variance = draws.Select(v => (v - mean) * (v - mean)).Average();
        // n = 1e5: se(mean) = 0.0032, se(variance) = √(2/n) = 0.0045; bounds are 5 se.
        Assert.InRange(mean, -0.016, 0.016);
        Assert.InRange(variance, 0.978, 1.022);
    }
}
