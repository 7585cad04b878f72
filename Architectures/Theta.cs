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
    private readonly Tensor[]? _gradientBuffers;  // per segment, in layout order
    private readonly Tensor? _flatGradient;       // one chain: the buffer the segments' buffers are slices of
    private readonly Dictionary<ParameterSegment, (Tensor Leaf, int Buffer)>? _full; // embedded segments: the full-tensor leaf

    private Theta(Tensor flat, Dictionary<ParameterSegment, Tensor>? segments = null, Tensor[]? gradientBuffers = null,
        Tensor? flatGradient = null, Dictionary<ParameterSegment, (Tensor Leaf, int Buffer)>? full = null)
    {
        Flat = flat;
        _segments = segments;
        _gradientBuffers = gradientBuffers;
        _flatGradient = flatGradient;
        _full = full;
    }

    /// <summary>θ [K, P]; with <see cref="Segmented"/>, the values the leaves were cut from (not part of the graph).</summary>
    public Tensor Flat { get; }

    public long[] shape => Flat.shape;
    public long dim() => Flat.dim();

    /// <summary>The [K, count] tensor of one segment.</summary>
    public Tensor Of(ParameterSegment segment) =>
        _full is not null && _full.ContainsKey(segment)
            ? throw new InvalidOperationException($"segment {segment.Name} is an embedded gradient leaf; read it with Theta.Full")
            : _segments is not null ? _segments[segment] : Flat.narrow(1, segment.Offset, segment.Count);

    /// <summary>
    /// For a segment with a fixed fill (a W-Asym weight) of a <see cref="Segmented"/> θ on the CPU in float32: the full
    /// tensor [K, full] (stored entries and fixed values) as the segment's autograd leaf; null otherwise, and then the
    /// layer places <see cref="Of"/>'s entries itself.
    /// </summary>
    public Tensor? Full(ParameterSegment segment) => _full is not null && _full.TryGetValue(segment, out var entry) ? entry.Leaf : null;

    public static implicit operator Theta(Tensor flat) => new(flat);

    /// <summary>
    /// θ as one autograd leaf per segment of <paramref name="layout"/>, each leaf sharing θ's memory with its gradient
    /// preset to a zeroed buffer, so that backward accumulates every segment's gradient in place;
    /// <see cref="Gradient"/> then gives ∇θ [K, P]. With one chain the buffers are slices of that [1, P] tensor itself.
    /// With K chains a segment's [K, count] slice of θ has gaps between its rows, and autograd wants such a leaf's gradient
    /// contiguous (it warns otherwise), so each segment gets a contiguous buffer and <see cref="Gradient"/> joins them.
    /// A W-Asym weight segment's leaf is its full weight instead (<see cref="Full"/>, <see cref="SegmentEmbedding"/>),
    /// whose gradient <see cref="Gradient"/> gathers back into the segment's buffer.
    /// The tensors live in the caller's dispose scope.
    /// </summary>
    public static Theta Segmented(Tensor position, ParameterLayout layout)
    {
        long chains = position.shape[0];
        var segments = new Dictionary<ParameterSegment, Tensor>(layout.Segments.Count, ReferenceEqualityComparer.Instance);
        var flat = chains == 1 ? zeros_like(position) : null;
        var buffers = new Tensor[layout.Segments.Count];
        Dictionary<ParameterSegment, (Tensor Leaf, int Buffer)>? full = null;
        for (int i = 0; i < buffers.Length; i++)
        {
            var s = layout.Segments[i];
            buffers[i] = flat?.narrow(1, s.Offset, s.Count) ?? zeros([chains, s.Count], dtype: position.dtype, device: position.device);
            // An empty segment (a W-Asym weight fixed entirely) has no gradient: no leaf, so autograd has nothing to check.
            if (s.Count == 0) { segments[s] = position.narrow(1, s.Offset, 0); continue; }
            if (SegmentEmbedding.Applies(position, s))
            {
                full ??= new Dictionary<ParameterSegment, (Tensor Leaf, int Buffer)>(ReferenceEqualityComparer.Instance);
                full[s] = (SegmentEmbedding.Scatter(position, s).requires_grad_(true), i);
                continue;
            }
            var leaf = position.narrow(1, s.Offset, s.Count).detach().requires_grad_(true);
            leaf.grad = buffers[i];
            segments[s] = leaf;
        }
        return new Theta(position, segments, buffers, flat, full);
    }

    /// <summary>∇θ [K, P] after backward, for a θ made by <see cref="Segmented"/>.</summary>
    public Tensor Gradient()
    {
        if (_gradientBuffers is not { } buffers) throw new InvalidOperationException("θ was not split into gradient leaves (Theta.Segmented)");
        if (_full is not null)
            foreach (var (segment, (leaf, buffer)) in _full)
            {
                if (leaf.grad is not { } fullGradient) continue; // the loss did not read it: its buffer stays zero
                if (_flatGradient is not null) SegmentEmbedding.Gather(fullGradient, segment, _flatGradient, segment.Offset, Flat.shape[1]);
                else SegmentEmbedding.Gather(fullGradient, segment, buffers[buffer], 0, segment.Count);
            }
        return _flatGradient ?? cat(buffers, 1);
    }
}
