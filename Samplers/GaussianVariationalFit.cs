using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Gaussian variational inference by reparameterised gradients, shared by <see cref="MeanFieldVi"/> (rank 0) and
/// <see cref="Elrg"/> (rank r). Per chain, q = N(μ, diag(σ²) + (1/r) Σ_k v_k v_kᵀ) within each block of θ (one per layer),
/// σ = softplus(ρ). Adam (Kingma &amp; Ba 2015) ascends the per-datum ELBO (METHODS: MFVI, ELRG)
///   (1/|B|) Σ_{i∈B} E_q[log p(yᵢ|xᵢ,θ)] − (T/N) KL(q ‖ p),
/// the expectation by one reparameterised draw per step (local reparameterisation in the network's Linear layers),
/// the KL in closed form and summed over all trainable entries (fixed W-Asym entries are not in θ: zero variance).
/// The prior p is N(0, σ_p² I), or with <see cref="Tempering.PriorPrecision"/> λ the paper's per-layer prior: each
/// layer's weight and bias ~ N(0, 1/(λ·fan)), fan = out_features of a Linear, in_channels of a convolution. As in the
/// paper's reference code, the pieces the target marks deterministic (normalisation layers' γ, β) are point estimates:
/// σ = 0, no factors, no KL term; Adam fits their mean on the expected log-likelihood with everything else. The
/// factors start per piece as <see cref="VariationalPiece.FactorInit"/> says (reference: 0.5·sd(W₀)/√r for a Linear
/// weight, 0.01 for a bias, 0 for a convolution), pieces without a rule at <see cref="InitStd"/>.
/// Adam is written out rather than taken from torch.optim so that all chains live in one [K, …] tensor updated in
/// place, like every other sampler's state, and the step size can follow a schedule.
/// </summary>
public abstract class GaussianVariationalFit : ISampler
{
    private const double Beta1 = 0.9, Beta2 = 0.999, AdamEpsilon = 1e-8;

    protected GaussianVariationalFit(string name, Tempering tempering, double stepSize, double initStd, int rank,
        double fixedLogVariance, int totalSteps, double finalStepFraction)
    {
        tempering.Validate();
        if (!(stepSize > 0) || double.IsInfinity(stepSize)) throw new ArgumentException($"{name}: step size must be a positive number, got {stepSize}");
        if (!(initStd > 0) || double.IsInfinity(initStd)) throw new ArgumentException($"{name}: init_std must be a positive number, got {initStd}");
        if (rank < 0) throw new ArgumentException($"{name}: rank must be 0 or more, got {rank}");
        if (double.IsInfinity(fixedLogVariance)) throw new ArgumentException($"{name}: fixed_log_var must be finite, or NaN for a learned variance");
        if (!(finalStepFraction > 0 && finalStepFraction <= 1)) throw new ArgumentException($"{name}: final_step_fraction must be in (0, 1], got {finalStepFraction}");
        Name = name; Tempering = tempering; StepSize = stepSize; InitStd = initStd; Rank = rank;
        FixedLogVariance = fixedLogVariance; TotalSteps = totalSteps; FinalStepFraction = finalStepFraction;
    }

    public string Name { get; }
    public Tempering Tempering { get; }
    /// <summary>Adam's learning rate at the first step.</summary>
    public double StepSize { get; }
    /// <summary>σ at initialisation (and the scale of the initial random factors).</summary>
    public double InitStd { get; }
    public int Rank { get; }
    /// <summary>log σ² held fixed (only μ and V learned), or NaN when σ is learned.</summary>
    public double FixedLogVariance { get; }
    public bool LearnsVariance => double.IsNaN(FixedLogVariance);
    /// <summary>Steps over which the step size decays (cosine) to StepSize·FinalStepFraction; 0 or less: constant.</summary>
    public int TotalSteps { get; }
    public double FinalStepFraction { get; }

    public SamplerKind Kind => SamplerKind.Fitted;
    public IReadOnlyList<string> ExtraStats => ["kl", "elbo"];

    public virtual IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object>
    {
        ["step_size"] = StepSize,
        ["init_std"] = InitStd,
        ["final_step_fraction"] = FinalStepFraction,
        ["optimizer"] = "adam(0.9, 0.999, 1e-8)",
        ["objective"] = "mean_B E_q log p(y|x,theta) - (T/N) KL(q || prior); norm layers point estimates",
        ["factor_init"] = "Linear weight 0.5 sd(W0)/sqrt(r), bias 0.01, convolution 0, otherwise init_std",
    };

    /// <summary>The step size of iteration t (0-based): cosine decay from η to η·f over <see cref="TotalSteps"/>.</summary>
    public double StepSizeAt(long t)
    {
        if (TotalSteps <= 0 || FinalStepFraction == 1) return StepSize;
        double progress = Math.Min(t, TotalSteps) / (double)TotalSteps;
        return StepSize * (FinalStepFraction + (1 - FinalStepFraction) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <param name="position">θ₀ [K, P], taken as the initial mean.</param>
    public SamplerState Init(Tensor position)
    {
        if (position.dim() != 2) throw new ArgumentException($"{Name}: θ₀ must be [chains, P], got [{string.Join(",", position.shape)}]");
        double sigma = LearnsVariance ? InitStd : Math.Exp(FixedLogVariance / 2);
        // ρ = softplus⁻¹(σ) = σ + ln(1 − e^{−σ}) (no overflow for large σ; relative error ~1e-16/σ for small σ).
        // State tensors outlive any dispose scope the caller has open.
        var rho = full_like(position, HeldScalars.Of(sigma + Math.Log(1 - Math.Exp(-sigma)))).DetachFromDisposeScope();
        return new VariationalState(position, rho);
    }

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators)
    {
        var s = (VariationalState)state;
        if (target is not IVariationalLogLikelihood variational)
            throw new ArgumentException($"{Name} fits a Gaussian over θ and needs a target that evaluates the expected log-likelihood under it " +
                $"(IVariationalLogLikelihood); {target.GetType().Name} does not");
        int chains = (int)s.Position.shape[0];
        if (generators.Count != chains) throw new ArgumentException($"{Name}: {chains} chains need {chains} generators, got {generators.Count}");
        var pieces = variational.VariationalPieces;
        if (s.Blocks is null) StartFitting(s, pieces, generators);
        var klBlocks = KlBlocks.From(pieces, Tempering);
        if (!klBlocks.Sizes.SequenceEqual(s.Blocks!))
            throw new ArgumentException($"{Name}: the target's blocks [{string.Join(",", klBlocks.Sizes)}] are not the fit's [{string.Join(",", s.Blocks!)}]");
        s.VariationalMask ??= MaskOf(pieces, s.Position);

        using var scope = NewDisposeScope();
        var mean = s.Position.detach().requires_grad_(true);
        var rho = LearnsVariance ? s.Rho.detach().requires_grad_(true) : s.Rho;
        var factors = s.Factors?.detach().requires_grad_(true);
        var q = Posterior(mean, rho, factors, s.VariationalMask);
        var expected = variational.ExpectedLogLikelihood(q, generators);                          // [K]
        expected.sum().backward();

        using (no_grad())
        {
            // The KL's part of the ELBO's gradient in closed form, chained through σ = softplus(ρ) and F = V/√r.
            double klWeight = Tempering.Temperature / Tempering.TrainingSize;
            var kl = GaussianKl.LowRankWithGradient(q.Mean.detach(), q.Std.detach(), q.Factors?.detach(), klBlocks);
            var elbo = expected.detach().to_type(ScalarType.Float64) - kl.Value * HeldScalars.Of(klWeight);
            var meanGradient = (mean.grad ?? zeros_like(mean)).add_(kl.Mean, alpha: HeldScalars.Of(-klWeight));
            var updates = new List<(Tensor Value, Tensor Gradient, AdamMoments Moments)> { (s.Position, meanGradient, s.MeanMoments) };
            if (LearnsVariance)
                updates.Add((s.Rho, (rho.grad ?? zeros_like(rho)).add_(kl.Std.mul_(s.Rho.sigmoid()), alpha: HeldScalars.Of(-klWeight)), s.RhoMoments!));
            if (factors is not null)
                updates.Add((s.Factors!, (factors.grad ?? zeros_like(factors)).add_(kl.Factors!, alpha: HeldScalars.Of(-klWeight / Math.Sqrt(Rank))), s.FactorMoments!));

            double eta = StepSizeAt(s.Iteration);
            s.Iteration++;
            var squaredNorm = zeros([chains], dtype: ScalarType.Float64);
            foreach (var (value, gradient, moments) in updates)
            {
                squaredNorm = squaredNorm.add(gradient.reshape(chains, -1).norm(1).to_type(ScalarType.Float64).pow(HeldScalars.Two).cpu(), HeldScalars.One);
                moments.Ascend(value, gradient, eta, s.Iteration);
            }

            double[] logLik = expected.detach().to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            double[] klValues = kl.Value.cpu().data<double>().ToArray();
            double[] elboValues = elbo.detach().cpu().data<double>().ToArray();
            double[] gradNorm = squaredNorm.sqrt().data<double>().ToArray();
            double[] logPrior = ExpectedLogPrior(q, klBlocks);
            var lp = new double[chains];
            var diverging = new bool[chains];
            for (int k = 0; k < chains; k++)
            {
                lp[k] = Tempering.TrainingSize * logLik[k] + logPrior[k];
                diverging[k] = !double.IsFinite(elboValues[k]) || !double.IsFinite(gradNorm[k]);
            }
            return new StepInfo(logLik, lp, gradNorm, eta, diverging)
            {
                Extra = new Dictionary<string, double[]> { ["kl"] = klValues, ["elbo"] = elboValues },
            };
        }
    }

    /// <summary>A fresh draw of θ from each chain's fitted q, [K, P].</summary>
    public Tensor Draw(SamplerState state, IReadOnlyList<Generator> generators)
    {
        var s = (VariationalState)state;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var q = Posterior(s.Position, s.Rho, s.Factors, s.VariationalMask);
        return q.Sample(s.Blocks ?? [s.Position.shape[1]], generators).MoveToOuterDisposeScope();
    }

    /// <summary>Each chain's current q (μ, σ, factors scaled by 1/√r), as detached copies the caller owns.</summary>
    public GaussianPosterior Posterior(SamplerState state)
    {
        var s = (VariationalState)state;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var q = Posterior(s.Position, s.Rho, s.Factors, s.VariationalMask);
        return new GaussianPosterior(q.Mean.clone().MoveToOuterDisposeScope(), q.Std.clone().MoveToOuterDisposeScope(),
            q.Factors?.clone().MoveToOuterDisposeScope());
    }

    private static readonly Scalar SoftplusThreshold = 20.ToScalar();

    /// <summary>
    /// softplus(ρ) = ln(1 + e^ρ) as torch computes it (β 1, threshold 20: ρ itself above 20), written with operations
    /// that take held Scalars: TorchSharp's softplus converts its β and threshold to Scalars nobody holds (see HeldScalars).
    /// The clamp keeps e^ρ finite in the branch <c>where</c> discards, so its gradient there is 0, not NaN.
    /// </summary>
    private static Tensor Softplus(Tensor rho) =>
        where(rho.gt(SoftplusThreshold), rho, rho.clamp_max(SoftplusThreshold).exp().log1p());

    /// <summary>q's tensors: σ (softplus(ρ) or the fixed value) and the factors scaled by 1/√r, both zeroed on the
    /// deterministic pieces by <paramref name="mask"/> ([1, P], 1 where θ is in q; null: all of θ).</summary>
    private GaussianPosterior Posterior(Tensor mean, Tensor rho, Tensor? factors, Tensor? mask)
    {
        var std = LearnsVariance ? Softplus(rho) : full_like(mean, HeldScalars.Of(Math.Exp(FixedLogVariance / 2)));
        var scaled = factors?.mul(HeldScalars.Of(1 / Math.Sqrt(Rank)));
        if (mask is not null)
        {
            std = std.mul(mask);
            scaled = scaled?.mul(mask.unsqueeze(1));
        }
        return new GaussianPosterior(mean, std, scaled);
    }

    /// <summary>[1, P] with 0 on the deterministic pieces and 1 elsewhere; null when no piece is deterministic.</summary>
    private static Tensor? MaskOf(IReadOnlyList<VariationalPiece> pieces, Tensor position)
    {
        if (!pieces.Any(p => p.Deterministic)) return null;
        var values = new float[position.shape[1]];
        long offset = 0;
        foreach (var piece in pieces)
        {
            if (!piece.Deterministic) Array.Fill(values, 1f, (int)offset, (int)piece.Count);
            offset += piece.Count;
        }
        return tensor(values, [1, values.Length]).to(position.dtype, position.device).DetachFromDisposeScope();
    }

    /// <summary>At the first step, when the target tells the pieces: the blocks, and random factors v from each chain's
    /// generator, entries N(0, sd²) with each piece's sd (<see cref="VariationalPiece.FactorInit"/>; 0 on deterministic
    /// pieces). v = 0 is a stationary point of the ELBO in expectation; the reference code's convolutions start there
    /// all the same, and a single-draw gradient moves them off it.</summary>
    private void StartFitting(VariationalState s, IReadOnlyList<VariationalPiece> pieces, IReadOnlyList<Generator> generators)
    {
        long p = s.Position.shape[1];
        long covered = pieces.Sum(x => x.Count);
        if (covered != p) throw new ArgumentException($"{Name}: the target's pieces cover {covered} entries, θ has {p}");
        s.Blocks = KlBlocks.From(pieces, Tempering).Sizes;
        if (LearnsVariance) s.RhoMoments = new AdamMoments(s.Rho);
        if (Rank == 0) return;
        using var scope = NewDisposeScope();
        var scale = FactorScales(pieces, s.Position);                                                   // [K, 1, P]
        var factors = stack(generators.Select(g =>
            randn([Rank, p], dtype: s.Position.dtype, device: s.Position.device, generator: g)).ToArray()).mul_(scale);
        s.Factors = factors.DetachFromDisposeScope();
        s.FactorMoments = new AdamMoments(s.Factors);
    }

    /// <summary>The initial factors' sd per chain and entry, [K, 1, P].</summary>
    private Tensor FactorScales(IReadOnlyList<VariationalPiece> pieces, Tensor position)
    {
        long chains = position.shape[0];
        var parts = new List<Tensor>();
        long offset = 0;
        foreach (var piece in pieces)
        {
            var shape = new long[] { chains, piece.Count };
            if (piece.Deterministic) parts.Add(zeros(shape, dtype: position.dtype, device: position.device));
            else if (piece.FactorInit is not { } init) parts.Add(full(shape, HeldScalars.Of(InitStd), dtype: position.dtype, device: position.device));
            else if (!init.RelativeToMean) parts.Add(full(shape, HeldScalars.Of(init.Scale), dtype: position.dtype, device: position.device));
            else
            {
                // Scale·sd(μ₀ of the piece)/√r, per chain (the unbiased sample sd, as torch's std()).
                var sd = piece.Count > 1 ? position.narrow(1, offset, piece.Count).std(1, keepdim: true) : zeros([chains, 1], dtype: position.dtype, device: position.device);
                parts.Add(sd.mul(HeldScalars.Of(init.Scale / Math.Sqrt(Rank))).expand(shape));
            }
            offset += piece.Count;
        }
        return cat(parts, 1).unsqueeze(1);
    }

    /// <summary>E_q[log p(θ)] with the prior N(0, s_b² I) of each block b in q: Σ_b [−½ Σ_{i∈b} (μᵢ² + Var_q θᵢ)/s_b² −
    /// (n_b/2) ln(2π s_b²)], per chain; deterministic blocks have no prior.</summary>
    private static double[] ExpectedLogPrior(GaussianPosterior q, KlBlocks blocks)
    {
        using var scope = NewDisposeScope();
        long chains = q.Mean.shape[0];
        var result = new double[chains];
        long offset = 0;
        for (int b = 0; b < blocks.Sizes.Length; b++)
        {
            long n = blocks.Sizes[b];
            if (!blocks.IsDeterministic(b) && n > 0)
            {
                double s2 = blocks.PriorStd[b] * blocks.PriorStd[b];
                // Sums of squares as per-chain dot products: one read of each tensor and no [K, r, P] temporary.
                for (long k = 0; k < chains; k++)
                {
                    double squares = SumOfSquares(q.Mean[k].narrow(0, offset, n)) + SumOfSquares(q.Std[k].narrow(0, offset, n))
                        + (q.Factors is null ? 0 : SumOfSquares(q.Factors[k].narrow(1, offset, n)));
                    result[k] += -0.5 / s2 * squares - 0.5 * n * Math.Log(2 * Math.PI * s2);
                }
            }
            offset += n;
        }
        return result;
    }

    private static double SumOfSquares(Tensor t)
    {
        var flat = t.detach().reshape(-1);
        return flat.dot(flat).to_type(ScalarType.Float64).item<double>();
    }

    /// <summary>Adam's first and second moments for one tensor, updated in place; ascends (maximises).</summary>
    internal sealed class AdamMoments(Tensor like) : IDisposable
    {
        private readonly Tensor _first = zeros_like(like).DetachFromDisposeScope(), _second = zeros_like(like).DetachFromDisposeScope();

        public void Ascend(Tensor value, Tensor gradient, double stepSize, long t)
        {
            if (FusedAdam.Applies(value, gradient, _first, _second))
            {
                FusedAdam.Ascend(value, gradient, _first, _second, Beta1, Beta2, AdamEpsilon,
                    stepSize / (1 - Math.Pow(Beta1, t)), 1 - Math.Pow(Beta2, t));
                return;
            }
            _first.mul_(HeldScalars.Of(Beta1)).add_(gradient, alpha: HeldScalars.Of(1 - Beta1));
            _second.mul_(HeldScalars.Of(Beta2)).addcmul_(gradient, gradient, value: HeldScalars.Of(1 - Beta2));
            double correctedStep = stepSize / (1 - Math.Pow(Beta1, t));
            using var denominator = _second.div(HeldScalars.Of(1 - Math.Pow(Beta2, t))).sqrt_().add_(HeldScalars.Of(AdamEpsilon), HeldScalars.One);
            value.addcdiv_(_first, denominator, value: HeldScalars.Of(correctedStep));
        }

        public void Save(StateWriter writer, string name)
        {
            writer.Tensor($"{name}.first", _first);
            writer.Tensor($"{name}.second", _second);
        }

        public void Load(StateReader reader, string name)
        {
            reader.Tensor($"{name}.first", _first);
            reader.Tensor($"{name}.second", _second);
        }

        public void Dispose()
        {
            _first.Dispose();
            _second.Dispose();
        }
    }
}

/// <summary>The state of a Gaussian VI fit: <see cref="SamplerState.Position"/> is the mean μ [K, P]; ρ [K, P] gives
/// σ = softplus(ρ); the raw factors V [K, r, P] (covariance term (1/r) Σ_k v_k v_kᵀ) start at the first step.</summary>
public sealed class VariationalState(Tensor mean, Tensor rho) : SamplerState(mean)
{
    public Tensor Rho { get; } = rho;
    public Tensor? Factors { get; internal set; }
    public IReadOnlyList<long>? Blocks { get; internal set; }
    /// <summary>[1, P]: 1 where θ is in q, 0 on deterministic pieces; null when none is (or before the first step).</summary>
    internal Tensor? VariationalMask { get; set; }
    internal GaussianVariationalFit.AdamMoments MeanMoments { get; } = new(mean);
    internal GaussianVariationalFit.AdamMoments? RhoMoments { get; set; }
    internal GaussianVariationalFit.AdamMoments? FactorMoments { get; set; }

    /// <summary>μ, ρ, Adam's moments (its step counter is the iteration) and, once fitting has started, the blocks, the
    /// factors and their moments.</summary>
    public override void Save(StateWriter writer)
    {
        base.Save(writer);
        writer.Tensor("rho", Rho);
        MeanMoments.Save(writer, "mean_moments");
        if (Blocks is not null) writer.Longs("blocks", Blocks);
        if (VariationalMask is not null) writer.Tensor("variational_mask", VariationalMask);
        RhoMoments?.Save(writer, "rho_moments");
        if (Factors is not null)
        {
            writer.Tensor("factors", Factors);
            FactorMoments!.Save(writer, "factor_moments");
        }
    }

    /// <summary>Restores what <see cref="Save"/> wrote; buffers created at the first step (factors, ρ's moments) are
    /// created here when the checkpoint has them and the state does not.</summary>
    public override void Load(StateReader reader)
    {
        base.Load(reader);
        reader.Tensor("rho", Rho);
        MeanMoments.Load(reader, "mean_moments");
        Blocks = reader.Has("blocks") ? reader.Longs("blocks") : null;
        VariationalMask?.Dispose();
        VariationalMask = reader.Has("variational_mask") ? reader.NewTensor("variational_mask", Position.device) : null;

        if (reader.Has("rho_moments.first"))
        {
            RhoMoments ??= new GaussianVariationalFit.AdamMoments(Rho);
            RhoMoments.Load(reader, "rho_moments");
        }
        else
        {
            RhoMoments?.Dispose();
            RhoMoments = null;
        }

        if (reader.Has("factors"))
        {
            if (Factors is null)
            {
                Factors = reader.NewTensor("factors", Position.device);
                FactorMoments = new GaussianVariationalFit.AdamMoments(Factors);
            }
            else reader.Tensor("factors", Factors);
            FactorMoments!.Load(reader, "factor_moments");
        }
        else
        {
            Factors?.Dispose();
            FactorMoments?.Dispose();
            Factors = null;
            FactorMoments = null;
        }
    }

    public override void Dispose()
    {
        Rho.Dispose();
        VariationalMask?.Dispose();
        Factors?.Dispose();
        MeanMoments.Dispose();
        RhoMoments?.Dispose();
        FactorMoments?.Dispose();
        base.Dispose();
    }
}
