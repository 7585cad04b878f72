using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// θ as a network's layers read it: the flat [K, P] tensor, sliced per segment of the <see cref="ParameterLayout"/>, or
/// one [K, count] tensor per segment. The second form is how the gradient path runs (<see cref="Segmented"/>): each
/// segment is its own autograd leaf whose gradient is written straight into its slice of one flat [K, P] buffer. With a
/// single leaf θ, autograd would give every slice's backward a zero-filled [K, P] tensor and then add those up, which
/// cost more than the rest of the backward pass on the paper's MLP.
/// </summary>
public sealed class Theta
{
    private readonly Dictionary<ParameterSegment, Tensor>? _segments; // by segment (an empty segment shares its offset)

    private Theta(Tensor flat, Dictionary<ParameterSegment, Tensor>? segments)
    {
        Flat = flat;
        _segments = segments;
    }

    /// <summary>θ [K, P]; with <see cref="Segmented"/>, the values the leaves were cut from (not part of the graph).</summary>
    public Tensor Flat { get; }

    public long[] shape => Flat.shape;
    public long dim() => Flat.dim();

    /// <summary>The [K, count] tensor of one segment.</summary>
    public Tensor Of(ParameterSegment segment) =>
        _segments is not null ? _segments[segment] : Flat.narrow(1, segment.Offset, segment.Count);

    public static implicit operator Theta(Tensor flat) => new(flat, null);

    /// <summary>
    /// θ as one autograd leaf per segment of <paramref name="layout"/>, each leaf's gradient preset to its slice of
    /// <paramref name="gradient"/> ([K, P], zero on entry), so that backward accumulates every segment's gradient in
    /// place into that one buffer. The leaves share θ's memory and live in the caller's dispose scope.
    /// </summary>
    public static Theta Segmented(Tensor position, ParameterLayout layout, Tensor gradient)
    {
        var segments = new Dictionary<ParameterSegment, Tensor>(layout.Segments.Count, ReferenceEqualityComparer.Instance);
        foreach (var s in layout.Segments)
        {
            var leaf = position.narrow(1, s.Offset, s.Count).detach().requires_grad_(true);
            leaf.grad = gradient.narrow(1, s.Offset, s.Count);
            segments[s] = leaf;
        }
        return new Theta(position, segments);
    }
}
