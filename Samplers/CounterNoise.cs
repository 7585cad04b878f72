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
///   r = √(−2 ln(u₀ + 2⁻²⁴)), z₀ = r cos 2πu₁, z₁ = r sin 2πu₁, and likewise z₂, z₃ from (u₂, u₃). ln, sin and cos
///   are this class's own float versions (<see cref="Log"/>, <see cref="SinCosTurn"/>: exponent bits plus a series,
///   the quadrant from the top bits of w₁): .NET's Vector256.Log and SinCos cost about 4 of the 5.5 ms a row of 935k
///   floats took per thread, these about 0.8.
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

    /// <summary>θ += driftScale·drift + scale·ξ (an SG-MCMC move: the drift step and fresh noise ξ, the draws
    /// <see cref="Fill"/> would give) in one pass over θ; <paramref name="drift"/> has θ's shape.</summary>
    public static void AddScaled(Tensor target, Tensor drift, double driftScale, IReadOnlyList<Generator> generators, long step, double scale)
    {
        if (!drift.shape.SequenceEqual(target.shape))
            throw new ArgumentException($"noise: the drift is [{string.Join(", ", drift.shape)}], θ is [{string.Join(", ", target.shape)}]");
        Apply(target, generators, step, scale, accumulate: true, drift, driftScale);
    }

    private static void Apply(Tensor target, IReadOnlyList<Generator> generators, long step, double scale, bool accumulate,
        Tensor? drift = null, double driftScale = 0)
    {
        if (target.dim() != 2 || target.shape[0] != generators.Count)
            throw new ArgumentException($"noise: a [K, P] tensor with K = {generators.Count} chains was expected, got [{string.Join(", ", target.shape)}]");
        if (target.dtype != ScalarType.Float32 && target.dtype != ScalarType.Float64)
            throw new ArgumentException($"noise: float32 or float64 tensors only, got {target.dtype}");
        var seeds = new ulong[generators.Count];
        for (int k = 0; k < seeds.Length; k++) seeds[k] = (ulong)generators[k].initial_seed();

        bool fusedDrift = drift is not null && target.dtype == ScalarType.Float32 && drift.dtype == ScalarType.Float32
            && drift.device_type == DeviceType.CPU && drift.is_contiguous();
        if (drift is not null && !fusedDrift) { target.add_(drift, alpha: HeldScalars.Of(driftScale)); drift = null; }

        if (target.device_type != DeviceType.CPU || !target.is_contiguous())
        {
            if (drift is not null) target.add_(drift, alpha: HeldScalars.Of(driftScale));
            // Off the CPU (the CUDA build) or on a strided view: draw the same numbers into a CPU buffer and let torch
            // copy or add them, so the draws stay those of the CPU path (a device-side generator would give others).
            using var scope = NewDisposeScope();
            var host = empty(target.shape, target.dtype, CPU);
            Rows(host, seeds, step, 0, accumulate: false);
            var moved = host.to(target.device);
            if (accumulate) target.add_(moved, alpha: HeldScalars.Of(scale));
            else target.copy_(moved);
            return;
        }
        Rows(target, seeds, step, scale, accumulate, drift, driftScale);
    }

    private static unsafe void Rows(Tensor target, ulong[] seeds, long step, double scale, bool accumulate, Tensor? drift = null, double driftScale = 0)
    {
        long columns = target.shape[1];
        if (columns == 0 || seeds.Length == 0) return;
        bool wide = target.dtype == ScalarType.Float64;
        int chunksPerRow = (int)((columns + ChunkSize - 1) / ChunkSize);
        var rows = new nint[seeds.Length];
        for (int k = 0; k < rows.Length; k++)
        {
            using var row = target[k];
            rows[k] = HostKernel.Address(row);
        }
        nint drifts = drift is null ? 0 : HostKernel.Address(drift);
        int work = rows.Length * chunksPerRow;
        void Chunk(int w)
        {
            int k = w / chunksPerRow;
            long start = (long)(w % chunksPerRow) * ChunkSize;
            int count = (int)Math.Min(ChunkSize, columns - start);
            if (wide) FillDoubles((double*)rows[k] + start, count, seeds[k], step, start, scale, accumulate);
            else if (drifts != 0) AddDriftAndNoise((float*)rows[k] + start, (float*)drifts + k * columns + start, (float)driftScale, count, seeds[k], step, start, (float)scale);
            else FillFloats((float*)rows[k] + start, count, seeds[k], step, start, (float)scale, accumulate);
        }
        HostKernel.ForEachChunk(work, Chunk);
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

    /// <summary>row += driftScale·drift + scale·ξ for entries first … first + count − 1 of one chain's row.</summary>
    private static unsafe void AddDriftAndNoise(float* row, float* drift, float driftScale, int count, ulong seed, long step, long first, float scale)
    {
        var s = Vector256.Create(scale);
        var a = Vector256.Create(driftScale);
        int whole = count / Group * Group;
        for (int i = 0; i < whole; i += Group)
        {
            // The drift first, then the noise through Group32's accumulate: (θ + a·g) + s·ξ, as two passes would add them.
            for (int j = 0; j < Group; j += 8)
                (Vector256.Load(row + i + j) + a * Vector256.Load(drift + i + j)).Store(row + i + j);
            Group32(row + i, seed, step, (first + i) / Group, s, accumulate: true);
        }
        if (whole == count) return;
        float* z = stackalloc float[Group];
        Group32(z, seed, step, (first + whole) / Group, s, accumulate: false);
        for (int j = 0; j < count - whole; j++) row[whole + j] = row[whole + j] + driftScale * drift[whole + j] + scale * z[j];
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
    /// <paramref name="dst"/> or, when accumulating, added to it times <paramref name="scale"/>. Inlined with locals
    /// only, so the JIT keeps the state in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Group32(float* dst, ulong seed, long step, long group, Vector256<float> scale, bool accumulate)
    {
        ulong block = (ulong)group * 8;
        // Blocks of one group never straddle a 2³² boundary (8 divides 2³²), so the high word is shared.
        Philox8(Vector256.Create((uint)block) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7), (uint)(block >> 32),
            (uint)step, (uint)((ulong)step >> 32), (uint)seed, (uint)(seed >> 32), out var w0, out var w1, out var w2, out var w3);
        // Box–Muller on (w0, w1) and (w2, w3): u = ((w ≫ 8) + 1)·2⁻²⁴ ∈ (0, 1] for the radius, the angle from w1, w3.
        var ulp = Vector256.Create(1f / (1 << 24));
        var minusTwo = Vector256.Create(-2f);
        var r01 = Vector256.Sqrt(minusTwo * Log((Vector256.ConvertToSingle((w0 >> 8).AsInt32()) + Vector256<float>.One) * ulp));
        var r23 = Vector256.Sqrt(minusTwo * Log((Vector256.ConvertToSingle((w2 >> 8).AsInt32()) + Vector256<float>.One) * ulp));
        var (s1, c1) = SinCosTurn(w1);
        var (s3, c3) = SinCosTurn(w3);
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

    /// <summary>Philox4x32-10 on 8 blocks at once: lane l has counter (c0[l], c1, c2, c3) and key (k0, k1); the output
    /// words of lane l are w0[l] … w3[l].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Philox8(Vector256<uint> c0, uint c1, uint c2, uint c3, uint k0, uint k1,
        out Vector256<uint> w0, out Vector256<uint> w1, out Vector256<uint> w2, out Vector256<uint> w3)
    {
        // The even lanes (0, 2, 4, 6) and the odd ones (1, 3, 5, 7) run apart, each word in the low half of a 64-bit
        // lane, so one 32×32→64-bit multiply gives a round both halves of its product without shuffles; the high
        // halves carry junk that the multiplies ignore and the final blend drops.
        var e0 = c0.AsUInt64();
        var o0 = e0 >> 32;
        var e1 = Vector256.Create((ulong)c1);
        var e2 = Vector256.Create((ulong)c2);
        var e3 = Vector256.Create((ulong)c3);
        var (o1, o2, o3) = (e1, e2, e3);
        var key0 = Vector256.Create((ulong)k0);
        var key1 = Vector256.Create((ulong)k1);
        for (int round = 0; round < 10; round++)
        {
            var pe0 = MulWide(e0, M0);
            var pe2 = MulWide(e2, M1);
            var po0 = MulWide(o0, M0);
            var po2 = MulWide(o2, M1);
            (e0, e1, e2, e3) = ((pe2 >> 32) ^ e1 ^ key0, pe2, (pe0 >> 32) ^ e3 ^ key1, pe0);
            (o0, o1, o2, o3) = ((po2 >> 32) ^ o1 ^ key0, po2, (po0 >> 32) ^ o3 ^ key1, po0);
            key0 += Vector256.Create((ulong)W0);   // the low halves add mod 2³², as the key schedule does
            key1 += Vector256.Create((ulong)W1);
        }
        w0 = Interleave(e0, o0);
        w1 = Interleave(e1, o1);
        w2 = Interleave(e2, o2);
        w3 = Interleave(e3, o3);
    }

    /// <summary>The 64-bit products of each lane's low 32 bits with <paramref name="m"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> MulWide(Vector256<ulong> x, uint m) =>
        Avx2.IsSupported
            ? Avx2.Multiply(x.AsUInt32(), Vector256.Create((ulong)m).AsUInt32())
            : (x & Vector256.Create(0xFFFF_FFFFUL)) * Vector256.Create((ulong)m);

    /// <summary>The low halves of the even and odd lanes' 64-bit words, back as 8 consecutive 32-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Interleave(Vector256<ulong> even, Vector256<ulong> odd) =>
        Avx2.IsSupported
            ? Avx2.Blend(even.AsUInt32(), (odd << 32).AsUInt32(), 0b1010_1010)
            : ((even & Vector256.Create(0xFFFF_FFFFUL)) | (odd << 32)).AsUInt32();

    /// <summary>ln x for positive normal floats (the radius needs x ∈ [2⁻²⁴, 1]); relative error below
    /// <see cref="LogRelativeError"/> there (a test checks every such x the generator can give).</summary>
    /// <remarks>x = 2ᵏ·m with m ∈ [√½, √2), k from the exponent bits; ln m = 2 atanh s = 2(s + s³/3 + s⁵/5 + s⁷/7 + …)
    /// with s = (m − 1)/(m + 1), |s| ≤ 0.1716, so the first omitted term 2s⁹/9 is below 3·10⁻⁸.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var bits = x.AsInt32();
        var k = (bits - Vector256.Create(0x3F35_04F3)) >> 23;   // 0x3F3504F3 is √½: k is the exponent that puts m there
        var f = (bits - (k << 23)).AsSingle() - Vector256<float>.One;
        var s = f / (Vector256.Create(2f) + f);
        var s2 = s * s;
        var series = Vector256.FusedMultiplyAdd(s2, Vector256.Create(1f / 7), Vector256.Create(1f / 5));
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256.Create(1f / 3)) * s2;
        var twoS = s + s;
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(k), Vector256.Create(MathF.Log(2)),
            Vector256.FusedMultiplyAdd(twoS, series, twoS));
    }

    /// <summary>Bound on <see cref="Log"/>'s relative error over x ∈ [2⁻²⁴, 1].</summary>
    public const double LogRelativeError = 3e-7;

    /// <summary>sin θ and cos θ of the angle θ = 2π·(w ≫ 8)·2⁻²⁴ (a 24-bit fraction of a turn); absolute error below
    /// <see cref="SinCosError"/> (a test checks all 2²⁴ angles).</summary>
    /// <remarks>With v = w + 2²⁹, the quadrant is q = v ≫ 30 (the top 2 bits, rounded to the nearest quarter turn)
    /// and θ = qπ/2 + t with t = 2π·2⁻²⁴·((v ≫ 8) mod 2²² − 2²¹) ∈ [−π/4, π/4). On that interval the Taylor series of
    /// sin t to t⁹ and of cos t to t⁸ are off by at most (π/4)¹¹/11! ≈ 2·10⁻⁹ and (π/4)¹⁰/10! ≈ 2.5·10⁻⁸. Then
    /// sin θ, cos θ = (sin t, cos t), (cos t, −sin t), (−sin t, −cos t), (−cos t, sin t) for q = 0, 1, 2, 3.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<float> Sin, Vector256<float> Cos) SinCosTurn(Vector256<uint> w)
    {
        var v = w + Vector256.Create(1u << 29);
        // v ≪ 2 drops the quadrant; flipping the top bit and shifting arithmetically centres the 22 bits below it.
        var t = Vector256.ConvertToSingle(((v << 2) ^ Vector256.Create(0x8000_0000u)).AsInt32() >> 10)
            * Vector256.Create(2 * MathF.PI / (1 << 24));
        var z = t * t;
        var sin = Vector256.FusedMultiplyAdd(z, Vector256.Create(1f / 362880), Vector256.Create(-1f / 5040));
        sin = Vector256.FusedMultiplyAdd(sin, z, Vector256.Create(1f / 120));
        sin = Vector256.FusedMultiplyAdd(sin, z, Vector256.Create(-1f / 6)) * z;
        sin = Vector256.FusedMultiplyAdd(sin, t, t);
        var cos = Vector256.FusedMultiplyAdd(z, Vector256.Create(1f / 40320), Vector256.Create(-1f / 720));
        cos = Vector256.FusedMultiplyAdd(cos, z, Vector256.Create(1f / 24));
        cos = Vector256.FusedMultiplyAdd(cos, z, Vector256.Create(-0.5f));
        cos = Vector256.FusedMultiplyAdd(cos, z, Vector256<float>.One);
        var odd = v << 1;                                         // sign bit: q is odd, so sine and cosine swap
        var sinSign = (v & Vector256.Create(0x8000_0000u)).AsSingle();         // q = 2, 3
        var cosSign = ((v ^ odd) & Vector256.Create(0x8000_0000u)).AsSingle(); // q = 1, 2
        Vector256<float> sinQ, cosQ;
        if (Avx.IsSupported)
        {
            sinQ = Avx.BlendVariable(sin, cos, odd.AsSingle());
            cosQ = Avx.BlendVariable(cos, sin, odd.AsSingle());
        }
        else
        {
            var swap = (odd.AsInt32() >> 31).AsSingle();
            sinQ = Vector256.ConditionalSelect(swap, cos, sin);
            cosQ = Vector256.ConditionalSelect(swap, sin, cos);
        }
        return (sinQ ^ sinSign, cosQ ^ cosSign);
    }

    /// <summary>Bound on <see cref="SinCosTurn"/>'s absolute error.</summary>
    public const double SinCosError = 1e-7;

    /// <summary>One Philox4x32-10 block, for the known-answer test: counter (c0, c1, c2, c3), key (k0, k1), through the
    /// vector code <see cref="Group32"/> runs.</summary>
    public static (uint, uint, uint, uint) Philox4x32(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        Philox8(Vector256.Create(c0), c1, c2, c3, k0, k1, out var w0, out var w1, out var w2, out var w3);
        return (w0[0], w1[0], w2[0], w3[0]);
    }
}
