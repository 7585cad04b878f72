using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// Git Re-Basin weight matching (METHODS: Mode connectivity and merging → Weight matching): find one permutation of
/// each permutation group of network B (an MLP's hidden layers, a convnet's channel groups) that maximises
/// Σ ⟨θ_A, π(θ_B)⟩, by coordinate ascent over groups, each step an exact linear assignment with the other groups'
/// permutations held fixed. Through a ResNet's residual connections a stage's stream is one group, so the blocks
/// and shortcuts that share it are matched together.
/// </summary>
public static class WeightMatching
{
    /// <summary>Stop after this many sweeps over all groups even if a group still improves (METHODS).</summary>
    public const int MaxSweeps = 100;

    /// <summary>A group's new assignment is taken only when it raises that group's similarity by more than this; a
    /// sweep in which no group does so ends the search (METHODS).</summary>
    public const double MinImprovement = 1e-12;

    /// <summary>
    /// Aligns <paramref name="thetaB"/> to <paramref name="thetaA"/> (both [P]) for a standard network.
    /// Returns π(θ_B) [P], the permutations in the order of <see cref="IPermutationSymmetric.PermutationGroups"/>
    /// (Permutations[g][i] = unit of B's group g that becomes unit i, the convention of
    /// <see cref="PermutationSymmetry.Apply"/>), and the number of sweeps run. Groups are visited in an order shuffled
    /// by <paramref name="seed"/> each sweep. Afterwards f_{π(B)}(x) = f_B(x) is checked on
    /// <paramref name="checkInputs"/> ([B, …sample shape], one chain) or on 64 standard-normal inputs drawn from
    /// <paramref name="seed"/>; an <see cref="InvalidOperationException"/> says so if it does not hold.
    /// </summary>
    public static (Tensor AlignedB, long[][] Permutations, int Sweeps) Align(IPermutationSymmetric network, Tensor thetaA, Tensor thetaB, ulong seed, Tensor? checkInputs = null)
    {
        if (network.Variant != Variant.Standard)
            throw new ArgumentException($"weight matching aligns permutations of units and channels, which are symmetries only of standard networks; " +
                $"{network.Name} is {network.Variant.ToName()}, where permuting them changes the function (PAPER 1.1–1.2). Compare such networks unaligned.", nameof(network));
        long count = network.Layout.Count;
        if (thetaA.dim() != 1 || thetaA.shape[0] != count || thetaB.dim() != 1 || thetaB.shape[0] != count)
            throw new ArgumentException($"{network.Name}: θ_A and θ_B must both be [{count}], got [{string.Join(",", thetaA.shape)}] and [{string.Join(",", thetaB.shape)}]");

        var groups = network.PermutationGroups;
        var memberships = Memberships(network);
        var permutations = groups.Select(g => Enumerable.Range(0, g.Size).ToArray()).ToArray();

        int sweeps = 0;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            // Similarities in float64 on the CPU, so ties and the 1e−12 stop rule are not swamped by float32 rounding.
            var a = thetaA.detach().to(ScalarType.Float64, CPU);
            var b = thetaB.detach().to(ScalarType.Float64, CPU);
            var order = Enumerable.Range(0, groups.Count).ToArray();
            var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
            var neighbours = Neighbours(groups.Count, memberships);
            // A group's similarity depends only on the permutations of the groups it shares a tensor with. When none of
            // them changed since the group was last solved, solving it again would give the same matrix, the same
            // assignment and no gain, so it is skipped: the same result in fewer assignments.
            long changes = 0;
            var changedAt = new long[groups.Count];               // the change count when group g last changed (0: never)
            var solvedAt = Enumerable.Repeat(-1L, groups.Count).ToArray(); // the change count when group g was last solved
            bool improved = true;
            while (improved && sweeps < MaxSweeps)
            {
                improved = false;
                sweeps++;
                random.Shuffle(order);
                foreach (int g in order)
                {
                    if (solvedAt[g] >= 0 && neighbours[g].All(o => changedAt[o] <= solvedAt[g])) continue;
                    var similarity = Similarity(groups, memberships, a, b, permutations, g);
                    var candidate = LinearAssignment.Solve(similarity, maximise: true);
                    double gain = LinearAssignment.Total(similarity, candidate) - LinearAssignment.Total(similarity, permutations[g]);
                    if (gain > MinImprovement) { permutations[g] = candidate; improved = true; changedAt[g] = ++changes; }
                    solvedAt[g] = changes;
                }
            }
        }

        var result = permutations.Select(p => p.Select(i => (long)i).ToArray()).ToArray();
        var aligned = PermutationSymmetry.ApplyAll(network, thetaB, result);
        CheckSameFunction(network, thetaB, aligned, seed, checkInputs);
        return (aligned, result, sweeps);
    }

    /// <summary>Per group, the other groups that index an axis of a tensor it indexes: those whose permutations enter its
    /// similarity matrix.</summary>
    private static int[][] Neighbours(int count, Dictionary<string, List<(int Group, int Dim)>> memberships)
    {
        var sets = Enumerable.Range(0, count).Select(_ => new HashSet<int>()).ToArray();
        foreach (var members in memberships.Values)
            foreach (var (g, _) in members)
                foreach (var (other, _) in members)
                    if (other != g) sets[g].Add(other);
        return sets.Select(s => s.Order().ToArray()).ToArray();
    }

    /// <summary>For each segment that a group touches: which groups index which of its axes. A tensor indexed by the
    /// same group on two axes is not a permutation symmetry this matcher can solve one group at a time.</summary>
    private static Dictionary<string, List<(int Group, int Dim)>> Memberships(IPermutationSymmetric network)
    {
        var result = new Dictionary<string, List<(int, int)>>();
        var groups = network.PermutationGroups;
        for (int g = 0; g < groups.Count; g++)
            foreach (var m in groups[g].Members)
            {
                if (!result.TryGetValue(m.Segment.Name, out var list)) result[m.Segment.Name] = list = new();
                if (list.Any(e => e.Item1 == g))
                    throw new InvalidOperationException($"{network.Name}: group '{groups[g].Name}' indexes two axes of {m.Segment.Name}");
                list.Add((g, m.Dim));
            }
        return result;
    }

    /// <summary>
    /// S[i, j] = similarity of A's unit i and B's unit j in group <paramref name="group"/>, with B's other groups
    /// already permuted: the inner product of the slices at i (in A) and j (in B) of every tensor axis the group
    /// indexes. Σ_i S[i, π(i)] is the part of ⟨θ_A, π(θ_B)⟩ that depends on this group's permutation.
    /// </summary>
    private static double[,] Similarity(IReadOnlyList<PermutationGroup> groups, Dictionary<string, List<(int Group, int Dim)>> memberships,
        Tensor a, Tensor b, int[][] permutations, int group)
    {
        using var scope = NewDisposeScope();
        int size = groups[group].Size;
        // TorchSharp passes an implicit Scalar (alpha = 1 of `a + b`) to native code without keeping it alive, so under
        // GC pressure it can be finalized mid-call ("Expected false to be true ... toDouble"); hold one explicitly.
        using var one = 1.0.ToScalar();
        var s = zeros(size, size, ScalarType.Float64);
        foreach (var member in groups[group].Members)
        {
            var segment = member.Segment;
            var fullB = Full(b, segment);
            foreach (var (other, dim) in memberships[segment.Name])
                if (other != group) fullB = fullB.index_select(dim, Index(permutations[other]));
            var rowsA = Full(a, segment).transpose(member.Dim, 0).reshape(size, -1);
            var rowsB = fullB.transpose(member.Dim, 0).reshape(size, -1);
            s.add_(rowsA.matmul(rowsB.t()), one);
        }
        GC.KeepAlive(one);

        var values = s.contiguous().data<double>().ToArray();
        var matrix = new double[size, size];
        Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(double));
        return matrix;
    }

    private static Tensor Full(Tensor theta, ParameterSegment segment) =>
        segment.TrainableIndex is null
            ? theta.narrow(0, segment.Offset, segment.Count).view(segment.Shape)
            : throw new InvalidOperationException($"{segment.Name} has fixed entries; weight matching needs a standard network");

    /// <summary>‖θ_A − θ_B‖ / #trainable (PAPER 2.1).</summary>
    public static double Distance(Tensor thetaA, Tensor thetaB)
    {
        if (!thetaA.shape.SequenceEqual(thetaB.shape))
            throw new ArgumentException($"θ_A and θ_B must have the same shape, got [{string.Join(",", thetaA.shape)}] and [{string.Join(",", thetaB.shape)}]");
        using var scope = NewDisposeScope();
        var difference = thetaA.detach().to(ScalarType.Float64) - thetaB.detach().to(ScalarType.Float64, thetaA.device);
        return difference.norm().item<double>() / thetaA.numel();
    }

    private static Tensor Index(int[] permutation) => tensor(permutation.Select(i => (long)i).ToArray());

    /// <summary>
    /// METHODS: assert f_{π(B)}(x) = f_B(x) on a batch. <paramref name="inputs"/> is [B, …sample shape] for one chain;
    /// outputs must agree within float32 rounding of reordered sums, 10⁻⁴·(1 + max |f_B|), else an
    /// <see cref="InvalidOperationException"/> names the gap.
    /// </summary>
    public static void AssertSameFunction(INetwork network, Tensor theta, Tensor permutedTheta, Tensor inputs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var before = network.Forward(theta.detach().unsqueeze(0), inputs.unsqueeze(0));
        var after = network.Forward(permutedTheta.detach().unsqueeze(0), inputs.unsqueeze(0));
        double gap = (before - after).abs().max().to(ScalarType.Float64).item<double>();
        double scale = before.abs().max().to(ScalarType.Float64).item<double>();
        if (!(gap <= 1e-4 * (1 + scale)))
            throw new InvalidOperationException($"{network.Name}: the permuted parameters compute a different function: max |f_π(B)(x) − f_B(x)| = {gap:G3} " +
                $"on {inputs.shape[0]} inputs (max |f_B| = {scale:G3}); the permutation is not a symmetry of this network");
    }

    private static void CheckSameFunction(IPermutationSymmetric network, Tensor thetaB, Tensor alignedB, ulong seed, Tensor? checkInputs)
    {
        if (checkInputs is not null) { AssertSameFunction(network, thetaB, alignedB, checkInputs); return; }
        using var scope = NewDisposeScope();
        using var generator = new Generator(seed);
        var x = randn([64, .. network.InputShape], generator: generator).to(thetaB.dtype, thetaB.device);
        AssertSameFunction(network, thetaB, alignedB, x);
    }
}
