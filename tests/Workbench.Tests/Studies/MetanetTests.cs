using Workbench.Studies.Metanetworks;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using Workbench.Tests.Storage;
using static TorchSharp.torch;

namespace Workbench.Tests.Studies;

public sealed class MetanetTests
{
    [Fact]
    public void StatNN_features_of_a_known_tensor_match_numpy_rules()
    {
        // Sorted: 1 1 2 3 4 5 6 9. numpy: mean 3.875, var (ddof 0) 173/8 − 3.875² = 6.609375,
        // quantile (linear) at h = 7q: q25 → 1 + 0.75·1 = 1.75, median → 3 + 0.5·1 = 3.5, q75 → 5 + 0.25·1 = 5.25.
        float[] values = [3, 1, 4, 1, 5, 9, 2, 6];
        double[] expected = [3.875, 6.609375, 1, 1.75, 3.5, 5.25, 9];
        var features = StatNNFeatures.Of(values);
        Assert.Equal(expected.Length, features.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], features[i], 12);
        // A single value: every statistic is that value and the variance 0.
        Assert.Equal([2.5, 0, 2.5, 2.5, 2.5, 2.5, 2.5], StatNNFeatures.Of([2.5f]));
    }

    [Fact]
    public void StatNN_features_follow_the_layout_order_of_the_tensors()
    {
        float[] theta = [10, 3, 1, 4, 1, 5, 9, 2, 6, 20, 30];
        var layout = new List<ZooSegment> { new("b", [3], 8, 3), new("a", [2, 4], 0, 8) };
        var features = StatNNFeatures.Of(theta, layout);
        Assert.Equal(14, features.Length);
        // Tensor "b" = [6, 20, 30]: mean 56/3, min 6, median 20, max 30; tensor "a" = θ[0..8].
        Assert.Equal(56.0 / 3, features[0], 12);
        Assert.Equal(6, features[2]);
        Assert.Equal(20, features[4]);
        Assert.Equal(30, features[6]);
        Assert.Equal(StatNNFeatures.Of(theta.AsSpan(0, 8)), features[7..]);
        Assert.Throws<ArgumentException>(() => StatNNFeatures.Of(theta, [new ZooSegment("c", [5], 8, 5)]));
    }

    [Fact]
    public void R2_of_hand_computed_cases()
    {
        double[] y = [1, 2, 3, 4];
        // SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5; SS_res = 1 → 0.8.
        Assert.Equal(0.8, Determination.RSquared(y, [1, 2, 3, 5]), 12);
        Assert.Equal(1.0, Determination.RSquared(y, y), 12);
        Assert.Equal(0.0, Determination.RSquared(y, [2.5, 2.5, 2.5, 2.5]), 12);
        // Reversed: SS_res = 9 + 1 + 1 + 9 = 20 → 1 − 4 = −3.
        Assert.Equal(-3.0, Determination.RSquared(y, [4, 3, 2, 1]), 12);
    }

    [Fact]
    public void R2_is_undefined_not_a_number_when_every_target_is_equal()
    {
        Assert.True(double.IsNaN(Determination.RSquared([0.7, 0.7, 0.7], [0.7, 0.7, 0.7])));
        Assert.True(double.IsNaN(Determination.RSquared([0.7, 0.7, 0.7], [0.1, 0.5, 0.9])));
        Assert.False(Determination.IsDefined([0.7, 0.7]));
        Assert.False(Determination.IsDefined([0.7]));
        Assert.True(Determination.IsDefined([0.7, 0.8]));
        Assert.Throws<ArgumentException>(() => Determination.RSquared([1, 2], [1]));
    }

    [Fact]
    public void Kendall_tau_b_of_hand_computed_cases_with_ties()
    {
        // 6 pairs, one discordant (2,3): (5 − 1)/6.
        Assert.Equal(4.0 / 6, RankCorrelation.KendallTauB([1, 2, 3, 4], [1, 3, 2, 4]), 12);
        Assert.Equal(-1.0, RankCorrelation.KendallTauB([1, 2, 3, 4], [4, 3, 2, 1]), 12);
        // One pair tied in x, another tied in y: C = 4, D = 0, n₀ = 6, n₁ = n₂ = 1 → 4/√(5·5) = 0.8 (scipy.stats.kendalltau agrees).
        Assert.Equal(0.8, RankCorrelation.KendallTauB([1, 2, 2, 3], [1, 2, 3, 3]), 12);
        // A pair tied in both: C = 2, n₀ = 3, n₁ = n₂ = 1 → 2/√(2·2) = 1.
        Assert.Equal(1.0, RankCorrelation.KendallTauB([1, 1, 2], [1, 1, 2]), 12);
        // Ties in x only: x = 1 1 2 2, y = 1 2 3 4: C = 4, D = 0, n₁ = 2 → 4/√(4·6) = 0.8165.
        Assert.Equal(4 / Math.Sqrt(24), RankCorrelation.KendallTauB([1, 1, 2, 2], [1, 2, 3, 4]), 12);
        Assert.True(double.IsNaN(RankCorrelation.KendallTauB([1, 2, 3], [5, 5, 5])));
        Assert.True(double.IsNaN(RankCorrelation.KendallTauB([1], [1])));
    }

    [Fact]
    public void Kendall_tau_b_matches_a_brute_force_count_on_random_data_with_ties()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 20; trial++)
        {
            var x = Enumerable.Range(0, 30).Select(_ => (double)random.Next(5)).ToArray();
            var y = x.Select(v => v + random.Next(3)).ToArray();
            // τ-b as the Pearson correlation of the pairwise sign vectors, an independent formula.
            var sx = new List<double>();
            var sy = new List<double>();
            for (int i = 0; i < x.Length; i++)
                for (int j = 0; j < x.Length; j++)
                    if (i != j) { sx.Add(Math.Sign(x[i] - x[j])); sy.Add(Math.Sign(y[i] - y[j])); }
            double expected = sx.Zip(sy, (a, b) => a * b).Sum() / Math.Sqrt(sx.Sum(a => a * a) * sy.Sum(b => b * b));
            Assert.Equal(expected, RankCorrelation.KendallTauB(x, y), 10);
        }
    }

    [Theory]
    [InlineData(40, 20, 10, 10)]
    [InlineData(41, 20, 10, 11)]
    [InlineData(8, 4, 2, 2)]
    public void Split_is_50_25_25_disjoint_and_fixed_by_its_seed(int count, int train, int validation, int test)
    {
        var split = MetanetStudy.Split(count, 7);
        Assert.Equal((train, validation, test), (split.Train.Length, split.Validation.Length, split.Test.Length));
        Assert.Equal(Enumerable.Range(0, count), split.Train.Concat(split.Validation).Concat(split.Test).Order());
        var again = MetanetStudy.Split(count, 7);
        Assert.Equal(split.Train, again.Train);
        Assert.Equal(split.Test, again.Test);
        Assert.NotEqual(split.Train, MetanetStudy.Split(count, 8).Train);
    }

    [Fact]
    public void DeepSets_reads_every_weight_of_a_small_network_and_a_seeded_share_of_each_tensor_of_a_large_one()
    {
        var layout = new List<ZooSegment> { new("w", [100, 90], 0, 9000), new("b", [100], 9000, 100), new("v", [3], 9100, 3) };
        Assert.Equal(Enumerable.Range(0, 9103), MetanetFeatures.DeepSetsPositions(layout, 10000, 1));
        var positions = MetanetFeatures.DeepSetsPositions(layout, 1000, 1);
        Assert.Equal(positions.Distinct().Order(), positions);
        Assert.InRange(positions.Length, 990, 1010);
        Assert.Equal(989, positions.Count(p => p < 9000)); // round(1000 · 9000/9103)
        Assert.Equal(11, positions.Count(p => p is >= 9000 and < 9100));
        Assert.Equal(1, positions.Count(p => p >= 9100)); // every tensor keeps at least one entry
        Assert.Equal(positions, MetanetFeatures.DeepSetsPositions(layout, 1000, 1));
        Assert.NotEqual(positions, MetanetFeatures.DeepSetsPositions(layout, 1000, 2));
    }

    [Theory]
    [InlineData("mlp", new long[] { 40, 96 })]
    [InlineData("cnn1d", new long[] { 40, 1, 96 })]
    [InlineData("statnn", new long[] { 40, 21 })]
    [InlineData("deepsets", new long[] { 40, 96, 4 })]
    public void Features_have_each_metanets_shape_and_training_rows_are_standardised(string metanet, long[] shape)
    {
        var zoo = SyntheticZoo.Make(40, signal: true, seed: 1, "standard");
        var split = MetanetStudy.Split(40, 0);
        using var x = MetanetFeatures.Build(metanet, zoo.Members, zoo.Layouts["standard"], split.Train, 2048, 0);
        Assert.Equal(shape, x.shape);
        if (metanet is "mlp" or "statnn")
        {
            using var rows = x.index_select(0, tensor(split.Train.Select(i => (long)i).ToArray()));
            Assert.True(rows.mean([0]).abs().max().item<float>() < 1e-4);
            Assert.True((rows.std([0], unbiased: false) - HeldScalars.One).abs().max().item<float>() < 1e-3);
        }
    }

    private static MetanetOptions Tiny(string folder, int runs = 2, int epochs = 30) => new()
    {
        Runs = runs, Epochs = epochs, Hidden = 32, BatchSize = 16, LearningRate = 3e-3, Out = folder, Seed = 0,
    };

    [Fact]
    public void Same_seed_gives_the_same_predictions_and_another_seed_other_ones()
    {
        var zoo = SyntheticZoo.Make(40, signal: true, seed: 2, "standard");
        var members = zoo.Members;
        var o = Tiny("unused", epochs: 5);
        foreach (var metanet in MetanetKinds.All)
        {
            var split = MetanetStudy.Split(members.Count, 0);
            var (a, pa) = MetanetStudy.Evaluate(o, "standard", metanet, members, zoo.Layouts["standard"], split, 0, 0);
            var (b, pb) = MetanetStudy.Evaluate(o, "standard", metanet, members, zoo.Layouts["standard"], split, 0, 0);
            Assert.Equal(a, b);
            Assert.Equal(pa, pb);
            var (c, _) = MetanetStudy.Evaluate(o, "standard", metanet, members, zoo.Layouts["standard"], MetanetStudy.Split(members.Count, 1), 1, 1);
            Assert.NotEqual(a.R2, c.R2);
        }
    }

    private static List<MetanetScore> ScoresOn(ZooData zoo, int runs)
    {
        var o = Tiny("unused", epochs: 40);
        var members = zoo.Members;
        return [.. from metanet in MetanetKinds.All
                   from run in Enumerable.Range(0, runs)
                   select MetanetStudy.Evaluate(o, "standard", metanet, members, zoo.Layouts["standard"], MetanetStudy.Split(members.Count, (ulong)run), run, (ulong)run).Score];
    }

    [Fact]
    public void Every_metanet_learns_a_strong_signal_in_the_weights()
    {
        // SyntheticZoo: from the first tensor's mean alone an ideal predictor reaches R² ≈ 0.96 (signal variance 1/3
        // against a sampling variance 1/80 of the mean); measured 0.90–0.96 with 20 training networks and 40 epochs.
        // 0.7 leaves room for seeds, and is far above what no signal gives (next test).
        var scores = ScoresOn(SyntheticZoo.Make(40, signal: true, seed: 11, "standard"), runs: 2);
        Assert.All(scores, s => Assert.True(s.R2 > 0.7 && s.KendallTau > 0.6, $"{s.Metanet} run {s.Run}: R² {s.R2:F3}, τ {s.KendallTau:F3}"));
    }

    [Fact]
    public void No_metanet_finds_a_signal_where_there_is_none()
    {
        // Weights independent of accuracy: a fitted predictor's expected test R² is at most 0 (measured −0.8 … 0 per run).
        // A mean over two runs above 0.1 would mean the targets leak into the inputs or the split.
        var scores = ScoresOn(SyntheticZoo.Make(40, signal: false, seed: 11, "standard"), runs: 2);
        foreach (var metanet in scores.GroupBy(s => s.Metanet))
            Assert.True(metanet.Average(s => s.R2) < 0.1, $"{metanet.Key}: mean R² {metanet.Average(s => s.R2):F3} without a signal");
    }

    [Fact]
    public void Tiny_run_writes_tables_figures_summary_and_report()
    {
        using var temp = new TempFolder();
        string out_ = temp.Combine("metanet");
        var zoo = SyntheticZoo.Make(40, signal: true, seed: 3);
        var log = new StringWriter();
        var result = MetanetStudy.Execute(Tiny(out_, epochs: 10), zoo, log);
        Assert.Equal(2 * 4 * 2, result.Scores.Count);
        var scores = ParquetTable.Read(Path.Combine(out_, "metanet.parquet"));
        Assert.Equal(16, scores.RowCount);
        Assert.Equal(["standard", "w-asym"], scores.Column<string>("variant").Distinct().Order().ToArray());
        Assert.Equal(MetanetKinds.All.Order(), scores.Column<string>("metanet").Distinct().Order());
        Assert.All(scores.Column<int>("n_test"), n => Assert.Equal(10, n));
        Assert.Equal(result.Scores.Select(s => s.R2), scores.Column<double>("r2"));
        var predictions = ParquetTable.Read(Path.Combine(out_, "predictions.parquet"));
        Assert.Equal(16 * 10, predictions.RowCount);
        // The stored scores are the metrics of the stored predictions.
        var first = result.Scores[0];
        var rows = result.Predictions.Where(p => p.Variant == first.Variant && p.Metanet == first.Metanet && p.Run == first.Run).ToList();
        Assert.Equal(first.R2, Determination.RSquared(rows.Select(p => p.True).ToList(), rows.Select(p => p.Predicted).ToList()), 12);
        foreach (var variant in new[] { "standard", "w-asym" })
            foreach (var metanet in MetanetKinds.All)
            {
                Assert.True(File.Exists(Path.Combine(out_, $"scatter-{variant}-{metanet}.png")));
                Assert.True(File.Exists(Path.Combine(out_, $"scatter-{variant}-{metanet}.svg")));
            }
        Assert.Contains("| w-asym | StatNN |", File.ReadAllText(Path.Combine(out_, "summary.md")));
        var report = File.ReadAllText(result.ReportPath);
        Assert.Contains("Against the paper", report);
        Assert.Contains("the MLP metanet fails on standard networks", report);
        Assert.Contains("![scatter-standard-mlp](scatter-standard-mlp.png)", report);
        Assert.Equal(RunStatus.Finished, Manifest.Load(out_).Status);
    }

    [Fact]
    public void A_zoo_the_study_cannot_use_is_refused_before_any_folder_exists()
    {
        using var temp = new TempFolder();
        string out_ = temp.Combine("metanet");
        Assert.Throws<OptionException>(() => MetanetStudy.Execute(Tiny(out_), SyntheticZoo.Make(7, true, 1), TextWriter.Null));
        var zoo = SyntheticZoo.Make(10, true, 1);
        var noLayout = zoo with { Layouts = new Dictionary<string, IReadOnlyList<ZooSegment>> { ["standard"] = zoo.Layouts["standard"] } };
        Assert.Contains("no layout", Assert.Throws<OptionException>(() => MetanetStudy.Execute(Tiny(out_), noLayout, TextWriter.Null)).Message);
        Assert.Throws<ArgumentException>(() => MetanetStudy.Execute(Tiny(out_) with { Metanets = ["mlp", "gnn"] }, zoo, TextWriter.Null));
        Assert.False(Directory.Exists(out_));
    }
}
