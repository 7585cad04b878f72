using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// Git Re-Basin weight matching for MLPs (METHODS: Mode connectivity and merging → Weight matching): find one
/// permutation of each hidden layer's units of network B that maximises Σ ⟨θ_A, π(θ_B)⟩, by coordinate ascent over
/// layers, each step an exact linear assignment with the other layers' permutations held fixed.
/// </summary>
public static class WeightMatching
{
    /// <summary>Stop after this many sweeps over all layers even if a layer still improves (METHODS).</summary>
    public const int MaxSweeps = 100;

    /// <summary>A layer's new assignment is taken only when it raises that layer's similarity by more than this; a
    /// sweep in which no layer does so ends the search (METHODS).</summary>
    public const double MinImprovement = 1e-12;

    /// <summary>
    /// Aligns <paramref name="thetaB"/> to <paramref name="thetaA"/> (both [P]) for a standard MLP.
    /// Returns π(θ_B) [P], the permutations (Permutations[ℓ][i] = unit of B's hidden layer ℓ that becomes unit i, the
    /// convention of <see cref="HiddenUnitPermutation.Apply"/>), and the number of sweeps run. Layers are visited
    /// in an order shuffled by <paramref name="seed"/> each sweep. Afterwards f_{π(B)}(x) = f_B(x) is checked on
    /// <paramref name="checkInputs"/> ([B, …sample shape], one chain) or on 64 standard-normal inputs drawn from
    /// <paramref name="seed"/>; an <see cref="InvalidOperationException"/> says so if it does not hold.
    /// </summary>
    public static (Tensor AlignedB, long[][] Permutations, int Sweeps) Align(Mlp mlp, Tensor thetaA, Tensor thetaB, ulong seed, Tensor? checkInputs = null)
    {
        if (mlp.Variant != Variant.Standard)
            throw new ArgumentException($"weight matching aligns hidden-unit permutations, which are symmetries only of standard MLPs; " +
                $"{mlp.Name} is {mlp.Variant.ToName()}, where permuting units changes the function (PAPER 1.1–1.2). Compare such networks unaligned.", nameof(mlp));
        long count = mlp.Layout.Count;
        if (thetaA.dim() != 1 || thetaA.shape[0] != count || thetaB.dim() != 1 || thetaB.shape[0] != count)
            throw new ArgumentException($"{mlp.Name}: θ_A and θ_B must both be [{count}], got [{string.Join(",", thetaA.shape)}] and [{string.Join(",", thetaB.shape)}]");

        int layers = mlp.Spec.Hidden.Length;
        var permutations = new int[layers][];
        for (int l = 0; l < layers; l++) permutations[l] = Enumerable.Range(0, mlp.Spec.Hidden[l]).ToArray();

        int sweeps = 0;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            // Similarities in float64 on the CPU, so ties and the 1e−12 stop rule are not swamped by float32 rounding.
            var a = thetaA.detach().to(ScalarType.Float64, CPU);
            var b = thetaB.detach().to(ScalarType.Float64, CPU);
            var order = Enumerable.Range(0, layers).ToArray();
            var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
            bool improved = true;
            while (improved && sweeps < MaxSweeps)
            {
                improved = false;
                sweeps++;
                random.Shuffle(order);
                foreach (int l in order)
                {
                    var similarity = Similarity(mlp, a, b, permutations, l);
                    var candidate = LinearAssignment.Solve(similarity, maximise: true);
                    double gain = LinearAssignment.Total(similarity, candidate) - LinearAssignment.Total(similarity, permutations[l]);
                    if (gain > MinImprovement) { permutations[l] = candidate; improved = true; }
                }
            }
        }

        var result = permutations.Select(p => p.Select(i => (long)i).ToArray()).ToArray();
        var aligned = thetaB.detach().clone();
        for (int l = 0; l < layers; l++)
        {
            var next = HiddenUnitPermutation.Apply(mlp, aligned, l, result[l]);
            aligned.Dispose();
            aligned = next;
        }
        CheckSameFunction(mlp, thetaB, aligned, seed, checkInputs);
        return (aligned, result, sweeps);
    }

    /// <summary>‖θ_A − θ_B‖ / #trainable (PAPER 2.1).</summary>
    public static double Distance(Tensor thetaA, Tensor thetaB)
    {
        if (!thetaA.shape.SequenceEqual(thetaB.shape))
            throw new ArgumentException($"θ_A and θ_B must have the same shape, got [{string.Join(",", thetaA.shape)}] and [{string.Join(",", thetaB.shape)}]");
        using var scope = NewDisposeScope();
        var difference = thetaA.detach().to(ScalarType.Float64) - thetaB.detach().to(ScalarType.Float64, thetaA.device);
        return difference.norm().item<double>() / thetaA.numel();
    }

    /// <summary>
    /// S[i, j] = similarity of A's unit i and B's unit j in hidden layer <paramref name="layer"/>, with B's
    /// neighbouring layers already permuted: incoming weight rows, bias, LayerNorm γ and β, outgoing weight columns.
    /// Σ_i S[i, π(i)] is the part of ⟨θ_A, π(θ_B)⟩ that depends on this layer's permutation.
    /// </summary>
    private static double[,] Similarity(Mlp mlp, Tensor a, Tensor b, int[][] permutations, int layer)
    {
        using var scope = NewDisposeScope();
        int layers = permutations.Length, width = mlp.Spec.Hidden[layer];
        string linear = $"fc{layer + 1}", next = layer + 1 == layers ? "head" : $"fc{layer + 2}";

        // TorchSharp passes an implicit Scalar (alpha = 1 of `a + b`) to native code without keeping it alive, so under
        // GC pressure it can be finalized mid-call ("Expected false to be true ... toDouble"); hold one explicitly.
        using var one = 1.0.ToScalar();
        var incomingB = Segment(mlp, b, $"{linear}.weight");
        if (layer > 0) incomingB = incomingB.index_select(1, Index(permutations[layer - 1]));
        var s = Segment(mlp, a, $"{linear}.weight").matmul(incomingB.t());
        s.add_(outer(Segment(mlp, a, $"{linear}.bias"), Segment(mlp, b, $"{linear}.bias")), one);
        if (mlp.Spec.LayerNorm)
        {
            s.add_(outer(Segment(mlp, a, $"ln{layer + 1}.weight"), Segment(mlp, b, $"ln{layer + 1}.weight")), one);
            s.add_(outer(Segment(mlp, a, $"ln{layer + 1}.bias"), Segment(mlp, b, $"ln{layer + 1}.bias")), one);
        }
        var outgoingB = Segment(mlp, b, $"{next}.weight");
        if (layer + 1 < layers) outgoingB = outgoingB.index_select(0, Index(permutations[layer + 1]));
        s.add_(Segment(mlp, a, $"{next}.weight").t().matmul(outgoingB), one);
        GC.KeepAlive(one);

        var values = s.contiguous().data<double>().ToArray();
        var matrix = new double[width, width];
        Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(double));
        return matrix;
    }

    private static Tensor Segment(Mlp mlp, Tensor theta, string name)
    {
        var segment = mlp.Layout[name];
        return theta.narrow(0, segment.Offset, segment.Count).view(segment.Shape);
    }

    private static Tensor Index(int[] permutation) => tensor(permutation.Select(i => (long)i).ToArray());

    /// <summary>
    /// METHODS: assert f_{π(B)}(x) = f_B(x) on a batch. <paramref name="inputs"/> is [B, …sample shape] for one chain;
    /// outputs must agree within float32 rounding of reordered sums, 10⁻⁴·(1 + max |f_B|), else an
    /// <see cref="InvalidOperationException"/> names the gap.
    /// </summary>
    public static void AssertSameFunction(Mlp mlp, Tensor theta, Tensor permutedTheta, Tensor inputs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var before = mlp.Forward(theta.detach().unsqueeze(0), inputs.unsqueeze(0));
        var after = mlp.Forward(permutedTheta.detach().unsqueeze(0), inputs.unsqueeze(0));
        double gap = (before - after).abs().max().to(ScalarType.Float64).item<double>();
        double scale = before.abs().max().to(ScalarType.Float64).item<double>();
        if (!(gap <= 1e-4 * (1 + scale)))
            throw new InvalidOperationException($"{mlp.Name}: the permuted parameters compute a different function: max |f_π(B)(x) − f_B(x)| = {gap:G3} " +
                $"on {inputs.shape[0]} inputs (max |f_B| = {scale:G3}); the permutation is not a symmetry of this network");
    }

    private static void CheckSameFunction(Mlp mlp, Tensor thetaB, Tensor alignedB, ulong seed, Tensor? checkInputs)
    {
        if (checkInputs is not null) { AssertSameFunction(mlp, thetaB, alignedB, checkInputs); return; }
        using var scope = NewDisposeScope();
        using var generator = new Generator(seed);
        var x = randn([64, mlp.Spec.Inputs], generator: generator).to(thetaB.dtype, thetaB.device);
        AssertSameFunction(mlp, thetaB, alignedB, x);
    }
}
