using TorchSharp;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Workbench.Tests.Architectures;

public class LinearAssignmentTests
{
    internal static IEnumerable<int[]> Permutations(int n)
    {
        var p = Enumerable.Range(0, n).ToArray();
        return Permute(p, 0);

        static IEnumerable<int[]> Permute(int[] p, int k)
        {
            if (k == p.Length) { yield return (int[])p.Clone(); yield break; }
            for (int i = k; i < p.Length; i++)
            {
                (p[k], p[i]) = (p[i], p[k]);
                foreach (var q in Permute(p, k + 1)) yield return q;
                (p[k], p[i]) = (p[i], p[k]);
            }
        }
    }

    private static double BruteForce(double[,] m, bool maximise)
    {
        int n = m.GetLength(0);
        var totals = Permutations(n).Select(p => LinearAssignment.Total(m, p));
        return maximise ? totals.Max() : totals.Min();
    }

    private static void AssertIsPermutation(int[] assignment, int n)
    {
        Assert.Equal(n, assignment.Length);
        Assert.Equal(Enumerable.Range(0, n), assignment.OrderBy(j => j));
    }

    /// <param name="levels">0: continuous entries in [−10, 10]; k &gt; 0: integers in [−k, k], so many ties.</param>
    private static double[,] RandomMatrix(int n, int seed, int levels)
    {
        var random = new Random(seed);
        var m = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                m[i, j] = levels == 0 ? 20 * random.NextDouble() - 10 : random.Next(-levels, levels + 1);
        return m;
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 0)]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 3)]
    [InlineData(false, 3)]
    public void Linear_assignment_matches_brute_force_on_random_matrices(bool maximise, int levels)
    {
        for (int n = 1; n <= 7; n++)
            for (int seed = 0; seed < 6; seed++)
            {
                var m = RandomMatrix(n, 1000 * n + seed, levels);
                var assignment = LinearAssignment.Solve(m, maximise);
                AssertIsPermutation(assignment, n);
                double best = BruteForce(m, maximise);
                Assert.True(Math.Abs(LinearAssignment.Total(m, assignment) - best) < 1e-9,
                    $"n={n} seed={seed} maximise={maximise} levels={levels}: solver total {LinearAssignment.Total(m, assignment)}, brute force {best}");
            }
    }

    [Fact]
    public void Linear_assignment_solves_known_cases()
    {
        // The six totals by hand: (0,1,2) 6, (0,2,1) 11, (1,0,2) 5, (1,2,0) 9, (2,0,1) 7, (2,1,0) 6: unique minimum and maximum.
        double[,] m = { { 4, 1, 3 }, { 2, 0, 5 }, { 3, 2, 2 } };
        Assert.Equal([1, 0, 2], LinearAssignment.Solve(m, maximise: false));
        Assert.Equal([0, 2, 1], LinearAssignment.Solve(m, maximise: true));

        // A permutation matrix scored for maximum is matched by that permutation, whatever the sign of the rest.
        int[] target = [3, 0, 4, 1, 2];
        var score = new double[5, 5];
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) score[i, j] = j == target[i] ? 1 : -7;
        Assert.Equal(target, LinearAssignment.Solve(score, maximise: true));

        // All ties: any permutation is optimal; the result must still be one.
        var flat = new double[4, 4];
        AssertIsPermutation(LinearAssignment.Solve(flat, maximise: true), 4);
        Assert.Empty(LinearAssignment.Solve(new double[0, 0], maximise: false));
    }

    [Fact]
    public void Linear_assignment_refuses_non_square_or_non_finite_matrices()
    {
        Assert.Throws<ArgumentException>(() => LinearAssignment.Solve(new double[2, 3], maximise: true));
        Assert.Throws<ArgumentException>(() => LinearAssignment.Solve(new double[,] { { 0, double.NaN }, { 1, 2 } }, maximise: true));
    }
}

public class WeightMatchingTests(ITestOutputHelper output)
{
    private static Mlp Net(Variant variant, bool layerNorm) => new(new MlpSpec("wm", 10, [16, 12, 14], 5, layerNorm,
        Activation.Relu, variant, [new WAsymSetting(3, 1.0)], 1.0, 7));

    private static long[] Shuffled(int n, int seed)
    {
        var random = new Random(seed);
        var p = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        random.Shuffle(p);
        return p;
    }

    /// <summary>LayerNorm affines start at (1, 0); move them so matching has to use them like any other weight.
    /// <paramref name="biasNoise"/> &gt; 0 also makes biases large enough to decide assignments on their own.</summary>
    private static Tensor Initial(Mlp net, ulong seed, double biasNoise = 0)
    {
        using var g = new Generator(seed);
        var theta = net.InitialPosition(g);
        using var noise = randn([net.Layout.Count], generator: g);
        foreach (var s in net.Layout.Segments.Where(s => s.Name.StartsWith("ln")))
            theta.narrow(0, s.Offset, s.Count).add_(noise.narrow(0, s.Offset, s.Count), alpha: HeldScalars.Of(1.0));
        if (biasNoise > 0)
            foreach (var s in net.Layout.Segments.Where(s => s.Name.StartsWith("fc") && s.Name.EndsWith(".bias")))
                theta.narrow(0, s.Offset, s.Count).add_(noise.narrow(0, s.Offset, s.Count), alpha: HeldScalars.Of(biasNoise));
        return theta;
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 3)]
    [InlineData(true, 4)]
    public void Weight_matching_recovers_a_permuted_copy_exactly(bool layerNorm, int seed)
    {
        using var net = Net(Variant.Standard, layerNorm);
        using var thetaA = Initial(net, (ulong)seed);
        var applied = net.Spec.Hidden.Select((w, l) => Shuffled(w, 100 * seed + l)).ToArray();
        var thetaB = thetaA.clone();
        for (int l = 0; l < applied.Length; l++) { var next = HiddenUnitPermutation.Apply(net, thetaB, l, applied[l]); thetaB.Dispose(); thetaB = next; }
        Assert.True(WeightMatching.Distance(thetaA, thetaB) > 1e-4, "the applied permutations should move θ");

        var (aligned, found, sweeps) = WeightMatching.Align(net, thetaA, thetaB, seed: 9);
        using (aligned)
        {
            Assert.Equal(0.0, WeightMatching.Distance(thetaA, aligned));
            Assert.True(aligned.eq(thetaA).all().item<bool>(), "aligned θ_B must equal θ_A bit for bit");
            for (int l = 0; l < applied.Length; l++)
                for (int i = 0; i < applied[l].Length; i++)
                    Assert.Equal(i, applied[l][found[l][i]]); // found ∘ applied = identity: found inverts applied
            Assert.InRange(sweeps, 1, WeightMatching.MaxSweeps);
            output.WriteLine($"layerNorm={layerNorm} seed={seed}: sweeps={sweeps}, distance before {WeightMatching.Distance(thetaA, thetaB):G4}, after {WeightMatching.Distance(thetaA, aligned):G4}");
            using var g = new Generator(5);
            using var x = randn([1, 32, 10], generator: g);
            using var original = net.Forward(thetaA.unsqueeze(0), x);
            using var matched = net.Forward(aligned.unsqueeze(0), x);
            Assert.True(original.eq(matched).all().item<bool>(), "the recovered network computes what the original does");
        }
        thetaB.Dispose();
    }

    [Theory]
    [InlineData(false, 11)]
    [InlineData(true, 12)]
    public void Weight_matching_independent_networks_raises_inner_product_and_keeps_function(bool layerNorm, int seed)
    {
        using var net = Net(Variant.Standard, layerNorm);
        using var thetaA = Initial(net, (ulong)seed);
        using var thetaB = Initial(net, (ulong)seed + 1000);
        using var g = new Generator(3);
        using var x = randn([48, 10], generator: g);

        var (aligned, found, sweeps) = WeightMatching.Align(net, thetaA, thetaB, seed: 1, checkInputs: x);
        using (aligned)
        {
            double identity = thetaA.to(ScalarType.Float64).dot(thetaB.to(ScalarType.Float64)).item<double>();
            double matched = thetaA.to(ScalarType.Float64).dot(aligned.to(ScalarType.Float64)).item<double>();
            output.WriteLine($"layerNorm={layerNorm}: Σ⟨θ_A, θ_B⟩ {identity:G6} → Σ⟨θ_A, π(θ_B)⟩ {matched:G6}, distance {WeightMatching.Distance(thetaA, thetaB):G4} → {WeightMatching.Distance(thetaA, aligned):G4}, sweeps={sweeps}");
            Assert.True(matched > identity, $"Σ⟨θ_A, π(θ_B)⟩ = {matched} should exceed the unaligned {identity}");
            Assert.True(WeightMatching.Distance(thetaA, aligned) < WeightMatching.Distance(thetaA, thetaB), "alignment should bring B closer to A");
            Assert.Contains(found, p => !p.SequenceEqual(Enumerable.Range(0, p.Length).Select(i => (long)i)));
            Assert.InRange(sweeps, 2, WeightMatching.MaxSweeps);
            using var before = net.Forward(thetaB.unsqueeze(0), x.unsqueeze(0));
            using var after = net.Forward(aligned.unsqueeze(0), x.unsqueeze(0));
            Assert.True(before.allclose(after, rtol: 1e-5, atol: 1e-5), "π(θ_B) must compute what θ_B computes");

            // The same seed gives the same result.
            var (again, foundAgain, _) = WeightMatching.Align(net, thetaA, thetaB, seed: 1);
            using (again) Assert.True(again.eq(aligned).all().item<bool>());
            Assert.Equal(found, foundAgain);
        }
    }

    [Theory]
    [InlineData(Variant.WAsym, "w-asym")]
    [InlineData(Variant.SigmaAsym, "sigma-asym")]
    public void Weight_matching_refuses_symmetry_reduced_networks(Variant variant, string name)
    {
        using var net = Net(variant, layerNorm: true);
        using var g = new Generator(1);
        using var a = net.InitialPosition(g);
        using var b = net.InitialPosition(g);
        var error = Assert.Throws<ArgumentException>(() => WeightMatching.Align(net, a, b, seed: 1));
        Assert.Contains(name, error.Message);
        Assert.Contains("standard", error.Message);
    }

    /// <summary>
    /// Every term of the objective counts: at the end no single layer's permutation — all of them, by brute force —
    /// raises Σ⟨θ_A, π(θ_B)⟩. With one hidden layer that is the global optimum.
    /// </summary>
    [Theory]
    [InlineData(false, new[] { 6 })]
    [InlineData(true, new[] { 6 })]
    [InlineData(true, new[] { 5, 6 })]
    [InlineData(false, new[] { 6, 5, 4 })]
    public void Weight_matching_ends_where_no_single_layer_permutation_improves(bool layerNorm, int[] hidden)
    {
        using var net = new Mlp(new MlpSpec("tiny", 4, hidden, 3, layerNorm, Activation.Gelu, Variant.Standard, [new WAsymSetting(1, 1.0)], 1.0, 1));
        using var thetaA = Initial(net, 21, biasNoise: 1.0);
        using var thetaB = Initial(net, 22, biasNoise: 1.0);
        var (aligned, _, sweeps) = WeightMatching.Align(net, thetaA, thetaB, seed: 3);
        using var a = thetaA.to(ScalarType.Float64);
        using (aligned)
        {
            double matched = a.dot(aligned.to(ScalarType.Float64)).item<double>();
            double best = double.NegativeInfinity;
            for (int l = 0; l < hidden.Length; l++)
                foreach (var q in LinearAssignmentTests.Permutations(hidden[l]))
                {
                    using var moved = HiddenUnitPermutation.Apply(net, aligned, l, q.Select(i => (long)i).ToArray());
                    best = Math.Max(best, a.dot(moved.to(ScalarType.Float64)).item<double>());
                }
            output.WriteLine($"hidden=[{string.Join(",", hidden)}] layerNorm={layerNorm}: Σ⟨θ_A, π(θ_B)⟩ {matched:G10}, best one-layer move {best:G10}, sweeps={sweeps}");
            Assert.True(best <= matched + 1e-9, $"a single-layer permutation reaches {best}, above the matched {matched}");
        }
    }

    [Fact]
    public void Function_check_passes_for_symmetries_and_fails_when_a_permutation_changes_the_function()
    {
        using var g = new Generator(2);
        using var x = randn([32, 10], generator: g);
        foreach (var variant in new[] { Variant.Standard, Variant.WAsym })
        {
            using var net = Net(variant, layerNorm: true);
            using var theta = net.InitialPosition(g);
            using var permuted = HiddenUnitPermutation.Apply(net, theta, 1, Shuffled(12, 4));
            if (variant == Variant.Standard) WeightMatching.AssertSameFunction(net, theta, permuted, x);
            else
            {
                var error = Assert.Throws<InvalidOperationException>(() => WeightMatching.AssertSameFunction(net, theta, permuted, x));
                Assert.Contains("different function", error.Message);
            }
        }
    }

    [Fact]
    public void Weight_matching_distance_is_norm_per_trainable_parameter()
    {
        using var a = zeros(4);
        using var b = tensor(new float[] { 3, 0, 4, 0 });
        Assert.Equal(5.0 / 4, WeightMatching.Distance(a, b), 12);
    }
}
