using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Folds the Gaussian prior into a minibatch gradient in one pass over memory (METHODS: Tempering contract):
/// g ← g − λθ per chain, returning ‖g‖² after the fold and ‖θ‖² (for log p(θ)) as float64 sums. With torch ops that
/// is three passes (the fold, the norm, the prior's sum of squares) over θ's size. Sums are taken over fixed chunks
/// and added in chunk order, so they do not depend on the thread count. Contiguous float32 CPU tensors only; callers
/// fall back to torch ops otherwise (<see cref="Applies"/>).
/// </summary>
public static class PriorFold
{
    private const int ChunkSize = 1 << 16;

    public static bool Applies(Tensor gradient, Tensor position) =>
        gradient.device_type == TorchSharp.DeviceType.CPU && position.device_type == TorchSharp.DeviceType.CPU
        && gradient.dtype == ScalarType.Float32 && position.dtype == ScalarType.Float32
        && gradient.dim() == 2 && gradient.shape.SequenceEqual(position.shape)
        && gradient.is_contiguous() && position.is_contiguous();

    /// <returns>Per chain, ‖g − λθ‖² and ‖θ‖².</returns>
    public static unsafe (double[] GradientSquares, double[] PositionSquares) Apply(Tensor gradient, Tensor position, double weightDecay)
    {
        int chains = (int)gradient.shape[0];
        long columns = gradient.shape[1];
        var gradientSquares = new double[chains];
        var positionSquares = new double[chains];
        if (columns == 0) return (gradientSquares, positionSquares);
        nint g = HostKernel.Address(gradient), x = HostKernel.Address(position);
        int chunksPerRow = (int)((columns + ChunkSize - 1) / ChunkSize);
        int work = chains * chunksPerRow;
        var partialGradient = new double[work];
        var partialPosition = new double[work];
        float lambda = (float)weightDecay;
        void Chunk(int w)
        {
            int k = w / chunksPerRow;
            long start = (long)k * columns + (long)(w % chunksPerRow) * ChunkSize;
            int count = (int)Math.Min(ChunkSize, columns - (long)(w % chunksPerRow) * ChunkSize);
            (partialGradient[w], partialPosition[w]) = Run((float*)g + start, (float*)x + start, count, lambda);
        }
        HostKernel.ForEachChunk(work, Chunk);
        for (int w = 0; w < work; w++)
        {
            gradientSquares[w / chunksPerRow] += partialGradient[w];
            positionSquares[w / chunksPerRow] += partialPosition[w];
        }
        return (gradientSquares, positionSquares);
    }

    private static unsafe (double, double) Run(float* g, float* x, int count, float lambda)
    {
        // Float32 partial sums over at most 64 entries per lane before each is added to a float64 total: the relative
        // rounding of a partial sum stays near 64·2^-24 ≈ 4e-6 of one block's squares, far below what a diagnostic needs.
        double gradientTotal = 0, positionTotal = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vl = Vector256.Create(lambda);
            while (i <= count - Vector256<float>.Count)
            {
                var gs = Vector256<float>.Zero;
                var xs = Vector256<float>.Zero;
                int end = Math.Min(count - Vector256<float>.Count, i + 64 * Vector256<float>.Count);
                for (; i <= end; i += Vector256<float>.Count)
                {
                    var xi = Vector256.Load(x + i);
                    var gi = Vector256.Load(g + i) - vl * xi;
                    gi.Store(g + i);
                    gs += gi * gi;
                    xs += xi * xi;
                }
                gradientTotal += Vector256.Sum(Vector256.WidenLower(gs) + Vector256.WidenUpper(gs));
                positionTotal += Vector256.Sum(Vector256.WidenLower(xs) + Vector256.WidenUpper(xs));
            }
        }
        for (; i < count; i++)
        {
            float xi = x[i];
            float gi = g[i] - lambda * xi;
            g[i] = gi;
            gradientTotal += (double)gi * gi;
            positionTotal += (double)xi * xi;
        }
        return (gradientTotal, positionTotal);
    }
}
