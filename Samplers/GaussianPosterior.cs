using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// A Gaussian over θ for each of K chains: mean μ [K, P], standard deviations σ [K, P] and optional low-rank factors
/// F [K, r, P], already scaled by 1/√r, so that within each block of θ the covariance is diag(σ²) + Σ_k f_k f_kᵀ
/// (METHODS: ELRG, with f_k = v_k/√r); blocks are independent. The tensors may require grad.
/// </summary>
public sealed record GaussianPosterior(Tensor Mean, Tensor Std, Tensor? Factors) : IDisposable
{
    public long Rank => Factors?.shape[1] ?? 0;

    /// <summary>One draw per chain, [K, P]: μ + σ⊙ε + Σ_k z_k f_k with one z ~ N(0, I_r) per chain and block.</summary>
    public Tensor Sample(IReadOnlyList<long> blocks, IReadOnlyList<Generator> generators)
    {
        long chains = Mean.shape[0], p = Mean.shape[1];
        if (generators.Count != chains) throw new ArgumentException($"{chains} chains need {chains} generators, got {generators.Count}");
        if (blocks.Sum() != p) throw new ArgumentException($"blocks cover {blocks.Sum()} entries, θ has {p}");
        using var scope = NewDisposeScope();
        var draws = new Tensor[chains];
        for (int k = 0; k < chains; k++)
        {
            var draw = Mean[k].add(Std[k] * randn([p], dtype: Mean.dtype, device: Mean.device, generator: generators[k]), HeldScalars.One);
            if (Factors is not null && Rank > 0)
            {
                var parts = new List<Tensor>();
                long offset = 0;
                foreach (long size in blocks)
                {
                    var z = randn([1, Rank], dtype: Mean.dtype, device: Mean.device, generator: generators[k]);
                    parts.Add(z.matmul(Factors[k].narrow(1, offset, size)).squeeze(0));
                    offset += size;
                }
                draw = draw.add(cat(parts, 0), HeldScalars.One);
            }
            draws[k] = draw;
        }
        return stack(draws).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Mean.Dispose();
        Std.Dispose();
        Factors?.Dispose();
    }
}

/// <summary>
/// A target that can also evaluate the expected log-likelihood under a Gaussian over θ (what VI maximises). The study
/// implements it with the network's Gaussian forward pass (local reparameterisation); samplers see neither.
/// </summary>
public interface IVariationalLogLikelihood : ILogLikelihood
{
    /// <summary>The pieces of θ in order (sum of counts = P): blocks the low-rank factors do not couple (one per layer),
    /// which pieces are point estimates, each layer's fan for the per-layer prior and how its factors start.</summary>
    IReadOnlyList<VariationalPiece> VariationalPieces { get; }

    /// <summary>One reparameterised Monte-Carlo estimate of E_q[(1/|B|) Σ_{i∈B} log p(yᵢ|xᵢ,θ)] on the current batch
    /// per chain, [K], differentiable with respect to q's tensors; chain k's noise from generators[k].</summary>
    Tensor ExpectedLogLikelihood(GaussianPosterior q, IReadOnlyList<Generator> generators);
}

/// <summary>
/// KL(q ‖ p) in closed form, per chain, [K] in float64. The prior p is N(0, s_b² I) on each block b of θ (one sd for
/// all of θ, or the per-layer prior's sd per layer: <see cref="KlBlocks"/>); deterministic blocks are not in q and add
/// nothing. The KL is a sum over blocks of the formulas below with that block's s_b.
/// </summary>
public static class GaussianKl
{
    /// <summary>METHODS: MFVI. KL(N(μ, diag σ²) ‖ N(0, s²I)) = ½ Σᵢ [(σᵢ² + μᵢ²)/s² − 1 + ln s² − ln σᵢ²].</summary>
    public static Tensor MeanField(Tensor mean, Tensor std, double priorStd) =>
        MeanField(mean, std, KlBlocks.Uniform([mean.shape[1]], priorStd));

    /// <summary><see cref="MeanField(Tensor, Tensor, double)"/> with a prior sd per block (differentiable).</summary>
    public static Tensor MeanField(Tensor mean, Tensor std, KlBlocks blocks)
    {
        CheckCover(blocks, mean);
        using var scope = NewDisposeScope();
        var total = zeros([mean.shape[0]], dtype: ScalarType.Float64, device: mean.device);
        var means = mean.split(blocks.Sizes, 1);
        var stds = std.split(blocks.Sizes, 1);
        for (int b = 0; b < blocks.Sizes.Length; b++)
        {
            if (blocks.IsDeterministic(b) || blocks.Sizes[b] == 0) continue;
            double s2 = blocks.PriorStd[b] * blocks.PriorStd[b];
            // Elementwise in θ's dtype, summed in float64: converting [K, P] (or [K, r, P]) tensors to float64 first cost
            // more than the network's forward pass on the paper's MLP.
            var variance = stds[b].pow(HeldScalars.Two);
            var terms = (variance.add(means[b].pow(HeldScalars.Two), HeldScalars.One)).div_(HeldScalars.Of(s2)).add_(HeldScalars.Of(Math.Log(s2) - 1), HeldScalars.One).sub_(variance.log());
            total = total.add(terms.sum(1, type: ScalarType.Float64).mul(HeldScalars.Of(0.5)), HeldScalars.One);
        }
        return total.MoveToOuterDisposeScope();
    }

    private static void CheckCover(KlBlocks blocks, Tensor mean)
    {
        if (blocks.Sizes.Sum() != mean.shape[1]) throw new ArgumentException($"blocks cover {blocks.Sizes.Sum()} entries, θ has {mean.shape[1]}");
        if (blocks.PriorStd.Length != blocks.Sizes.Length) throw new ArgumentException($"{blocks.Sizes.Length} blocks need {blocks.Sizes.Length} prior sds, got {blocks.PriorStd.Length}");
    }

    /// <summary><see cref="LowRankWithGradient(Tensor, Tensor, Tensor?, KlBlocks)"/> with one prior sd for all of θ.</summary>
    public static KlWithGradient LowRankWithGradient(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<long> blocks, double priorStd) =>
        LowRankWithGradient(mean, std, factors, KlBlocks.Uniform(blocks, priorStd));

    /// <summary>
    /// <see cref="LowRank(Tensor, Tensor, Tensor?, KlBlocks)"/>'s value with its gradients in closed form, without autograd
    /// (VI's step adds them to the expected log-likelihood's; autograd through the KL cost as much as the network's own
    /// backward pass). With W = D^{-1/2} F per block (rows f_k/σ), C = I_r + W Wᵀ and G = C⁻¹ W, since
    /// ∂ ln det C / ∂W = 2 C⁻¹ W, in a block with prior sd s:
    ///   ∂KL/∂μ = μ/s²,   ∂KL/∂σ = σ/s² − 1/σ + Σ_k G_k ⊙ W_k / σ,   ∂KL/∂F = F/s² − G/σ;
    /// all three are 0 in a deterministic block. All tensors are taken as plain values (no grad); the gradients have the
    /// inputs' shapes and dtype.
    /// </summary>
    public static KlWithGradient LowRankWithGradient(Tensor mean, Tensor std, Tensor? factors, KlBlocks blocks)
    {
        CheckCover(blocks, mean);
        using var _ = no_grad();
        if (GaussianKlKernel.Applies(mean, std, factors)) return GaussianKlKernel.Compute(mean, std, factors, blocks);
        return WithTorchOps(mean, std, factors, blocks);
    }

    /// <summary><see cref="WithTorchOps(Tensor, Tensor, Tensor?, KlBlocks)"/> with one prior sd for all of θ.</summary>
    public static KlWithGradient WithTorchOps(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<long> blocks, double priorStd) =>
        WithTorchOps(mean, std, factors, KlBlocks.Uniform(blocks, priorStd));

    /// <summary><see cref="LowRankWithGradient(Tensor, Tensor, Tensor?, KlBlocks)"/> with torch ops: any dtype and device.</summary>
    public static KlWithGradient WithTorchOps(Tensor mean, Tensor std, Tensor? factors, KlBlocks blocks)
    {
        CheckCover(blocks, mean);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool lowRank = factors is not null && factors.shape[1] > 0;
        var value = zeros([mean.shape[0]], dtype: ScalarType.Float64, device: mean.device);
        var dMeans = new List<Tensor>();
        var dStds = new List<Tensor>();
        var dFactors = new List<Tensor>();
        var means = mean.split(blocks.Sizes, 1);
        var stds = std.split(blocks.Sizes, 1);
        var factorBlocks = lowRank ? factors!.split(blocks.Sizes, 2) : null;
        for (int b = 0; b < blocks.Sizes.Length; b++)
        {
            var m = means[b];
            var sd = stds[b];
            if (blocks.IsDeterministic(b))
            {
                dMeans.Add(zeros_like(m));
                dStds.Add(zeros_like(sd));
                if (lowRank) dFactors.Add(zeros_like(factorBlocks![b]));
                continue;
            }
            double s2 = blocks.PriorStd[b] * blocks.PriorStd[b];
            var variance = sd.pow(HeldScalars.Two);
            var terms = (variance.add(m.pow(HeldScalars.Two), HeldScalars.One)).div_(HeldScalars.Of(s2)).add_(HeldScalars.Of(Math.Log(s2) - 1), HeldScalars.One).sub_(variance.log());
            value = value.add(terms.sum(1, type: ScalarType.Float64).mul(HeldScalars.Of(0.5)), HeldScalars.One);
            dMeans.Add(m.div(HeldScalars.Of(s2)));
            var dStd = sd.div(HeldScalars.Of(s2)).sub_(sd.reciprocal());
            if (lowRank)
            {
                var f = factorBlocks![b];
                long rank = f.shape[1];
                var w = f / sd.unsqueeze(1);                                                            // W, [K, r, n_b]
                var capacitance = bmm(w, w.transpose(1, 2)).to_type(ScalarType.Float64).add(eye(rank, dtype: ScalarType.Float64, device: mean.device), HeldScalars.One);
                var cholesky = linalg.cholesky(capacitance);
                var logDet = cholesky.diagonal(dim1: -2, dim2: -1).log().sum(1).mul(HeldScalars.Two);
                var g = bmm(cholesky_inverse(cholesky).to_type(w.dtype), w);                            // G = C⁻¹ W
                value = value.add(f.pow(HeldScalars.Two).sum([1, 2], type: ScalarType.Float64).div(HeldScalars.Of(s2)).sub(logDet).mul(HeldScalars.Of(0.5)), HeldScalars.One);
                dStd.add_(g.mul(w).sum(1).div_(sd), HeldScalars.One);
                dFactors.Add(f.div(HeldScalars.Of(s2)).sub_(g.div_(sd.unsqueeze(1))));
            }
            dStds.Add(dStd);
        }
        return new KlWithGradient(value.MoveToOuterDisposeScope(), cat(dMeans, 1).MoveToOuterDisposeScope(), cat(dStds, 1).MoveToOuterDisposeScope(),
            lowRank ? cat(dFactors, 2).MoveToOuterDisposeScope() : null);
    }

    /// <param name="Value">KL per chain, [K], float64.</param>
    /// <param name="Mean">∂KL/∂μ, [K, P].</param>
    /// <param name="Std">∂KL/∂σ, [K, P].</param>
    /// <param name="Factors">∂KL/∂F for the scaled factors, [K, r, P] (null without factors).</param>
    public sealed record KlWithGradient(Tensor Value, Tensor Mean, Tensor Std, Tensor? Factors);

    /// <summary><see cref="LowRank(Tensor, Tensor, Tensor?, KlBlocks)"/> with one prior sd for all of θ.</summary>
    public static Tensor LowRank(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<long> blocks, double priorStd) =>
        LowRank(mean, std, factors, KlBlocks.Uniform(blocks, priorStd));

    /// <summary>
    /// METHODS: ELRG. Per block, Σ = D + F Fᵀ with D = diag(σ²): tr Σ = Σ σ² + ‖F‖²_F and, by the matrix determinant
    /// lemma, ln det Σ = Σ ln σ² + ln det(I_r + Fᵀ D⁻¹ F), so with the block's prior sd s
    /// KL = KL_mean-field + ½ (‖F‖²_F / s² − ln det(I_r + Fᵀ D⁻¹ F)), summed over the blocks that are not deterministic.
    /// Without factors it is the mean-field KL. Differentiable (autograd): the reference the closed-form gradient is
    /// tested against.
    /// </summary>
    public static Tensor LowRank(Tensor mean, Tensor std, Tensor? factors, KlBlocks blocks)
    {
        if (factors is null || factors.shape[1] == 0) return MeanField(mean, std, blocks);
        CheckCover(blocks, mean);
        using var scope = NewDisposeScope();
        long rank = factors.shape[1];
        var lowRank = zeros([mean.shape[0]], dtype: ScalarType.Float64, device: mean.device);
        var identity = eye(rank, dtype: ScalarType.Float64, device: mean.device);
        // One split rather than a narrow per block: a narrow's backward allocates a zero tensor of its whole input.
        // Whitened per block, so that a deterministic block's σ = 0 never divides anything.
        var stdBlocks = std.split(blocks.Sizes, 1);
        var factorBlocks = factors.split(blocks.Sizes, 2);
        for (int b = 0; b < blocks.Sizes.Length; b++)
        {
            if (blocks.IsDeterministic(b)) continue;
            var w = factorBlocks[b] / stdBlocks[b].unsqueeze(1);        // D^{-1/2} F, [K, r, n_b]
            var capacitance = bmm(w, w.transpose(1, 2)).to_type(ScalarType.Float64).add(identity, HeldScalars.One); // I_r + Fᵀ D⁻¹ F, [K, r, r]
            var cholesky = linalg.cholesky(capacitance);
            var logDet = cholesky.diagonal(dim1: -2, dim2: -1).log().sum(1).mul(HeldScalars.Two);
            double s2 = blocks.PriorStd[b] * blocks.PriorStd[b];
            lowRank = lowRank.add(factorBlocks[b].pow(HeldScalars.Two).sum([1, 2], type: ScalarType.Float64).div(HeldScalars.Of(s2)).sub(logDet).mul(HeldScalars.Of(0.5)), HeldScalars.One);
        }
        return (MeanField(mean, std, blocks).add(lowRank, HeldScalars.One)).MoveToOuterDisposeScope();
    }
}
