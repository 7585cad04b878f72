using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Stochastic gradient Hamiltonian Monte Carlo (Chen et al. 2014) in momentum form. METHODS: SGHMC
///   v ← (1−α) v + η ∇ℓ̃_B(θ) + √(2αηT/N) ξ,   θ ← θ + v,
/// with friction α = 1 − momentum; α = 1 (momentum 0) is SGLD. The momentum v starts at 0 and is not resampled.
/// </summary>
public sealed class Sghmc : ISampler, ISgmcmcKernel
{
    public Sghmc(Tempering tempering, double stepSize, double momentum = 0.9)
    {
        tempering.ValidateIsotropic("sghmc");
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentException($"sghmc: momentum must lie in [0, 1), got {momentum}");
        Tempering = tempering;
        StepSize = SgmcmcStep.CheckStepSize("sghmc", stepSize);
        Momentum = momentum;
    }

    public string Name => "sghmc";
    public Tempering Tempering { get; }
    public double StepSize { get; }
    public double Momentum { get; }
    /// <summary>α = 1 − momentum.</summary>
    public double Friction => 1 - Momentum;
    public IReadOnlyDictionary<string, object> Hyperparameters =>
        new Dictionary<string, object> { ["step_size"] = StepSize, ["momentum"] = Momentum };

    public string NoiseGenerator => CounterNoise.Description;

    public SamplerState Init(Tensor position) => new MomentumState(position);

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators) =>
        SgmcmcStep.Take(this, state, target, generators, StepSize, noise: true);

    public void Move(SamplerState state, Tensor drift, double stepSize, bool noise, IReadOnlyList<Generator> generators)
    {
        var s = (MomentumState)state;
        s.Velocity.mul_(HeldScalars.Of(Momentum)).add_(drift, alpha: HeldScalars.Of(stepSize));
        // The noise goes straight into v (CounterNoise.AddScaled): no noise buffer, one pass over memory.
        if (noise)
            CounterNoise.AddScaled(s.Velocity, generators, s.Iteration,
                Math.Sqrt(2 * Friction * stepSize * Tempering.Temperature / Tempering.TrainingSize));
        s.Position.add_(s.Velocity, HeldScalars.One);
    }

    /// <summary>θ and the momentum v.</summary>
    private sealed class MomentumState(Tensor position) : SamplerState(position)
    {
        public Tensor Velocity { get; } = zeros_like(position);

        public override void Save(StateWriter writer)
        {
            base.Save(writer);
            writer.Tensor("velocity", Velocity);
        }

        public override void Load(StateReader reader)
        {
            base.Load(reader);
            reader.Tensor("velocity", Velocity);
        }

        public override void Dispose()
        {
            Velocity.Dispose();
            base.Dispose();
        }
    }
}
