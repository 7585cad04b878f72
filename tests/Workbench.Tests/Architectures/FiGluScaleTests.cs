using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Workbench.Architectures;
using Workbench.Architectures.Masks;

namespace Workbench.Tests.Architectures;

public class FiGluScaleTests
{
    [Theory]
    [InlineData("1", 1.0, false)]
    [InlineData("0.0625", 0.0625, false)]
    [InlineData("1e-2", 0.01, false)]
    [InlineData("1/sqrt(d)", 1.0, true)]
    [InlineData(" 0.5 / SQRT(d) ", 0.5, true)]
    [InlineData("2/√d", 2.0, true)]
    public void FiGlu_sd_reads_a_number_or_a_multiple_of_one_over_root_d(string text, double factor, bool overSqrtWidth)
    {
        var scale = FiGluScale.Parse(text);
        Assert.Equal(new FiGluScale(factor, overSqrtWidth), scale);
        // What it writes reads back as itself (configs and manifests store this text).
        Assert.Equal(scale, FiGluScale.Parse(scale.ToString()));
        Assert.Equal(overSqrtWidth ? factor / 16 : factor, scale.StdFor(256), 15);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("0/sqrt(d)")]
    [InlineData("abc")]
    [InlineData("1/sqrt(x)")]
    [InlineData("sqrt(d)")]
    [InlineData("1/sqrt(d)/2")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("")]
    public void A_FiGlu_sd_that_is_not_positive_or_not_a_known_form_is_refused(string text)
    {
        Assert.Null(FiGluScale.TryParse(text, out string error));
        Assert.Contains("C/sqrt(d)", error);
        Assert.Throws<ArgumentException>(() => FiGluScale.Parse(text));
    }

    /// <summary>
    /// F of FiGLU number <paramref name="index"/> is sd · z with z the standard normals of KeyedRandom(mask seed, index,
    /// FiGluMatrix) (PAPER 1.2, the generator the README names). Rebuilt here at the sd the option should give, its hash
    /// must be the network's: so the network's F is exactly these values.
    /// </summary>
    private static float[] ExpectedF(ulong maskSeed, int index, int width, double sd)
    {
        var random = new KeyedRandom(maskSeed, index, KeyedStream.FiGluMatrix);
        var values = new float[width * width];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(sd * random.NextNormal());
        return values;
    }

    private static string Sha256(float[] values) => Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(values.AsSpan())));

    [Theory]
    // MLPs: a number is the sd; C/sqrt(d) divides by the layer's width; none is the reference MLP code's sd 1.
    [InlineData("mlp", "256,64", "1/sqrt(d)")]
    [InlineData("mlp", "256,64", "0.3")]
    [InlineData("mlp", "256,64", null)]
    // Convnets: the same two forms (d = channels); none is the paper's ResNet 1/√C.
    [InlineData("cnn", "32,64", null)]
    [InlineData("cnn", "32,64", "0.5")]
    [InlineData("cnn", "32,64", "2/sqrt(d)")]
    public void FiGlu_sd_reaches_every_F_of_the_network(string model, string widths, string? given)
    {
        const ulong maskSeed = 11;
        var scale = given is null ? (FiGluScale?)null : FiGluScale.Parse(given);
        var options = new ModelOptions(model, Variant.SigmaAsym, Widths: widths.Split(',').Select(int.Parse).ToArray(), FiGluStd: scale, MaskSeed: maskSeed,
            InputShape: model == "cnn" ? [1, 28, 28] : null, Inputs: model == "cnn" ? null : 784);
        using var network = ModelCatalog.Create(options);
        var figlus = network.FixedTensors.Where(f => f.Kind == "figlu").ToList();
        Assert.Equal(model == "cnn" ? 4 : 2, figlus.Count);
        for (int i = 0; i < figlus.Count; i++)
        {
            int width = (int)figlus[i].Shape[0];
            double expectedSd = given is null
                ? model == "cnn" ? 1 / Math.Sqrt(width) : 1.0
                : scale!.Value.OverSqrtWidth ? scale.Value.Factor / Math.Sqrt(width) : scale.Value.Factor;
            var f = ExpectedF(maskSeed, i, width, expectedSd);
            Assert.Equal(Sha256(f), figlus[i].Sha256);
            Assert.Equal(expectedSd, figlus[i].Settings["std"], 15);
            // The sample sd of n = d² i.i.d. N(0, σ²) entries has sd ≈ σ/√(2n): five of those bound it.
            double mean = f.Average(v => (double)v);
            double sampleSd = Math.Sqrt(f.Sum(v => (v - mean) * (v - mean)) / (f.Length - 1));
            double bound = 5 / Math.Sqrt(2.0 * f.Length);
            Assert.True(Math.Abs(sampleSd / expectedSd - 1) < bound,
                $"{figlus[i].Layer}: sample sd {sampleSd} vs {expectedSd} (relative bound {bound:F4})");
        }
    }

    [Fact]
    public void Group_mask_seeds_differ_across_groups_and_seeds_and_repeat_for_the_same_pair()
    {
        var groups = Enumerable.Range(0, 1000).Select(g => MaskSeeds.ForGroup(7, g)).ToList();
        Assert.Equal(groups.Count, groups.Distinct().Count());
        Assert.DoesNotContain(7UL, groups);
        Assert.Equal(groups[3], MaskSeeds.ForGroup(7, 3));
        Assert.NotEqual(MaskSeeds.ForGroup(7, 3), MaskSeeds.ForGroup(8, 3));
    }
}
