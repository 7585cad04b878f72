using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Full-batch Hamiltonian Monte Carlo, the reference sampler (Duane et al. 1987; Neal 2011). METHODS: HMC
/// Target p_T(θ) ∝ exp(N·ℓ̃(θ)/T) (METHODS: Tempering contract), so the potential energy is
///   U(θ) = −(N·ℓ(θ) + log p(θ))/T,   ∇U(θ) = (θ/σ² − N·∇ℓ(θ))/T,
/// with ℓ the mean per-datum log-likelihood on the batch (the whole training set: <see cref="FullBatch"/>) and the
/// prior's gradient folded in analytically. Each step draws a momentum p ~ N(0, I) (identity mass matrix), runs
/// L = <see cref="NSteps"/> leapfrog steps of size ε = <see cref="StepSize"/> (both in θ units: the trajectory
/// length is εL), and accepts the end point per chain with probability min(1, exp(−ΔH)), H = U + ½|p|².
/// U and ∇U at the current position are cached in the state, so a step costs L gradient evaluations (the first
/// step L + 1); the cache assumes the target is the same every step, which a full batch guarantees.
/// </summary>
public sealed class Hmc : ISampler
{
    /// <summary>|ΔH| above this marks a transition as diverging (as Stan and BlackJAX do).</summary>
    public const double DivergenceThreshold = 1000;

    public Hmc(Tempering tempering, double stepSize = 1e-3, int nSteps = 20)
    {
        tempering.ValidateIsotropic("hmc");
        if (!(stepSize > 0) || double.IsInfinity(stepSize)) throw new ArgumentException($"hmc: step size must be a positive number, got {stepSize}");
        if (nSteps < 1) throw new ArgumentException($"hmc: the number of leapfrog steps must be at least 1, got {nSteps}");
        Tempering = tempering;
        StepSize = stepSize;
        NSteps = nSteps;
    }

    public string Name => "hmc";
    public Tempering Tempering { get; }
    /// <summary>Leapfrog step size ε, in θ units (identity mass matrix).</summary>
    public double StepSize { get; }
    /// <summary>Leapfrog steps per transition, L; the trajectory length is εL.</summary>
    public int NSteps { get; }

    public bool FullBatch => true;

    public IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object>
    {
        ["step_size"] = StepSize,
        ["n_steps"] = NSteps,
        ["trajectory_length"] = StepSize * NSteps,
        ["mass_matrix"] = "identity",
    };

    /// <summary>acceptance_rate = min(1, exp(−ΔH)) (0 for a non-finite ΔH); accepted ∈ {0, 1}; n_steps = L;
    /// energy = H of the state the chain holds after the step (the proposal's if accepted, else the start's);
    /// energy_error = ΔH = H(proposal) − H(start).</summary>
    public IReadOnlyList<string> ExtraStats => ["acceptance_rate", "accepted", "n_steps", "energy", "energy_error"];

    public SamplerState Init(Tensor position) => new HmcState(position);

    /// <summary>One HMC transition per chain. <see cref="StepInfo.LogLikelihood"/>, <see cref="StepInfo.Lp"/> and
    /// <see cref="StepInfo.GradNorm"/> (|∇ℓ̃|, the per-datum scale SGLD reports) are at the position after the step.</summary>
    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators)
    {
        var s = (HmcState)state;
        var theta = s.Position;
        int chains = (int)theta.shape[0];
        if (generators.Count != chains) throw new ArgumentException($"hmc: {chains} chains need {chains} generators, got {generators.Count}");

        using var scope = NewDisposeScope();

        int evaluations = NSteps;
        if (s.Potential is null)
        {
            s.SetCache(Evaluate(theta, target, s.Gradient));
            evaluations++;
        }
        double[] potential = s.Potential!, logLik = s.LogLikelihood!;

        // Momenta first, then the uniform for the Metropolis test: both from the chain's own generator.
        for (int k = 0; k < chains; k++)
        {
            s.Momentum[k].normal_(0, 1, generators[k]);
            s.Uniform[k].uniform_(0, 1, generators[k]);
        }
        double[] uniform = s.Uniform.data<double>().ToArray();
        double[] startEnergy = Add(potential, KineticEnergy(s.Momentum));

        // METHODS: HMC, leapfrog: p ← p − (ε/2)∇U(q); q ← q + εp; p ← p − (ε/2)∇U(q).
        double eps = StepSize;
        var q = s.ProposalPosition;
        var gradQ = s.ProposalGradient;
        var p = s.Momentum;
        q.copy_(theta);
        gradQ.copy_(s.Gradient);
        Evaluation end = default;
        for (int l = 0; l < NSteps; l++)
        {
            p.add_(gradQ, alpha: HeldScalars.Of(-eps / 2));
            q.add_(p, alpha: HeldScalars.Of(eps));
            end = Evaluate(q, target, gradQ);
            p.add_(gradQ, alpha: HeldScalars.Of(-eps / 2));
        }
        double[] endEnergy = Add(end.Potential, KineticEnergy(p));

        var acceptanceRate = new double[chains];
        var accepted = new double[chains];
        var energy = new double[chains];
        var energyError = new double[chains];
        var diverging = new bool[chains];
        for (int k = 0; k < chains; k++)
        {
            double deltaH = endEnergy[k] - startEnergy[k];
            bool finite = double.IsFinite(deltaH);
            diverging[k] = !finite || Math.Abs(deltaH) > DivergenceThreshold;
            acceptanceRate[k] = finite ? Math.Min(1, Math.Exp(-deltaH)) : 0;
            // u < exp(−ΔH) ⇔ log u < −ΔH; a non-finite ΔH is always rejected.
            bool accept = finite && Math.Log(uniform[k]) < -deltaH;
            accepted[k] = accept ? 1 : 0;
            energy[k] = accept ? endEnergy[k] : startEnergy[k];
            energyError[k] = deltaH;
            if (accept)
            {
                // Row copies: a rejected (possibly non-finite) proposal never touches θ or the cache.
                theta[k].copy_(q[k]);
                s.Gradient[k].copy_(gradQ[k]);
                potential[k] = end.Potential[k];
                logLik[k] = end.LogLikelihood[k];
            }
        }

        var lp = new double[chains];
        double[] logPrior = Tempering.LogPrior(theta);
        for (int k = 0; k < chains; k++) lp[k] = Tempering.TrainingSize * logLik[k] + logPrior[k];
        // ∇ℓ̃ = −(T/N)∇U.
        double[] gradNorm = s.Gradient.norm(1).to_type(ScalarType.Float64).mul(HeldScalars.Of(Tempering.Temperature / Tempering.TrainingSize)).data<double>().ToArray();

        s.Iteration++;
        return new StepInfo(logLik.ToArray(), lp, gradNorm, eps, diverging)
        {
            GradientEvaluations = evaluations,
            Extra = new Dictionary<string, double[]>
            {
                ["acceptance_rate"] = acceptanceRate,
                ["accepted"] = accepted,
                ["n_steps"] = Enumerable.Repeat((double)NSteps, chains).ToArray(),
                ["energy"] = energy,
                ["energy_error"] = energyError,
            },
        };
    }

    private readonly record struct Evaluation(double[] Potential, double[] LogLikelihood);

    /// <summary>U(q) per chain and ∇U(q) written into <paramref name="gradient"/>; nothing outlives the call.</summary>
    private Evaluation Evaluate(Tensor q, ILogLikelihood target, Tensor gradient)
    {
        using var scope = NewDisposeScope();
        var (value, g) = target.Evaluate(q);
        double n = Tempering.TrainingSize, t = Tempering.Temperature, variance = Tempering.PriorStd * Tempering.PriorStd;
        using (no_grad())
            gradient.copy_(g.mul(HeldScalars.Of(-n / t)).add_(q, alpha: HeldScalars.Of(1 / (variance * t))));
        double[] logLik = value.to_type(ScalarType.Float64).data<double>().ToArray();
        double[] logPrior = Tempering.LogPrior(q);
        var potential = new double[logLik.Length];
        for (int k = 0; k < potential.Length; k++) potential[k] = -(n * logLik[k] + logPrior[k]) / t;
        return new Evaluation(potential, logLik);
    }

    /// <summary>½|p|² per chain, accumulated in float64.</summary>
    private static double[] KineticEnergy(Tensor momentum)
    {
        using var scope = NewDisposeScope();
        return momentum.pow(HeldScalars.Two).sum(1, type: ScalarType.Float64).mul(HeldScalars.Of(0.5)).data<double>().ToArray();
    }

    private static double[] Add(double[] a, double[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    /// <summary>θ, the cached U(θ), ℓ(θ) and ∇U(θ), and preallocated leapfrog buffers (momentum, proposal, its
    /// gradient), so a step allocates no new [K, P] tensor.</summary>
    private sealed class HmcState(Tensor position) : SamplerState(position)
    {
        public Tensor Gradient { get; } = zeros_like(position);
        public Tensor Momentum { get; } = zeros_like(position);
        public Tensor ProposalPosition { get; } = zeros_like(position);
        public Tensor ProposalGradient { get; } = zeros_like(position);
        public Tensor Uniform { get; } = zeros(position.shape[0], dtype: ScalarType.Float64);
        public double[]? Potential { get; private set; }
        public double[]? LogLikelihood { get; private set; }

        public void SetCache(Evaluation evaluation)
        {
            Potential = evaluation.Potential;
            LogLikelihood = evaluation.LogLikelihood;
        }

        // The cache (U, ℓ, ∇U at θ) carries over; momentum, proposal and uniform are redrawn or recopied every step.
        // Without the cache a resumed chain would re-evaluate the batch once (same θ, but one more gradient evaluation).
        public override void Save(StateWriter writer)
        {
            base.Save(writer);
            if (Potential is null) return;
            writer.Tensor("gradient", Gradient);
            writer.Doubles("potential", Potential);
            writer.Doubles("log_likelihood", LogLikelihood!);
        }

        public override void Load(StateReader reader)
        {
            base.Load(reader);
            if (!reader.Has("potential"))
            {
                Potential = LogLikelihood = null;
                return;
            }
            reader.Tensor("gradient", Gradient);
            var potential = reader.Doubles("potential");
            var logLikelihood = reader.Doubles("log_likelihood");
            if (potential.Length != Position.shape[0] || logLikelihood.Length != Position.shape[0])
                throw new InvalidDataException($"{reader.Source}: checkpoint entries 'potential' and 'log_likelihood' hold " +
                    $"{potential.Length} and {logLikelihood.Length} chains, the state has {Position.shape[0]}");
            Potential = potential;
            LogLikelihood = logLikelihood;
        }

        public override void Dispose()
        {
            foreach (var t in new[] { Gradient, Momentum, ProposalPosition, ProposalGradient, Uniform }) t.Dispose();
            base.Dispose();
        }
    }
}
