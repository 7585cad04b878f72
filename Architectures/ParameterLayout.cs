namespace Workbench.Architectures;

/// <summary>One named block of the flat trainable vector, e.g. the trainable entries of a layer's weight.</summary>
/// <param name="Shape">The shape of the full tensor the block belongs to (for W-Asym weights: d_out × d_in, of
/// which only the trainable entries are stored; <see cref="TrainableIndex"/> maps them back).</param>
/// <param name="TrainableIndex">Row-major positions in the full tensor of the stored entries, or null when every
/// entry of the tensor is stored (standard layers, biases, norms).</param>
/// <param name="FixedFill">For a segment with a <see cref="TrainableIndex"/>: the full tensor's values at the positions
/// θ does not hold (W-Asym: (1 − M) ⊙ F, row-major, 0 where trainable), or null when the owner keeps them itself.</param>
public sealed record ParameterSegment(string Name, long Offset, long Count, long[] Shape, long[]? TrainableIndex = null, float[]? FixedFill = null)
{
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

    public ParameterSegment Add(string name, long[] shape, long[]? trainableIndex = null, float[]? fixedFill = null)
    {
        long count = trainableIndex?.LongLength ?? shape.Aggregate(1L, (a, b) => a * b);
        if (fixedFill is not null && (trainableIndex is null || fixedFill.LongLength != shape.Aggregate(1L, (a, b) => a * b)))
            throw new ArgumentException($"segment {name}: a fixed fill needs a trainable index and one value per entry of the full tensor");
        var segment = new ParameterSegment(name, Count, count, shape, trainableIndex, fixedFill);
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
