using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// A W-Asym weight segment moved between θ's stored entries and the full weight on the CPU in float32, in one pass
/// each way. Forward: full[j] = θ[stored index of j] where entry j is trainable, else the fixed fill (1 − M) ⊙ F.
/// Backward: ∇θ[i] = ∇full[position of i]. <see cref="Theta.Segmented"/> uses it to make the full weight itself the
/// autograd leaf, so the layers run on it directly and autograd sees no scatter or gather (with libtorch's scatter the
/// W-Asym MLP's forward + backward cost about a quarter more than the standard one's, although it has fewer entries).
/// Work is split into fixed chunks; a result does not depend on the thread count.
/// </summary>
internal static class SegmentEmbedding
{
    private const int Chunk = 1 << 16;

    /// <summary>Per segment: its trainable index as 32-bit positions (half the memory traffic of the 64-bit one).</summary>
    private static readonly ConditionalWeakTable<ParameterSegment, int[]> Positions = new();

    /// <summary>Whether <paramref name="segment"/> of <paramref name="position"/> [K, P] can be embedded here.</summary>
    public static bool Applies(Tensor position, ParameterSegment segment) =>
        segment.FixedFill is not null && segment.TrainableIndex is not null && segment.Count > 0
        && segment.FullCount <= int.MaxValue && position.dim() == 2
        && position.device_type == TorchSharp.DeviceType.CPU && position.dtype == ScalarType.Float32 && position.is_contiguous();

    /// <summary>The full tensor [K, full] of every chain: θ's entries where trainable, the fixed fill elsewhere.</summary>
    public static Tensor Scatter(Tensor position, ParameterSegment segment)
    {
        long chains = position.shape[0], stride = position.shape[1];
        long full = segment.FullCount, count = segment.Count;
        var result = empty([chains, full], dtype: ScalarType.Float32);
        var fill = segment.FixedFill!;
        var index = PositionsOf(segment);
        nint src = HostKernel.Address(position), dst = HostKernel.Address(result);
        // Two branch-free passes: the fill over every entry, then θ's entries over their positions.
        int fillChunks = Chunks(full), storedChunks = Chunks(count);
        HostKernel.ForEachChunk((int)chains * fillChunks, c =>
        {
            long chain = c / fillChunks, start = (long)(c % fillChunks) * Chunk, end = Math.Min(full, start + Chunk);
            unsafe
            {
                fixed (float* values = fill)
                    new ReadOnlySpan<float>(values + start, (int)(end - start)).CopyTo(new Span<float>((float*)dst + chain * full + start, (int)(end - start)));
            }
        });
        HostKernel.ForEachChunk((int)chains * storedChunks, c =>
        {
            long chain = c / storedChunks, start = (long)(c % storedChunks) * Chunk, end = Math.Min(count, start + Chunk);
            unsafe
            {
                float* from = (float*)src + chain * stride + segment.Offset, to = (float*)dst + chain * full;
                fixed (int* positions = index)
                    for (long i = start; i < end; i++) to[positions[i]] = from[i];
            }
        });
        return result;
    }

    /// <summary>Writes the stored entries' part of <paramref name="fullGradient"/> [K, full] into
    /// <paramref name="destination"/>: chain k's entry i at element k·<paramref name="stride"/> + <paramref name="offset"/> + i.</summary>
    public static void Gather(Tensor fullGradient, ParameterSegment segment, Tensor destination, long offset, long stride)
    {
        var contiguous = fullGradient.is_contiguous() ? fullGradient : fullGradient.contiguous();
        long chains = contiguous.shape[0], full = segment.FullCount, count = segment.Count;
        var index = PositionsOf(segment);
        nint src = HostKernel.Address(contiguous), dst = HostKernel.Address(destination);
        int chunksPerChain = Chunks(count);
        HostKernel.ForEachChunk((int)chains * chunksPerChain, c =>
        {
            long chain = c / chunksPerChain, start = (long)(c % chunksPerChain) * Chunk, end = Math.Min(count, start + Chunk);
            unsafe
            {
                float* from = (float*)src + chain * full, to = (float*)dst + chain * stride + offset;
                fixed (int* positions = index)
                    for (long i = start; i < end; i++) to[i] = from[positions[i]];
            }
        });
        if (!ReferenceEquals(contiguous, fullGradient)) contiguous.Dispose();
    }

    private static int[] PositionsOf(ParameterSegment segment) =>
        Positions.GetValue(segment, s => Array.ConvertAll(s.TrainableIndex!, p => (int)p));

    private static int Chunks(long entries) => (int)((entries + Chunk - 1) / Chunk);
}
