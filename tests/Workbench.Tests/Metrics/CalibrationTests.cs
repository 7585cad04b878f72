using System.Xml.Linq;
using TorchSharp;
using Workbench.Studies.Figures;
using Workbench.Studies.Metrics;
using Workbench.Tests.Storage;
using static TorchSharp.torch;

namespace Workbench.Tests.Metrics;

public class CalibrationTests
{
    private const double Tight = 1e-12;

    private static (double[] Confidence, bool[] Correct) Predictions(params (double Confidence, int Count, int Correct)[] groups)
    {
        var confidence = new List<double>();
        var correct = new List<bool>();
        foreach (var (c, count, hits) in groups)
            for (var i = 0; i < count; i++) { confidence.Add(c); correct.Add(i < hits); }
        return (confidence.ToArray(), correct.ToArray());
    }

    [Fact]
    public void Pooling_bin_tables_gives_the_table_of_all_predictions_together()
    {
        // Two seeds' final BMAs: pooling their bins by counts must equal binning every prediction at once.
        var (c1, r1) = Predictions((0.65, 20, 11), (0.95, 30, 29), (0.35, 5, 1));
        var (c2, r2) = Predictions((0.64, 10, 8), (0.97, 40, 36));
        var pooled = Calibration.Pool([Calibration.Compute(c1, r1), Calibration.Compute(c2, r2)]);
        var direct = Calibration.Compute([.. c1, .. c2], [.. r1, .. r2]);

        Assert.Equal(direct.Ece, pooled.Ece, Tight);
        Assert.Equal(direct.Mce, pooled.Mce, Tight);
        Assert.Equal(direct.Examples, pooled.Examples);
        for (var m = 0; m < direct.Bins.Count; m++)
        {
            Assert.Equal(direct.Bins[m].Count, pooled.Bins[m].Count);
            if (direct.Bins[m].IsEmpty) { Assert.True(double.IsNaN(pooled.Bins[m].Accuracy)); continue; }
            Assert.Equal(direct.Bins[m].Accuracy, pooled.Bins[m].Accuracy, Tight);
            Assert.Equal(direct.Bins[m].Confidence, pooled.Bins[m].Confidence, Tight);
        }
        Assert.Throws<ArgumentException>(() => Calibration.Pool([Calibration.Compute(c1, r1), Calibration.Compute(c2, r2, bins: 10)]));
    }

    [Fact]
    public void Perfectly_calibrated_predictions_have_zero_ece_and_mce()
    {
        // 20 predictions at 0.65 (bin 9, [0.6, 0.667)) with 13 right: accuracy 0.65.
        // 20 predictions at 0.95 (bin 14, [0.933, 1]) with 19 right: accuracy 0.95. Every gap is 0.
        var (confidence, correct) = Predictions((0.65, 20, 13), (0.95, 20, 19));

        var result = Calibration.Compute(confidence, correct);

        Assert.Equal(0.0, result.Ece, Tight);
        Assert.Equal(0.0, result.Mce, Tight);
        Assert.Equal(15, result.Bins.Count);
        Assert.Equal(20, result.Bins[9].Count);
        Assert.Equal(0.65, result.Bins[9].Accuracy, Tight);
        Assert.Equal(0.65, result.Bins[9].Confidence, Tight);
        Assert.Equal(20, result.Bins[14].Count);
        Assert.Equal(40, result.Examples);
    }

    [Fact]
    public void Over_confident_predictions_have_the_hand_computed_ece_and_mce()
    {
        // 10 predictions at 0.9 (bin 13, [0.867, 0.933)), 6 right: gap |0.6 − 0.9| = 0.3.
        // 10 predictions at 0.5 (bin 7, [0.467, 0.533)), 4 right: gap |0.4 − 0.5| = 0.1.
        // ECE = 10/20·0.3 + 10/20·0.1 = 0.2; MCE = max(0.3, 0.1) = 0.3.
        var (confidence, correct) = Predictions((0.9, 10, 6), (0.5, 10, 4));

        var result = Calibration.Compute(confidence, correct);

        Assert.Equal(0.2, result.Ece, Tight);
        Assert.Equal(0.3, result.Mce, Tight);
        Assert.Equal(10, result.Bins[13].Count);
        Assert.Equal(0.6, result.Bins[13].Accuracy, Tight);
        Assert.Equal(0.9, result.Bins[13].Confidence, Tight);
        Assert.Equal(0.4, result.Bins[7].Accuracy, Tight);
        Assert.Equal(13.0 / 15, result.Bins[13].Lower, Tight);
        Assert.Equal(14.0 / 15, result.Bins[13].Upper, Tight);
    }

    [Fact]
    public void Confidence_of_one_falls_in_the_last_bin()
    {
        // Three predictions at confidence 1, two right: last bin [14/15, 1] holds all three, gap 1/3 = ECE = MCE.
        var (confidence, correct) = Predictions((1.0, 3, 2));

        var result = Calibration.Compute(confidence, correct);

        Assert.Equal(3, result.Bins[^1].Count);
        Assert.Equal(1.0, result.Bins[^1].Upper);
        Assert.Equal(1.0 / 3, result.Ece, Tight);
        Assert.Equal(1.0 / 3, result.Mce, Tight);
        Assert.Equal(3, Calibration.Compute(confidence, correct, bins: 4).Bins[3].Count);
        Assert.Equal(0, Calibration.BinOf(0.0, 15));
    }

    [Fact]
    public void Confidence_on_a_bin_edge_falls_in_the_bin_that_starts_there()
    {
        // 0.2 = 3/15 and 0.4 = 6/15 are edges: left-closed bins put them in bins 3 and 6, not 2 and 5.
        var result = Calibration.Compute([0.2, 0.4], [true, false]);
        Assert.Equal(1, result.Bins[3].Count);
        Assert.Equal(1, result.Bins[6].Count);
        Assert.Equal(0, result.Bins[2].Count + result.Bins[5].Count);
        // ECE = ½·|1 − 0.2| + ½·|0 − 0.4| = 0.6.
        Assert.Equal(0.6, result.Ece, Tight);

        // Every stored edge, for many bin counts (some m/B·B round below m), starts its own bin; the double just below it does not.
        for (var bins = 1; bins <= 60; bins++)
            for (var m = 1; m < bins; m++)
            {
                var edge = Calibration.Edge(m, bins);
                Assert.Equal(m, Calibration.BinOf(edge, bins));
                Assert.Equal(m - 1, Calibration.BinOf(Math.BitDecrement(edge), bins));
            }
    }

    [Fact]
    public void Empty_bins_have_nan_means_and_do_not_count_towards_ece_or_mce()
    {
        // Same data as the over-confident case: 13 of 15 bins are empty.
        var (confidence, correct) = Predictions((0.9, 10, 6), (0.5, 10, 4));

        var result = Calibration.Compute(confidence, correct);

        var empty = result.Bins.Where((_, m) => m is not (7 or 13)).ToArray();
        Assert.Equal(13, empty.Length);
        Assert.All(empty, b => Assert.True(b.IsEmpty && b.Count == 0 && double.IsNaN(b.Accuracy) && double.IsNaN(b.Confidence)));
        Assert.Equal(0.3, result.Mce, Tight);
        Assert.Equal(0.2, result.Ece, Tight);
        // The table still covers [0, 1] with equal widths.
        Assert.Equal(0.0, result.Bins[0].Lower);
        Assert.All(result.Bins, b => Assert.Equal(1.0 / 15, b.Upper - b.Lower, 1e-15));
    }

    [Fact]
    public void Tensor_overload_takes_confidence_from_max_probability_and_correctness_from_argmax()
    {
        // p̄ rows [0.9, 0.1], [0.3, 0.7], [0.55, 0.45], labels all 0:
        // confidences 0.9 (bin 13, right), 0.7 (bin 10, wrong), 0.55 (bin 8, right); gaps 0.1, 0.7, 0.45.
        // ECE = (0.1 + 0.7 + 0.45)/3 = 1.25/3; MCE = 0.7.
        using var logp = tensor(new[] { 0.9, 0.1, 0.3, 0.7, 0.55, 0.45 }, [3, 2], ScalarType.Float64).log();
        using var labels = tensor(new long[] { 0, 0, 0 });

        var result = Calibration.Compute(logp, labels);

        Assert.Equal(1.25 / 3, result.Ece, 1e-12);
        Assert.Equal(0.7, result.Mce, 1e-12);
        Assert.Equal((1L, 1.0), (result.Bins[13].Count, result.Bins[13].Accuracy));
        Assert.Equal((1L, 0.0), (result.Bins[10].Count, result.Bins[10].Accuracy));
        Assert.Equal((1L, 1.0), (result.Bins[8].Count, result.Bins[8].Accuracy));
    }

    [Fact]
    public void Float32_rounding_just_above_certainty_counts_as_confidence_one()
    {
        // A float32 running log-sum-exp minus log S may give log p̄ = +1e-6 for a certain prediction: confidence 1,
        // last bin, right (gap 0). Row 2 is certain and wrong: gap 1. ECE = ½·0 + ½·1 = 0.5.
        using var scope = NewDisposeScope();
        var logp = tensor(new[] { 1e-6f, -20f, -20f, 1e-6f }, [2, 2]);

        var result = Calibration.Compute(logp, tensor(new long[] { 0, 0 }));

        Assert.Equal(2, result.Bins[^1].Count);
        Assert.Equal(1.0, result.Bins[^1].Confidence);
        Assert.Equal(0.5, result.Ece, Tight);
        // log 2 above certainty is a log-sum without − log S, not rounding.
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.Compute(logp.add(HeldScalars.Of(MathF.Log(2)), HeldScalars.One), tensor(new long[] { 0, 0 })));
    }

    [Fact]
    public void Per_chain_overloads_equal_one_call_per_chain()
    {
        var generator = new Generator(17);
        using var scope = NewDisposeScope();
        var logp = nn.functional.log_softmax(randn([3, 200, 5], generator: generator).mul(HeldScalars.Two), 2);
        var labels = randint(0, 5, [200], generator: generator);

        var calibrations = Calibration.ComputePerChain(logp, labels);
        var briers = Brier.ComputePerChain(logp, labels);

        Assert.Equal(3, calibrations.Length);
        Assert.Equal(3, briers.Length);
        for (var k = 0; k < 3; k++)
        {
            var single = Calibration.Compute(logp[k], labels);
            Assert.Equal(single.Ece, calibrations[k].Ece);
            Assert.Equal(single.Mce, calibrations[k].Mce);
            Assert.Equal(single.Bins, calibrations[k].Bins);
            Assert.Equal(Brier.Compute(logp[k], labels), briers[k]);
        }
        // The chains differ, so a mix-up of chains would show.
        Assert.NotEqual(calibrations[0].Ece, calibrations[1].Ece);
        Assert.NotEqual(briers[0], briers[2]);
    }

    [Fact]
    public void Brier_score_matches_known_values()
    {
        using var scope = NewDisposeScope();
        // One-hot and right: every term is 0.
        var oneHot = tensor(new[] { 1.0, 0, 0, 0, 1, 0 }, [2, 3], ScalarType.Float64).log();
        Assert.Equal(0.0, Brier.Compute(oneHot, tensor(new long[] { 0, 1 })), Tight);
        // One-hot and wrong: (1 − 0)² + (0 − 1)² = 2.
        Assert.Equal(2.0, Brier.Compute(oneHot, tensor(new long[] { 1, 0 })), Tight);
        // Uniform over C = 4: (1 − ¼)² + 3·(¼)² = 12/16 = (C − 1)/C, whatever the label.
        var uniform = full([5, 4], HeldScalars.Of(Math.Log(0.25)), ScalarType.Float64);
        Assert.Equal(0.75, Brier.Compute(uniform, tensor(new long[] { 0, 1, 2, 3, 3 })), Tight);
        // p̄ = [0.7, 0.2, 0.1]: label 0 gives 0.09 + 0.04 + 0.01 = 0.14, label 1 gives 0.49 + 0.64 + 0.01 = 1.14; mean 0.64.
        var skewed = tensor(new[] { 0.7, 0.2, 0.1, 0.7, 0.2, 0.1 }, [2, 3], ScalarType.Float64).log();
        Assert.Equal(0.64, Brier.Compute(skewed, tensor(new long[] { 0, 1 })), Tight);
    }

    [Fact]
    public void Bad_confidences_and_labels_are_rejected()
    {
        foreach (var bad in new[] { -0.1, 1.0000001, double.NaN, double.PositiveInfinity })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.Compute([0.5, bad], [true, false]));
            Assert.Contains("[0, 1]", error.Message);
        }
        Assert.Throws<ArgumentException>(() => Calibration.Compute([0.5, 0.6], [true]));
        Assert.Throws<ArgumentException>(() => Calibration.Compute([], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.Compute([0.5], [true], bins: 0));

        using var scope = NewDisposeScope();
        // log Σ_s p_s of two draws without the − log 2: probabilities sum to 2, confidence above 1.
        var logSum = tensor(new[] { 0.9, 0.1, 0.3, 0.7 }, [2, 2], ScalarType.Float64).log().add(HeldScalars.Of(Math.Log(2)), HeldScalars.One);
        var labels = tensor(new long[] { 0, 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.Compute(logSum, labels));
        var logp = logSum.sub(HeldScalars.Of(Math.Log(2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.Compute(logp, tensor(new long[] { 0, 2 })));
        Assert.Throws<ArgumentOutOfRangeException>(() => Brier.Compute(logp, tensor(new long[] { -1, 0 })));
        Assert.Throws<ArgumentException>(() => Brier.Compute(logp, tensor(new long[] { 0, 1, 1 })));
        Assert.Throws<ArgumentException>(() => Calibration.Compute(logp.unsqueeze(0), labels));
        Assert.Throws<ArgumentException>(() => Calibration.ComputePerChain(logp, labels));
    }

    [Fact]
    public void Reliability_figure_is_written_as_png_and_svg_with_ece_text()
    {
        using var temp = new TempFolder();
        var (confidence, correct) = Predictions((0.9, 10, 6), (0.5, 10, 4));
        var overConfident = Calibration.Compute(confidence, correct);
        var (c2, r2) = Predictions((0.98, 12_345, 12_000), (0.75, 700, 500), (0.35, 40, 12), (1.0, 3, 3));
        var sharp = Calibration.Compute(c2, r2);
        var figure = new ReliabilityFigure("Reliability of the BMA (test split)")
            .Add("standard", overConfident)
            .Add("W-Asym", sharp)
            .Add("σ-Asym", sharp);

        var files = figure.Save(temp.Combine("figures", "reliability"));

        Assert.True(File.Exists(files.Png) && File.Exists(files.Svg));
        var png = File.ReadAllBytes(files.Png);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal(figure.Size, (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)),
            System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20))));
        var texts = XDocument.Load(files.Svg).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToArray();
        Assert.Contains(texts, t => t.Contains("ECE 0.2000"));
        Assert.Contains(texts, t => t.Contains("MCE 0.3000"));
        foreach (var label in new[] { "Reliability of the BMA (test split)", "standard", "W-Asym", "σ-Asym", "12k", "700", "accuracy", "count" })
            Assert.Contains(texts, t => t.Contains(label));
        Assert.Throws<ArgumentException>(() => figure.Add("standard", overConfident));
        Assert.Throws<InvalidOperationException>(() => new ReliabilityFigure("empty").Save(temp.Combine("never")));
    }
}
