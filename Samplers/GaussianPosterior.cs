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
            var draw = Mean[k] + Std[k] * randn([p], dtype: Mean.dtype, device: Mean.device, generator: generators[k]);
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
                draw = draw + cat(parts, 0);
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
    /// <summary>Sizes, in order, of the blocks of θ that low-rank factors do not couple (one per layer); sum = P.</summary>
    IReadOnlyList<long> FactorBlocks { get; }

    /// <summary>One reparameterised Monte-Carlo estimate of E_q[(1/|B|) Σ_{i∈B} log p(yᵢ|xᵢ,θ)] on the current batch
    /// per chain, [K], differentiable with respect to q's tensors; chain k's noise from generators[k].</summary>
    Tensor ExpectedLogLikelihood(GaussianPosterior q, IReadOnlyList<Generator> generators);
}

/// <summary>KL(q ‖ N(0, s²I)) in closed form, per chain, [K] in float64 (differentiable).</summary>
public static class GaussianKl
{
    /// <summary>METHODS: MFVI. KL(N(μ, diag σ²) ‖ N(0, s²I)) = ½ Σᵢ [(σᵢ² + μᵢ²)/s² − 1 + ln s² − ln σᵢ²].</summary>
    public static Tensor MeanField(Tensor mean, Tensor std, double priorStd)
    {
        using var scope = NewDisposeScope();
        double s2 = priorStd * priorStd;
        // Elementwise in θ's dtype, summed in float64: converting [K, P] (or [K, r, P]) tensors to float64 first cost more
        // than the network's forward pass on the paper's MLP.
        var variance = std.square();
        var terms = (variance + mean.square()).div_(s2).add_(Math.Log(s2) - 1).sub_(variance.log());
        return terms.sum(1, type: ScalarType.Float64).mul(0.5).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="LowRank"/>'s value with its gradients in closed form, without autograd (VI's step adds them to the
    /// expected log-likelihood's; autograd through the KL cost as much as the network's own backward pass). With
    /// W = D^{-1/2} F per block (rows f_k/σ), C = I_r + W Wᵀ and G = C⁻¹ W, since ∂ ln det C / ∂W = 2 C⁻¹ W:
    ///   ∂KL/∂μ = μ/s²,   ∂KL/∂σ = σ/s² − 1/σ + Σ_k G_k ⊙ W_k / σ,   ∂KL/∂F = F/s² − G/σ.
    /// All tensors are taken as plain values (no grad); the gradients have the inputs' shapes and dtype.
    /// </summary>
    public static KlWithGradient LowRankWithGradient(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<long> blocks, double priorStd)
    {
        if (blocks.Sum() != mean.shape[1]) throw new ArgumentException($"blocks cover {blocks.Sum()} entries, θ has {mean.shape[1]}");
        using var _ = no_grad();
        if (GaussianKlKernel.Applies(mean, std, factors)) return GaussianKlKernel.Compute(mean, std, factors, blocks, priorStd);
        return WithTorchOps(mean, std, factors, blocks, priorStd);
    }

    /// <summary><see cref="LowRankWithGradient"/> with torch ops: any dtype and device.</summary>
    public static KlWithGradient WithTorchOps(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<long> blocks, double priorStd)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        double s2 = priorStd * priorStd;
        var variance = std.square();
        var terms = (variance + mean.square()).div_(s2).add_(Math.Log(s2) - 1).sub_(variance.log());
        var value = terms.sum(1, type: ScalarType.Float64).mul(0.5);
        var dMean = mean.div(s2);
        var dStd = std.div(s2).sub_(std.reciprocal());
        Tensor? dFactors = null;
        if (factors is not null && factors.shape[1] > 0)
        {
            long rank = factors.shape[1];
            var whitened = factors / std.unsqueeze(1);                                  // W, [K, r, P]
            var identity = eye(rank, dtype: ScalarType.Float64, device: mean.device);
            var logDet = zeros([mean.shape[0]], dtype: ScalarType.Float64, device: mean.device);
            var pieces = new List<Tensor>();
            foreach (var w in whitened.split(blocks.ToArray(), 2))
            {
                var capacitance = bmm(w, w.transpose(1, 2)).to_type(ScalarType.Float64) + identity;  // C, [K, r, r]
                var cholesky = linalg.cholesky(capacitance);
                logDet = logDet + cholesky.diagonal(dim1: -2, dim2: -1).log().sum(1).mul(2);
                pieces.Add(bmm(cholesky_inverse(cholesky).to_type(w.dtype), w));            // G = C⁻¹ W
            }
            var g = cat(pieces, 2);
            value = value + factors.square().sum([1, 2], type: ScalarType.Float64).div(s2).sub(logDet).mul(0.5);
            dStd.add_(g.mul(whitened).sum(1).div_(std));
            dFactors = factors.div(s2).sub_(g.div_(std.unsqueeze(1)));
        }
        return new KlWithGradient(value.MoveToOuterDisposeScope(), dMean.MoveToOuterDisposeScope(), dStd.MoveToOuterDisposeScope(),
            dFactors?.MoveToOuterDisposeScope());
    }

    /// <param name="Value">KL per chain, [K], float64.</param>
    /// <param name="Mean">∂KL/∂μ, [K, P].</param>
    /// <param name="Std">∂KL/∂σ, [K, P].</param>
    /// <param name="Factors">∂KL/∂F for the scaled factors, [K, r, P] (null without factors).</param>
    public sealed record KlWithGradient(Tensor Value, Tensor Mean, Tensor Std, Tensor? Factors);

    /// <summary>
    /// METHODS: ELRG. Per block, Σ = D + F Fᵀ with D = diag(σ²): tr Σ = Σ σ² + ‖F‖²_F and, by the matrix determinant
    /// lemma, ln det Σ = Σ ln σ² + ln det(I_r + Fᵀ D⁻¹ F), so
    /// KL = KL_mean-field + ½ (‖F‖²_F / s² − Σ_blocks ln det(I_r + Fᵀ D⁻¹ F)). Without factors it is the mean-field KL.
    /// </summary>
    public static Tensor LowRank(Tensor mean, Tensor std, Tensor? factors, IReadOnlyList<long> blocks, double priorStd)
    {
        if (factors is null || factors.shape[1] == 0) return MeanField(mean, std, priorStd);
        if (blocks.Sum() != mean.shape[1]) throw new ArgumentException($"blocks cover {blocks.Sum()} entries, θ has {mean.shape[1]}");
        using var scope = NewDisposeScope();
        long rank = factors.shape[1];
        var whitened = factors / std.unsqueeze(1);                      // D^{-1/2} F per chain, [K, r, P]
        var logDetCapacitance = zeros([mean.shape[0]], dtype: ScalarType.Float64, device: mean.device);
        var identity = eye(rank, dtype: ScalarType.Float64, device: mean.device);
        // One split rather than a narrow per block: a narrow's backward allocates a zero tensor of its whole input.
        foreach (var w in whitened.split(blocks.ToArray(), 2))
        {
            var capacitance = bmm(w, w.transpose(1, 2)).to_type(ScalarType.Float64) + identity; // I_r + Fᵀ D⁻¹ F, [K, r, r]
            var cholesky = linalg.cholesky(capacitance);
            logDetCapacitance = logDetCapacitance + cholesky.diagonal(dim1: -2, dim2: -1).log().sum(1).mul(2);
        }
        var lowRank = factors.square().sum([1, 2], type: ScalarType.Float64).div(priorStd * priorStd).sub(logDetCapacitance).mul(0.5);
        return (MeanField(mean, std, priorStd) + lowRank).MoveToOuterDisposeScope();
    }
}
