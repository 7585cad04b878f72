namespace Workbench.Architectures;

/// <summary>What a parameter segment is in its layer: a weight, a bias, a normalisation affine (γ or β), or other.</summary>
public enum ParameterRole { Other, Weight, Bias, Norm }

/// <summary>One named block of the flat trainable vector, e.g. the trainable entries of a layer's weight.</summary>
/// <param name="Role">What the segment is in its layer (Gaussian VI treats norms as point estimates, and starts a
/// Linear's and a convolution's low-rank factors differently).</param>
/// <param name="Fan">The fan of the paper's per-layer prior N(0, 1/(precision·fan)) for the segment's layer:
/// out_features of a Linear (weight and bias), in_channels of a convolution; 0 for segments that have none (norms).</param>
/// <param name="Shape">The shape of the full tensor the block belongs to (for W-Asym weights: d_out × d_in, of
/// which only the trainable entries are stored; <see cref="TrainableIndex"/> maps them back).</param>
/// <param name="TrainableIndex">Row-major positions in the full tensor of the stored entries, or null when every
/// entry of the tensor is stored (standard layers, biases, norms).</param>
/// <param name="FixedFill">For a segment with a <see cref="TrainableIndex"/>: the full tensor's values at the positions
/// θ does not hold (W-Asym: (1 − M) ⊙ F, row-major, 0 where trainable), or null when the owner keeps them itself.</param>
public sealed record ParameterSegment(string Name, long Offset, long Count, long[] Shape, long[]? TrainableIndex = null,
    ParameterRole Role = ParameterRole.Other, long Fan = 0, float[]? FixedFill = null)
{
    /// <summary>A convolution's weight, [C_out, C_in, k, k].</summary>
    public bool IsConvolutionWeight => Role == ParameterRole.Weight && Shape.Length == 4;

    /// <summary>Entries of the full tensor (stored and fixed).</summary>
    public long FullCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Human-readable name of entry <paramref name="i"/> of this segment, ArviZ-style: <c>fc1.weight[3,17]</c>.</summary>
    public string EntryName(long i)
    {
        long position = TrainableIndex is null ? i : TrainableIndex[i];
        var index = new long[Shape.Length];
        for (int d = Shape.Length - 1; d >= 0; d--) { index[d] = position % Shape[d]; position /= Shape[d]; }
        return $"{Name}[{string.Join(",", index)}]";
    }
}

/// <summary>
/// How a network's trainable entries are laid out in one flat vector θ. Samplers see only θ: fixed W-Asym entries
/// are not in it, so they get no gradient, prior, noise or weight decay by construction.
/// </summary>
public sealed class ParameterLayout
{
    private readonly List<ParameterSegment> _segments = new();
    public IReadOnlyList<ParameterSegment> Segments => _segments;
    public long Count { get; private set; }

    public ParameterSegment Add(string name, long[] shape, long[]? trainableIndex = null, ParameterRole role = ParameterRole.Other, long fan = 0,
        float[]? fixedFill = null)
    {
        long count = trainableIndex?.LongLength ?? shape.Aggregate(1L, (a, b) => a * b);
        if (fixedFill is not null && (trainableIndex is null || fixedFill.LongLength != shape.Aggregate(1L, (a, b) => a * b)))
            throw new ArgumentException($"segment {name}: a fixed fill needs a trainable index and one value per entry of the full tensor");
        var segment = new ParameterSegment(name, Count, count, shape, trainableIndex, role, fan, fixedFill);
        _segments.Add(segment);
        Count += count;
        return segment;
    }

    public ParameterSegment this[string name] => _segments.FirstOrDefault(s => s.Name == name)
        ?? throw new KeyNotFoundException($"no parameter segment named '{name}'");

    /// <summary>The segment holding flat index <paramref name="i"/> and the entry's name.</summary>
    public string EntryName(long i)
    {
        foreach (var s in _segments)
            if (i >= s.Offset && i < s.Offset + s.Count) return s.EntryName(i - s.Offset);
        throw new ArgumentOutOfRangeException(nameof(i), i, $"the layout has {Count} entries");
    }
}
