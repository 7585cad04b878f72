using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Stochastic gradient Langevin dynamics (Welling &amp; Teh 2011). METHODS: SGLD
///   θ ← θ + η ∇ℓ̃_B(θ) + √(2ηT/N) ξ,   ξ ~ N(0, I),
/// with ∇ℓ̃_B = ∇(mean log-likelihood) − θ/(Nσ²): the prior's gradient is folded into the update rather than
/// sent through autograd (it is just θ/(Nσ²)).
/// </summary>
public sealed class Sgld : ISampler, ISgmcmcKernel
{
    public Sgld(Tempering tempering, double stepSize)
    {
        tempering.ValidateIsotropic("sgld");
        Tempering = tempering;
        StepSize = SgmcmcStep.CheckStepSize("sgld", stepSize);
    }

    public string Name => "sgld";
    public Tempering Tempering { get; }
    public double StepSize { get; }
    public IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object> { ["step_size"] = StepSize };

    public string NoiseGenerator => CounterNoise.Description;

    // No noise buffer: the drift and the noise are added straight into θ (CounterNoise.AddScaled), one pass over memory.
    public SamplerState Init(Tensor position) => new SamplerState(position);

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators) =>
        SgmcmcStep.Take(this, state, target, generators, StepSize, noise: true);

    public void Move(SamplerState state, Tensor drift, double stepSize, bool noise, IReadOnlyList<Generator> generators)
    {
        if (!noise) { state.Position.add_(drift, alpha: HeldScalars.Of(stepSize)); return; }
        // θ + η·drift + noise in one pass over θ.
        CounterNoise.AddScaled(state.Position, drift, stepSize, generators, state.Iteration,
            Math.Sqrt(2 * stepSize * Tempering.Temperature / Tempering.TrainingSize));
    }
}
