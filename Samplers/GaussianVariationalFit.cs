using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Gaussian variational inference by reparameterised gradients, shared by <see cref="MeanFieldVi"/> (rank 0) and
/// <see cref="Elrg"/> (rank r). Per chain, q = N(μ, diag(σ²) + (1/r) Σ_k v_k v_kᵀ) within each block of θ (one per layer),
/// σ = softplus(ρ). Adam (Kingma &amp; Ba 2015) ascends the per-datum ELBO (METHODS: MFVI, ELRG)
///   (1/|B|) Σ_{i∈B} E_q[log p(yᵢ|xᵢ,θ)] − (T/N) KL(q ‖ N(0, σ_p² I)),
/// the expectation by one reparameterised draw per step (local reparameterisation in the network's Linear layers),
/// the KL in closed form and summed over all trainable entries (fixed W-Asym entries are not in θ: zero variance).
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
        ["objective"] = "mean_B E_q log p(y|x,theta) - (T/N) KL(q || N(0, prior_std^2 I))",
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
        var rho = full_like(position, sigma + Math.Log(1 - Math.Exp(-sigma))).DetachFromDisposeScope();
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
        if (s.Blocks is null) StartFitting(s, variational.FactorBlocks, generators);

        using var scope = NewDisposeScope();
        var mean = s.Position.detach().requires_grad_(true);
        var rho = LearnsVariance ? s.Rho.detach().requires_grad_(true) : s.Rho;
        var factors = s.Factors?.detach().requires_grad_(true);
        var q = Posterior(mean, rho, factors);
        var expected = variational.ExpectedLogLikelihood(q, generators);                          // [K]
        expected.sum().backward();

        using (no_grad())
        {
            // The KL's part of the ELBO's gradient in closed form, chained through σ = softplus(ρ) and F = V/√r.
            double klWeight = Tempering.Temperature / Tempering.TrainingSize;
            var kl = GaussianKl.LowRankWithGradient(q.Mean.detach(), q.Std.detach(), q.Factors?.detach(), s.Blocks!, Tempering.PriorStd);
            var elbo = expected.detach().to_type(ScalarType.Float64) - kl.Value * klWeight;
            var meanGradient = (mean.grad ?? zeros_like(mean)).add_(kl.Mean, alpha: -klWeight);
            var updates = new List<(Tensor Value, Tensor Gradient, AdamMoments Moments)> { (s.Position, meanGradient, s.MeanMoments) };
            if (LearnsVariance)
                updates.Add((s.Rho, (rho.grad ?? zeros_like(rho)).add_(kl.Std.mul_(s.Rho.sigmoid()), alpha: -klWeight), s.RhoMoments!));
            if (factors is not null)
                updates.Add((s.Factors!, (factors.grad ?? zeros_like(factors)).add_(kl.Factors!, alpha: -klWeight / Math.Sqrt(Rank)), s.FactorMoments!));

            double eta = StepSizeAt(s.Iteration);
            s.Iteration++;
            var squaredNorm = zeros([chains], dtype: ScalarType.Float64);
            foreach (var (value, gradient, moments) in updates)
            {
                squaredNorm += gradient.reshape(chains, -1).norm(1).to_type(ScalarType.Float64).square().cpu();
                moments.Ascend(value, gradient, eta, s.Iteration);
            }

            double[] logLik = expected.detach().to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            double[] klValues = kl.Value.cpu().data<double>().ToArray();
            double[] elboValues = elbo.detach().cpu().data<double>().ToArray();
            double[] gradNorm = squaredNorm.sqrt().data<double>().ToArray();
            double[] logPrior = ExpectedLogPrior(q);
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
        var q = Posterior(s.Position, s.Rho, s.Factors);
        return q.Sample(s.Blocks ?? [s.Position.shape[1]], generators).MoveToOuterDisposeScope();
    }

    /// <summary>Each chain's current q (μ, σ, factors scaled by 1/√r), as detached copies the caller owns.</summary>
    public GaussianPosterior Posterior(SamplerState state)
    {
        var s = (VariationalState)state;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var q = Posterior(s.Position, s.Rho, s.Factors);
        return new GaussianPosterior(q.Mean.clone().MoveToOuterDisposeScope(), q.Std.clone().MoveToOuterDisposeScope(),
            q.Factors?.clone().MoveToOuterDisposeScope());
    }

    private GaussianPosterior Posterior(Tensor mean, Tensor rho, Tensor? factors)
    {
        var std = LearnsVariance ? nn.functional.softplus(rho) : full_like(mean, Math.Exp(FixedLogVariance / 2));
        return new GaussianPosterior(mean, std, factors?.mul(1 / Math.Sqrt(Rank)));
    }

    /// <summary>At the first step, when the target tells the blocks: random factors v ~ InitStd·N(0, I) from each
    /// chain's generator (v = 0 is a stationary point of the ELBO, so the factors must start away from it).</summary>
    private void StartFitting(VariationalState s, IReadOnlyList<long> blocks, IReadOnlyList<Generator> generators)
    {
        long p = s.Position.shape[1];
        if (blocks.Sum() != p) throw new ArgumentException($"{Name}: the target's blocks cover {blocks.Sum()} entries, θ has {p}");
        s.Blocks = blocks.ToArray();
        if (LearnsVariance) s.RhoMoments = new AdamMoments(s.Rho);
        if (Rank == 0) return;
        using var scope = NewDisposeScope();
        var factors = stack(generators.Select(g =>
            randn([Rank, p], dtype: s.Position.dtype, device: s.Position.device, generator: g).mul_(InitStd)).ToArray());
        s.Factors = factors.DetachFromDisposeScope();
        s.FactorMoments = new AdamMoments(s.Factors);
    }

    /// <summary>E_q[log p(θ)] for N(0, s²I): −½ Σᵢ (μᵢ² + Var_q θᵢ)/s² − (P/2) ln(2πs²), per chain.</summary>
    private double[] ExpectedLogPrior(GaussianPosterior q)
    {
        using var scope = NewDisposeScope();
        double s2 = Tempering.PriorStd * Tempering.PriorStd;
        // Sums of squares as per-chain dot products: one read of each tensor and no [K, r, P] temporary.
        long chains = q.Mean.shape[0];
        var result = new double[chains];
        for (long k = 0; k < chains; k++)
        {
            double squares = SumOfSquares(q.Mean[k]) + SumOfSquares(q.Std[k]) + (q.Factors is null ? 0 : SumOfSquares(q.Factors[k]));
            result[k] = -0.5 / s2 * squares - 0.5 * q.Mean.shape[1] * Math.Log(2 * Math.PI * s2);
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
            _first.mul_(Beta1).add_(gradient, alpha: 1 - Beta1);
            _second.mul_(Beta2).addcmul_(gradient, gradient, value: 1 - Beta2);
            double correctedStep = stepSize / (1 - Math.Pow(Beta1, t));
            using var denominator = _second.div(1 - Math.Pow(Beta2, t)).sqrt_().add_(AdamEpsilon);
            value.addcdiv_(_first, denominator, value: correctedStep);
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
        Factors?.Dispose();
        MeanMoments.Dispose();
        RhoMoments?.Dispose();
        FactorMoments?.Dispose();
        base.Dispose();
    }
}
