using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// The Gaussian noise of the SG-MCMC samplers, drawn from a counter-based generator so it costs about as much as an
/// add and fills in parallel. METHODS: noise generator
///   (w₀, w₁, w₂, w₃) = Philox4x32-10(counter = (b mod 2³², b / 2³², t mod 2³², t / 2³²), key = chain noise seed)
///   (Salmon, Moraes, Dror &amp; Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3"), turned into four N(0, 1)
///   draws by the Box–Muller transform (Box &amp; Muller 1958): with u = (w ≫ 8)·2⁻²⁴,
///   r = √(−2 ln(u₀ + 2⁻²⁴)), z₀ = r cos 2πu₁, z₁ = r sin 2πu₁, and likewise z₂, z₃ from (u₂, u₃).
/// t is the step (the state's iteration), b the Philox block. Entries are laid out for 8-lane vectors: entry i of a
/// chain's row belongs to block b = 8⌊i/32⌋ + (i mod 8) and is its word j = ⌊(i mod 32)/8⌋. Every entry is therefore a
/// function of (chain seed, step, i) alone: the draws are the same for any thread count, batched [K, P] or one chain
/// at a time, and after a resume (the iteration is checkpointed). Rows are filled in parallel over fixed chunks of
/// <see cref="ChunkSize"/> entries, with at most <c>torch.get_num_threads()</c> workers.
/// The uniforms have 24 bits (float precision), so |z| ≤ √(48 ln 2) ≈ 5.77; P(|N(0,1)| &gt; 5.77) ≈ 8·10⁻⁹.
/// float64 tensors get the same float draws, widened.
/// </summary>
public static class CounterNoise
{
    /// <summary>Entries one worker fills at a time (a multiple of the 32-entry vector group).</summary>
    public const int ChunkSize = 65536;

    /// <summary>What the manifest records for the samplers that draw their noise here.</summary>
    public const string Description =
        "philox4x32-10 box-muller; key = chain noise seed, counter = (step, entry block); filled in parallel in chunks of 65536 entries";

    private const int Group = 32;
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>Fills <paramref name="buffer"/> [K, P] with N(0, 1): row k from chain k's noise seed at step
    /// <paramref name="step"/>.</summary>
    public static void Fill(Tensor buffer, IReadOnlyList<Generator> generators, long step) =>
        Apply(buffer, generators, step, scale: 0, accumulate: false);

    /// <summary>θ += scale·ξ with fresh noise ξ (the draws <see cref="Fill"/> would give), in one pass over θ.</summary>
    public static void AddScaled(Tensor target, IReadOnlyList<Generator> generators, long step, double scale) =>
        Apply(target, generators, step, scale, accumulate: true);

    private static void Apply(Tensor target, IReadOnlyList<Generator> generators, long step, double scale, bool accumulate)
    {
        if (target.dim() != 2 || target.shape[0] != generators.Count)
            throw new ArgumentException($"noise: a [K, P] tensor with K = {generators.Count} chains was expected, got [{string.Join(", ", target.shape)}]");
        if (target.dtype != ScalarType.Float32 && target.dtype != ScalarType.Float64)
            throw new ArgumentException($"noise: float32 or float64 tensors only, got {target.dtype}");
        var seeds = new ulong[generators.Count];
        for (int k = 0; k < seeds.Length; k++) seeds[k] = (ulong)generators[k].initial_seed();

        if (target.device_type != DeviceType.CPU || !target.is_contiguous())
        {
            // Off the CPU (the CUDA build) or on a strided view: draw the same numbers into a CPU buffer and let torch
            // copy or add them, so the draws stay those of the CPU path (a device-side generator would give others).
            using var scope = NewDisposeScope();
            var host = empty(target.shape, target.dtype, CPU);
            Rows(host, seeds, step, 0, accumulate: false);
            var moved = host.to(target.device);
            if (accumulate) target.add_(moved, alpha: scale);
            else target.copy_(moved);
            return;
        }
        Rows(target, seeds, step, scale, accumulate);
    }

    private static unsafe void Rows(Tensor target, ulong[] seeds, long step, double scale, bool accumulate)
    {
        long columns = target.shape[1];
        if (columns == 0 || seeds.Length == 0) return;
        bool wide = target.dtype == ScalarType.Float64;
        int chunksPerRow = (int)((columns + ChunkSize - 1) / ChunkSize);
        var rows = new nint[seeds.Length];
        for (int k = 0; k < rows.Length; k++)
        {
            using var row = target[k];
            fixed (byte* p = row.bytes) rows[k] = (nint)p;   // libtorch memory: nothing to pin, the tensor keeps it alive
        }
        int work = rows.Length * chunksPerRow;
        void Chunk(int w)
        {
            int k = w / chunksPerRow;
            long start = (long)(w % chunksPerRow) * ChunkSize;
            int count = (int)Math.Min(ChunkSize, columns - start);
            if (wide) FillDoubles((double*)rows[k] + start, count, seeds[k], step, start, scale, accumulate);
            else FillFloats((float*)rows[k] + start, count, seeds[k], step, start, (float)scale, accumulate);
        }
        int threads = Math.Min(torch.get_num_threads(), work);
        if (threads <= 1)
            for (int w = 0; w < work; w++) Chunk(w);
        else
            Parallel.For(0, work, new ParallelOptions { MaxDegreeOfParallelism = threads }, Chunk);
    }

    /// <summary>Writes (or adds scale times) the draws of entries first … first + count − 1 of one chain's row.</summary>
    private static unsafe void FillFloats(float* row, int count, ulong seed, long step, long first, float scale, bool accumulate)
    {
        var s = Vector256.Create(scale);
        int whole = count / Group * Group;
        for (int i = 0; i < whole; i += Group)
            if (accumulate) Group32(row + i, seed, step, (first + i) / Group, s, accumulate: true);
            else Group32(row + i, seed, step, (first + i) / Group, s, accumulate: false);
        if (whole == count) return;
        // The row's last, partial group: the same vector code into a scratch group, so its draws match a longer row's.
        float* z = stackalloc float[Group];
        Group32(z, seed, step, (first + whole) / Group, s, accumulate: false);
        for (int j = 0; j < count - whole; j++) row[whole + j] = accumulate ? row[whole + j] + scale * z[j] : z[j];
    }

    private static unsafe void FillDoubles(double* row, int count, ulong seed, long step, long first, double scale, bool accumulate)
    {
        float* z = stackalloc float[Group];
        for (int i = 0; i < count; i += Group)
        {
            Group32(z, seed, step, (first + i) / Group, Vector256<float>.One, accumulate: false);
            int n = Math.Min(Group, count - i);
            for (int j = 0; j < n; j++) row[i + j] = accumulate ? row[i + j] + scale * z[j] : z[j];
        }
    }

    /// <summary>The 32 draws of vector group <paramref name="group"/> (Philox blocks 8·group … 8·group + 7), stored at
    /// <paramref name="dst"/> or, when accumulating, added to it times <paramref name="scale"/>. One method with
    /// locals only, so the JIT keeps the state in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Group32(float* dst, ulong seed, long step, long group, Vector256<float> scale, bool accumulate)
    {
        ulong block = (ulong)group * 8;
        // Blocks of one group never straddle a 2³² boundary (8 divides 2³²), so the high word is shared.
        var x0 = Vector256.Create((uint)block) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        var x1 = Vector256.Create((uint)(block >> 32));
        var x2 = Vector256.Create((uint)step);
        var x3 = Vector256.Create((uint)((ulong)step >> 32));
        uint key0 = (uint)seed, key1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            var (hi0, lo0) = MulHiLo(x0, M0);
            var (hi1, lo1) = MulHiLo(x2, M1);
            var y0 = hi1 ^ x1 ^ Vector256.Create(key0);
            var y2 = hi0 ^ x3 ^ Vector256.Create(key1);
            x0 = y0; x1 = lo1; x2 = y2; x3 = lo0;
            key0 += W0;
            key1 += W1;
        }
        // Box–Muller on (x0, x1) and (x2, x3), 24-bit uniforms.
        var ulp = Vector256.Create(1f / (1 << 24));
        var angle = Vector256.Create(2 * MathF.PI / (1 << 24));
        var minusTwo = Vector256.Create(-2f);
        var r01 = Vector256.Sqrt(minusTwo * Vector256.Log((Vector256.ConvertToSingle((x0 >> 8).AsInt32()) + Vector256<float>.One) * ulp));
        var r23 = Vector256.Sqrt(minusTwo * Vector256.Log((Vector256.ConvertToSingle((x2 >> 8).AsInt32()) + Vector256<float>.One) * ulp));
        var (s1, c1) = Vector256.SinCos(Vector256.ConvertToSingle((x1 >> 8).AsInt32()) * angle);
        var (s3, c3) = Vector256.SinCos(Vector256.ConvertToSingle((x3 >> 8).AsInt32()) * angle);
        var z0 = r01 * c1;
        var z1 = r01 * s1;
        var z2 = r23 * c3;
        var z3 = r23 * s3;
        if (accumulate)
        {
            z0 = Vector256.Load(dst) + scale * z0;
            z1 = Vector256.Load(dst + 8) + scale * z1;
            z2 = Vector256.Load(dst + 16) + scale * z2;
            z3 = Vector256.Load(dst + 24) + scale * z3;
        }
        z0.Store(dst);
        z1.Store(dst + 8);
        z2.Store(dst + 16);
        z3.Store(dst + 24);
    }

    /// <summary>The high and low 32 bits of each lane's 32×32-bit product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<uint> Hi, Vector256<uint> Lo) MulHiLo(Vector256<uint> x, uint m)
    {
        if (Avx2.IsSupported)
        {
            var mv = Vector256.Create((ulong)m).AsUInt32();
            var even = Avx2.Multiply(x, mv).AsUInt32();                              // lanes 0, 2, 4, 6 as 64-bit products
            var odd = Avx2.Multiply((x.AsUInt64() >> 32).AsUInt32(), mv).AsUInt32(); // lanes 1, 3, 5, 7
            return (Avx2.Blend((even.AsUInt64() >> 32).AsUInt32(), odd, 0b1010_1010),
                Avx2.Blend(even, (odd.AsUInt64() << 32).AsUInt32(), 0b1010_1010));
        }
        var (lower, upper) = Vector256.Widen(x);
        var m64 = Vector256.Create((ulong)m);
        return (Vector256.Narrow((lower * m64) >> 32, (upper * m64) >> 32), x * Vector256.Create(m));
    }

    /// <summary>One Philox4x32-10 block, for the known-answer test: counter (c0, c1, c2, c3), key (k0, k1), with the
    /// rounds <see cref="Group32"/> runs.</summary>
    public static (uint, uint, uint, uint) Philox4x32(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        var (x0, x1, x2, x3) = (Vector256.Create(c0), Vector256.Create(c1), Vector256.Create(c2), Vector256.Create(c3));
        for (int round = 0; round < 10; round++)
        {
            var (hi0, lo0) = MulHiLo(x0, M0);
            var (hi1, lo1) = MulHiLo(x2, M1);
            (x0, x1, x2, x3) = (hi1 ^ x1 ^ Vector256.Create(k0), lo1, hi0 ^ x3 ^ Vector256.Create(k1), lo0);
            k0 += W0;
            k1 += W1;
        }
        return (x0[0], x1[0], x2[0], x3[0]);
    }
}
