using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>One axis of one parameter tensor that a permutation group reorders (rows of a weight, a norm's γ, …).</summary>
public sealed record PermutationMember(ParameterSegment Segment, int Dim);

/// <summary>
/// Units that can be reordered together without changing a standard network's function: the hidden units of one
/// MLP layer, or the channels of one convolutional feature map (a ResNet's residual stream of a stage is one group,
/// shared by every block and shortcut that reads or writes it). <see cref="Members"/> lists every tensor axis the
/// group indexes; reordering all of them by the same permutation is the symmetry.
/// </summary>
public sealed record PermutationGroup(string Name, int Size, IReadOnlyList<PermutationMember> Members);

/// <summary>A network whose standard form has the permutation symmetries <see cref="PermutationGroups"/>.</summary>
public interface IPermutationSymmetric : INetwork
{
    /// <summary>The groups in a fixed order (input side first); weight matching reports permutations in this order.</summary>
    IReadOnlyList<PermutationGroup> PermutationGroups { get; }

    /// <summary>The shape of one input example: [features] or [channels, height, width].</summary>
    IReadOnlyList<long> InputShape { get; }
}

public static class PermutationSymmetry
{
    public static PermutationGroup Group(IPermutationSymmetric network, string name) =>
        network.PermutationGroups.FirstOrDefault(g => g.Name == name)
        ?? throw new ArgumentException($"{network.Name} has no permutation group '{name}' (it has {string.Join(", ", network.PermutationGroups.Select(g => g.Name))})");

    /// <summary>
    /// Reorders one group's units in θ [P] (new unit i takes old unit permutation[i]). For a standard network the
    /// function is unchanged. For W-Asym only the trainable entries move (the mask and F stay where they are), and
    /// σ-Asym's FiGLU F is not permuted: both then change the function (PAPER 1.1–1.2).
    /// </summary>
    public static Tensor Apply(IPermutationSymmetric network, Tensor theta, string group, long[] permutation)
    {
        var g = Group(network, group);
        if (permutation.Length != g.Size || permutation.Distinct().Count() != g.Size || permutation.Any(p => p < 0 || p >= g.Size))
            throw new ArgumentException($"not a permutation of the {g.Size} units of {network.Name}'s group '{g.Name}'");
        using var scope = NewDisposeScope();
        var result = theta.clone();
        using var index = tensor(permutation);
        foreach (var member in g.Members)
        {
            // Read the running result, so that a tensor reordered on two axes by two members composes.
            using var current = result.clone();
            HiddenUnitPermutation.Permute(member.Segment, current, result, index, member.Dim);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Applies one permutation per group, in group order (<paramref name="permutations"/>[i] for group i).</summary>
    public static Tensor ApplyAll(IPermutationSymmetric network, Tensor theta, IReadOnlyList<long[]> permutations)
    {
        var groups = network.PermutationGroups;
        if (permutations.Count != groups.Count)
            throw new ArgumentException($"{network.Name} has {groups.Count} permutation groups, got {permutations.Count} permutations");
        var result = theta.detach().clone();
        for (int i = 0; i < groups.Count; i++)
        {
            var next = Apply(network, result, groups[i].Name, permutations[i]);
            result.Dispose();
            result = next;
        }
        return result;
    }
}
