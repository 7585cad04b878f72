using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Stochastic gradient Langevin dynamics (Welling &amp; Teh 2011). METHODS: SGLD
///   θ ← θ + η ∇ℓ̃_B(θ) + √(2ηT/N) ξ,   ξ ~ N(0, I),
/// with ∇ℓ̃_B = ∇(mean log-likelihood) − θ/(Nσ²): the prior's gradient is folded into the update rather than
/// sent through autograd (it is just θ/(Nσ²)).
/// </summary>
public sealed class Sgld : ISampler
{
    public Sgld(Tempering tempering, double stepSize)
    {
        tempering.Validate();
        if (!(stepSize > 0) || double.IsInfinity(stepSize)) throw new ArgumentException($"sgld: step size must be a positive number, got {stepSize}");
        Tempering = tempering;
        StepSize = stepSize;
    }

    public string Name => "sgld";
    public Tempering Tempering { get; }
    public double StepSize { get; }
    public IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object> { ["step_size"] = StepSize };

    public SamplerState Init(Tensor position) => new NoiseBufferState(position);

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators)
    {
        var s = (NoiseBufferState)state;
        var theta = s.Position;
        int chains = (int)theta.shape[0];
        if (generators.Count != chains) throw new ArgumentException($"sgld: {chains} chains need {chains} generators, got {generators.Count}");

        using var scope = NewDisposeScope();
        var (value, gradient) = target.Evaluate(theta);
        double n = Tempering.TrainingSize, eta = StepSize;
        var logPrior = Tempering.LogPrior(theta);
        double[] logLik = value.to_type(ScalarType.Float64).data<double>().ToArray();
        using (no_grad())
        {
            // ∇ℓ̃_B = g − λθ with λ = 1/(Nσ²).
            var drift = gradient.add(theta, alpha: -Tempering.WeightDecay);
            double[] gradNorm = drift.norm(1).to_type(ScalarType.Float64).data<double>().ToArray();
            for (int k = 0; k < chains; k++) s.Noise[k].normal_(0, 1, generators[k]);
            theta.add_(drift, alpha: eta).add_(s.Noise, alpha: Math.Sqrt(2 * eta * Tempering.Temperature / n));
            var lp = new double[chains];
            var diverging = new bool[chains];
            for (int k = 0; k < chains; k++)
            {
                lp[k] = n * logLik[k] + logPrior[k];
                diverging[k] = !double.IsFinite(lp[k]) || !double.IsFinite(gradNorm[k]);
            }
            s.Iteration++;
            return new StepInfo(logLik, lp, gradNorm, eta, diverging);
        }
    }

    /// <summary>θ plus a preallocated noise buffer, so a step allocates no new [K, P] tensor for the noise.</summary>
    private sealed class NoiseBufferState(Tensor position) : SamplerState(position)
    {
        public Tensor Noise { get; } = zeros_like(position);

        public override void Dispose()
        {
            Noise.Dispose();
            base.Dispose();
        }
    }
}
