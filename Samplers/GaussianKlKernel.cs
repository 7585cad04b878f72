using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// <see cref="GaussianKl.LowRankWithGradient"/> in two passes over memory for contiguous float32 CPU tensors. With torch
/// ops the low-rank part alone took about a dozen passes over the [K, r, P] factors (whitening, per-block products,
/// joins, the gradient's terms) — on the paper's MLP with rank 4 about a quarter of an ELRG step. Pass 1 accumulates
/// each block's Gram matrix W Wᵀ (W = F/σ); the r × r capacitances are factorised in float64; pass 2 writes the three
/// gradients and the KL's sums. Work is split into fixed chunks inside each block and partial sums are added in chunk
/// order, so nothing depends on the thread count. Each block has its own prior sd; a deterministic block (NaN) is
/// skipped and gets zero gradients. Same formulas, same results up to float32 rounding (tested).
/// </summary>
public static class GaussianKlKernel
{
    private const int ChunkSize = 1 << 16;
    private const int MaxRank = 16;

    public static bool Applies(Tensor mean, Tensor std, Tensor? factors) =>
        mean.device_type == TorchSharp.DeviceType.CPU && mean.dtype == ScalarType.Float32 && std.dtype == ScalarType.Float32
        && mean.dim() == 2 && mean.is_contiguous() && std.is_contiguous() && std.shape.SequenceEqual(mean.shape)
        && (factors is null || (factors.dtype == ScalarType.Float32 && factors.is_contiguous() && factors.dim() == 3
            && factors.shape[0] == mean.shape[0] && factors.shape[2] == mean.shape[1] && factors.shape[1] <= MaxRank));

    private readonly record struct Work(int Chain, int Block, long Start, int Count);

    /// <summary>With one prior sd for all of θ.</summary>
    public static GaussianKl.KlWithGradient Compute(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<long> blocks, double priorStd) =>
        Compute(mean, std, factors, KlBlocks.Uniform(blocks, priorStd));

    public static unsafe GaussianKl.KlWithGradient Compute(Tensor mean, Tensor std, Tensor? factors, KlBlocks klBlocks)
    {
        var blocks = klBlocks.Sizes;
        int chains = (int)mean.shape[0];
        long p = mean.shape[1];
        int rank = factors is null ? 0 : (int)factors.shape[1];
        var dMean = empty_like(mean);
        var dStd = empty_like(std);
        var dFactors = factors is null ? null : empty_like(factors);
        nint mu = HostKernel.Address(mean), sd = HostKernel.Address(std), gm = HostKernel.Address(dMean), gs = HostKernel.Address(dStd);
        nint f = factors is null ? 0 : HostKernel.Address(factors), gf = dFactors is null ? 0 : HostKernel.Address(dFactors);

        var work = new List<Work>();
        for (int k = 0; k < chains; k++)
        {
            long offset = 0;
            for (int b = 0; b < blocks.Length; b++)
            {
                for (long s = 0; s < blocks[b]; s += ChunkSize) work.Add(new(k, b, offset + s, (int)Math.Min(ChunkSize, blocks[b] - s)));
                offset += blocks[b];
            }
        }
        void For(Action<int> body) => HostKernel.ForEachChunk(work.Count, body);

        // Pass 1: each chunk's part of its block's Gram matrix W Wᵀ (lower triangle, row-major).
        int pairs = rank * (rank + 1) / 2;
        var gram = new double[work.Count * Math.Max(1, pairs)];
        if (rank > 0)
            For(w =>
            {
                var item = work[w];
                if (klBlocks.IsDeterministic(item.Block)) return;
                long row = (long)item.Chain * p;
                Gram((float*)f + (long)item.Chain * rank * p + item.Start, p, (float*)sd + row + item.Start, item.Count, rank,
                    gram.AsSpan(w * pairs, pairs));
            });

        // Capacitance C = I + W Wᵀ per chain and block: log det C and C⁻¹ (float64, then float32 for pass 2).
        var logDet = new double[chains];
        var inverse = new float[chains * blocks.Length * rank * rank];
        if (rank > 0)
        {
            var total = new double[chains * blocks.Length * pairs];
            for (int w = 0; w < work.Count; w++)
            {
                int at = (work[w].Chain * blocks.Length + work[w].Block) * pairs;
                for (int i = 0; i < pairs; i++) total[at + i] += gram[w * pairs + i];
            }
            for (int k = 0; k < chains; k++)
                for (int b = 0; b < blocks.Length; b++)
                {
                    if (blocks[b] == 0 || klBlocks.IsDeterministic(b)) continue;
                    logDet[k] += InvertCapacitance(total.AsSpan((k * blocks.Length + b) * pairs, pairs), rank,
                        inverse.AsSpan((k * blocks.Length + b) * rank * rank, rank * rank));
                }
        }

        // Pass 2: the gradients, and per chunk Σ[(σ² + μ²)/s² − ln σ²] and Σ f² (a deterministic block: zero gradients).
        var meanFieldSums = new double[work.Count];
        var factorSquares = new double[work.Count];
        For(w =>
        {
            var item = work[w];
            long row = (long)item.Chain * p + item.Start;
            if (klBlocks.IsDeterministic(item.Block))
            {
                new Span<float>((float*)gm + row, item.Count).Clear();
                new Span<float>((float*)gs + row, item.Count).Clear();
                for (int i = 0; i < rank; i++) new Span<float>((float*)gf + ((long)item.Chain * rank + i) * p + item.Start, item.Count).Clear();
                return;
            }
            double priorStd = klBlocks.PriorStd[item.Block];
            float inverseVariance = (float)(1 / (priorStd * priorStd));
            (meanFieldSums[w], factorSquares[w]) = Gradients((float*)mu + row, (float*)sd + row, (float*)gm + row, (float*)gs + row,
                rank == 0 ? null : (float*)f + (long)item.Chain * rank * p + item.Start,
                rank == 0 ? null : (float*)gf + (long)item.Chain * rank * p + item.Start, p, item.Count, rank,
                inverse.AsSpan((item.Chain * blocks.Length + item.Block) * rank * rank, rank * rank), inverseVariance);
        });

        // ½ Σ_b n_b (ln s_b² − 1) over the blocks in q, then each chunk's sums with its block's s².
        double constant = 0;
        for (int b = 0; b < blocks.Length; b++)
            if (!klBlocks.IsDeterministic(b)) constant += 0.5 * blocks[b] * (2 * Math.Log(klBlocks.PriorStd[b]) - 1);
        var values = new double[chains];
        for (int k = 0; k < chains; k++) values[k] = constant - 0.5 * logDet[k];
        for (int w = 0; w < work.Count; w++)
        {
            if (klBlocks.IsDeterministic(work[w].Block)) continue;
            double s2 = klBlocks.PriorStd[work[w].Block] * klBlocks.PriorStd[work[w].Block];
            values[work[w].Chain] += 0.5 * (meanFieldSums[w] + factorSquares[w] / s2);
        }
        return new GaussianKl.KlWithGradient(tensor(values, device: mean.device), dMean, dStd, dFactors);
    }

    private static unsafe void Gram(float* f, long stride, float* sd, int count, int rank, Span<double> gram)
    {
        var sums = stackalloc double[MaxRank * (MaxRank + 1) / 2];
        int pairs = rank * (rank + 1) / 2;
        for (int i = 0; i < pairs; i++) sums[i] = 0;
        var w = stackalloc Vector256<float>[MaxRank];
        var acc = stackalloc Vector256<float>[MaxRank * (MaxRank + 1) / 2];
        int n = 0;
        while (n <= count - 8)
        {
            // Float32 vector partial sums over at most 64 vectors, then float64.
            for (int i = 0; i < pairs; i++) acc[i] = Vector256<float>.Zero;
            int end = Math.Min(count - 8, n + 63 * 8);
            for (; n <= end; n += 8)
            {
                var inv = Vector256<float>.One / Vector256.Load(sd + n);
                for (int i = 0; i < rank; i++) w[i] = Vector256.Load(f + i * stride + n) * inv;
                int at = 0;
                for (int i = 0; i < rank; i++)
                    for (int j = 0; j <= i; j++) acc[at] = Vector256.FusedMultiplyAdd(w[i], w[j], acc[at++]);
            }
            for (int i = 0; i < pairs; i++) sums[i] += Vector256.Sum(Vector256.WidenLower(acc[i]) + Vector256.WidenUpper(acc[i]));
        }
        var ws = stackalloc double[MaxRank];
        for (; n < count; n++)
        {
            for (int i = 0; i < rank; i++) ws[i] = (double)f[i * stride + n] / sd[n];
            int at = 0;
            for (int i = 0; i < rank; i++)
                for (int j = 0; j <= i; j++) sums[at++] += ws[i] * ws[j];
        }
        for (int i = 0; i < pairs; i++) gram[i] = sums[i];
    }

    /// <summary>C = I + G (G's lower triangle row-major) by Cholesky: writes C⁻¹ (r × r, float32) and returns log det C.</summary>
    private static double InvertCapacitance(ReadOnlySpan<double> gram, int rank, Span<float> inverse)
    {
        var l = new double[rank, rank];
        double logDet = 0;
        int at = 0;
        var c = new double[rank, rank];
        for (int i = 0; i < rank; i++)
            for (int j = 0; j <= i; j++) { c[i, j] = gram[at++] + (i == j ? 1 : 0); c[j, i] = c[i, j]; }
        for (int i = 0; i < rank; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = c[i, j];
                for (int m = 0; m < j; m++) sum -= l[i, m] * l[j, m];
                if (i == j)
                {
                    if (!(sum > 0)) throw new InvalidOperationException($"the low-rank capacitance is not positive definite (pivot {sum})");
                    l[i, i] = Math.Sqrt(sum);
                    logDet += 2 * Math.Log(l[i, i]);
                }
                else l[i, j] = sum / l[j, j];
            }
        // C⁻¹ = L⁻ᵀ L⁻¹, column by column: solve L y = e_col, then Lᵀ x = y.
        var y = new double[rank];
        for (int col = 0; col < rank; col++)
        {
            for (int i = 0; i < rank; i++)
            {
                double sum = i == col ? 1 : 0;
                for (int m = 0; m < i; m++) sum -= l[i, m] * y[m];
                y[i] = sum / l[i, i];
            }
            for (int i = rank - 1; i >= 0; i--)
            {
                double sum = y[i];
                for (int m = i + 1; m < rank; m++) sum -= l[m, i] * inverse[m * rank + col];
                inverse[i * rank + col] = (float)(sum / l[i, i]);
            }
        }
        return logDet;
    }

    private static unsafe (double MeanField, double FactorSquares) Gradients(float* mu, float* sd, float* gm, float* gs, float* f, float* gf,
        long stride, int count, int rank, ReadOnlySpan<float> inverse, float inverseVariance)
    {
        double meanField = 0, factorSquares = 0;
        var c = stackalloc Vector256<float>[MaxRank * MaxRank];
        for (int i = 0; i < rank * rank; i++) c[i] = Vector256.Create(inverse[i]);
        var w = stackalloc Vector256<float>[MaxRank];
        var vInverseVariance = Vector256.Create(inverseVariance);
        int n = 0;
        while (n <= count - 8)
        {
            var meanFieldAcc = Vector256<float>.Zero;
            var squaresAcc = Vector256<float>.Zero;
            int end = Math.Min(count - 8, n + 63 * 8);
            for (; n <= end; n += 8)
            {
                var m = Vector256.Load(mu + n);
                var s = Vector256.Load(sd + n);
                var inv = Vector256<float>.One / s;
                (m * vInverseVariance).Store(gm + n);
                var variance = s * s;
                meanFieldAcc += (variance + m * m) * vInverseVariance - CounterNoise.Log(variance);
                var dStd = s * vInverseVariance - inv;
                for (int i = 0; i < rank; i++) w[i] = Vector256.Load(f + i * stride + n) * inv;
                for (int i = 0; i < rank; i++)
                {
                    var g = Vector256<float>.Zero;
                    for (int j = 0; j < rank; j++) g = Vector256.FusedMultiplyAdd(c[i * rank + j], w[j], g);
                    var fi = Vector256.Load(f + i * stride + n);
                    squaresAcc = Vector256.FusedMultiplyAdd(fi, fi, squaresAcc);
                    (fi * vInverseVariance - g * inv).Store(gf + i * stride + n);
                    dStd = Vector256.FusedMultiplyAdd(g * w[i], inv, dStd);
                }
                dStd.Store(gs + n);
            }
            meanField += Vector256.Sum(Vector256.WidenLower(meanFieldAcc) + Vector256.WidenUpper(meanFieldAcc));
            factorSquares += Vector256.Sum(Vector256.WidenLower(squaresAcc) + Vector256.WidenUpper(squaresAcc));
        }
        var ws = stackalloc float[MaxRank];
        for (; n < count; n++)
        {
            float m = mu[n], s = sd[n], inv = 1 / s;
            gm[n] = m * inverseVariance;
            meanField += ((double)s * s + (double)m * m) * inverseVariance - Math.Log((double)s * s);
            float dStd = s * inverseVariance - inv;
            for (int i = 0; i < rank; i++) ws[i] = f[i * stride + n] * inv;
            for (int i = 0; i < rank; i++)
            {
                float g = 0;
                for (int j = 0; j < rank; j++) g += inverse[i * rank + j] * ws[j];
                float fi = f[i * stride + n];
                factorSquares += (double)fi * fi;
                gf[i * stride + n] = fi * inverseVariance - g * inv;
                dStd += g * ws[i] * inv;
            }
            gs[n] = dStd;
        }
        return (meanField, factorSquares);
    }
}
