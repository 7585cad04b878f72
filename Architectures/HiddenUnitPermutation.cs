using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// The permutation symmetry of an MLP's hidden layer: reorder the units of hidden layer ℓ — rows of its Linear
/// weight and bias, its LayerNorm affine, and columns of the next Linear weight. For a standard MLP this leaves
/// the function unchanged. For W-Asym it permutes only the trainable entries (the mask and F stay where they
/// are), and for σ-Asym FiGLU's fixed F is not permuted: both then change the function (PAPER 1.1–1.2).
/// </summary>
public static class HiddenUnitPermutation
{
    /// <param name="theta">flat trainable vector [P].</param>
    /// <param name="hiddenLayer">0-based index of the hidden layer (fc1 is 0).</param>
    /// <param name="permutation">new unit i takes old unit permutation[i].</param>
    public static Tensor Apply(Mlp mlp, Tensor theta, int hiddenLayer, long[] permutation)
    {
        int hidden = mlp.Spec.Hidden.Length;
        if (hiddenLayer < 0 || hiddenLayer >= hidden) throw new ArgumentOutOfRangeException(nameof(hiddenLayer), hiddenLayer, $"{mlp.Name} has {hidden} hidden layers");
        return PermutationSymmetry.Apply(mlp, theta, mlp.PermutationGroups[hiddenLayer].Name, permutation);
    }

    /// <summary>Permutes one segment along <paramref name="dim"/> of its full shape; fixed positions stay put.</summary>
    internal static void Permute(ParameterSegment segment, Tensor source, Tensor target, Tensor index, int dim)
    {
        var values = source.narrow(0, segment.Offset, segment.Count);
        long fullSize = segment.Shape.Aggregate(1L, (a, b) => a * b);
        Tensor full;
        Tensor? positions = null;
        if (segment.TrainableIndex is null)
        {
            full = values.view(segment.Shape);
        }
        else
        {
            positions = tensor(segment.TrainableIndex);
            full = zeros(fullSize, dtype: source.dtype).index_put_(values, positions).view(segment.Shape);
        }
        var permuted = full.index_select(dim, index).reshape(-1);
        var kept = positions is null ? permuted : permuted.index_select(0, positions);
        target.narrow(0, segment.Offset, segment.Count).copy_(kept);
    }
}
