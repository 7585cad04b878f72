using static TorchSharp.torch;

namespace Workbench;

/// <summary>
/// What the workbench's own CPU kernels (Samplers: CounterNoise, PriorFold, FusedAdam, GaussianKlKernel; Architectures:
/// <see cref="Architectures.SegmentEmbedding"/>) share: the address of a contiguous CPU tensor's memory, and work split into fixed
/// chunks run on at most torch's thread count, so a result never depends on how many threads ran it. Samplers does not
/// depend on Architectures, so it compiles this file into its own assembly (see Samplers.csproj).
/// </summary>
internal static class HostKernel
{
    /// <summary>The first byte of <paramref name="tensor"/>'s memory (libtorch's: nothing to pin, the tensor keeps it alive).</summary>
    public static unsafe nint Address(Tensor tensor)
    {
        fixed (byte* p = tensor.bytes) return (nint)p;
    }

    /// <summary>Runs <paramref name="body"/> for chunks 0 … <paramref name="chunks"/> − 1, on at most torch's thread count.</summary>
    public static void ForEachChunk(int chunks, Action<int> body)
    {
        int threads = Math.Min(get_num_threads(), chunks);
        if (threads <= 1)
            for (int c = 0; c < chunks; c++) body(c);
        else
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }
}
