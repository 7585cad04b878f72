using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// A Gaussian over θ per chain, as the Gaussian forward pass reads it: mean μ [K, P], standard deviations σ [K, P]
/// and optional low-rank factors F [K, r, P] (already scaled, so the covariance of each layer's block is
/// diag(σ²) + Σ_k f_k f_kᵀ). Factors are shared only within a block (<see cref="INetwork.VariationalBlocks"/>):
/// blocks are independent, so a draw takes one z ~ N(0, I_r) per block.
/// </summary>
public sealed class GaussianParameters
{
    /// <param name="pieces">Optional sizes of consecutive pieces covering θ (the network's variational blocks): each of
    /// μ, σ and the factors is then split once, and a slice inside a piece is a view of that piece. Autograd's backward
    /// of a narrow allocates a zero tensor of its whole input, so narrowing the full [K, r, P] factors once per layer
    /// costs layers × P per step; narrowing pieces costs P.</param>
    public GaussianParameters(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<Generator> generators, IReadOnlyList<long>? pieces = null)
    {
        if (mean.dim() != 2) throw new ArgumentException($"the Gaussian's mean must be [chains, P], got [{string.Join(",", mean.shape)}]");
        if (!mean.shape.SequenceEqual(std.shape))
            throw new ArgumentException($"mean [{string.Join(",", mean.shape)}] and std [{string.Join(",", std.shape)}] differ in shape");
        if (factors is not null && (factors.dim() != 3 || factors.shape[0] != mean.shape[0] || factors.shape[2] != mean.shape[1]))
            throw new ArgumentException($"factors must be [chains, rank, {mean.shape[1]}], got [{string.Join(",", factors.shape)}]");
        if (generators.Count != mean.shape[0])
            throw new ArgumentException($"{mean.shape[0]} chains need {mean.shape[0]} generators, got {generators.Count}");
        Mean = mean; Std = std; Factors = factors; Generators = generators;
        if (pieces is not null)
        {
            if (pieces.Sum() != mean.shape[1]) throw new ArgumentException($"the pieces cover {pieces.Sum()} entries, θ has {mean.shape[1]}");
            var sizes = pieces.ToArray();
            _pieceOffsets = new long[sizes.Length + 1];
            for (int i = 0; i < sizes.Length; i++) _pieceOffsets[i + 1] = _pieceOffsets[i] + sizes[i];
            _meanPieces = mean.split(sizes, 1);
            _stdPieces = std.split(sizes, 1);
            _factorPieces = factors?.split(sizes, 2);
        }
    }

    private readonly long[]? _pieceOffsets;
    private readonly Tensor[]? _meanPieces, _stdPieces, _factorPieces;

    /// <summary>μ of entries [offset, offset + count), [K, count].</summary>
    public Tensor MeanOf(long offset, long count) => Slice(Mean, _meanPieces, 1, offset, count);

    /// <summary>σ of entries [offset, offset + count), [K, count].</summary>
    public Tensor StdOf(long offset, long count) => Slice(Std, _stdPieces, 1, offset, count);

    /// <summary>The factors of entries [offset, offset + count), [K, r, count] (null without factors).</summary>
    public Tensor? FactorsOf(long offset, long count) => Factors is null ? null : Slice(Factors, _factorPieces, 2, offset, count);

    private Tensor Slice(Tensor whole, Tensor[]? pieces, long dim, long offset, long count)
    {
        if (pieces is null) return whole.narrow(dim, offset, count);
        int i = Array.BinarySearch(_pieceOffsets!, offset);
        if (i < 0) i = ~i - 1;
        // A range across pieces (none of our layers asks for one) falls back to the whole tensor.
        return offset + count <= _pieceOffsets![i + 1] ? pieces[i].narrow(dim, offset - _pieceOffsets[i], count) : whole.narrow(dim, offset, count);
    }

    public Tensor Mean { get; }
    public Tensor Std { get; }
    public Tensor? Factors { get; }
    public IReadOnlyList<Generator> Generators { get; }
    public long Chains => Mean.shape[0];
    public long Rank => Factors?.shape[1] ?? 0;

    /// <summary>ε ~ N(0, I) of shape [K, …<paramref name="shape"/>], chain k's slice from chain k's generator.</summary>
    public Tensor Noise(params long[] shape)
    {
        using var scope = NewDisposeScope();
        var perChain = Generators.Select(g => randn(shape, dtype: Mean.dtype, device: Mean.device, generator: g)).ToArray();
        return stack(perChain).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One plain-reparameterised draw of entries [offset, offset + count) of θ per chain, [K, count]: μ + σ⊙ε + Σ_k z_k f_k
    /// with one z per chain for the whole range (the range must lie inside one block).
    /// </summary>
    public Tensor Sample(long offset, long count)
    {
        using var scope = NewDisposeScope();
        var draw = MeanOf(offset, count).add(StdOf(offset, count) * Noise(count), HeldScalars.One);
        if (Factors is not null && Rank > 0)
            draw = draw.add(bmm(Noise(1, Rank), FactorsOf(offset, count)!).squeeze(1), HeldScalars.One);
        return draw.MoveToOuterDisposeScope();
    }

    /// <summary>One plain-reparameterised draw of the whole θ, [K, P], with one z per chain and block.</summary>
    public Tensor Sample(IReadOnlyList<long> blocks)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        long offset = 0;
        foreach (long size in blocks) { parts.Add(Sample(offset, size)); offset += size; }
        if (offset != Mean.shape[1]) throw new ArgumentException($"blocks cover {offset} entries, θ has {Mean.shape[1]}");
        return cat(parts, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Blocks of consecutive layout segments that share a layer name (the part before the first '.').</summary>
    public static IReadOnlyList<long> LayerBlocks(ParameterLayout layout)
    {
        var blocks = new List<long>();
        string? current = null;
        foreach (var segment in layout.Segments)
        {
            string layer = segment.Name.Split('.')[0];
            if (layer == current) blocks[^1] += segment.Count;
            else { blocks.Add(segment.Count); current = layer; }
        }
        return blocks;
    }
}
