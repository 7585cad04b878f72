using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Preconditioned SGLD (Li et al. 2016) with an RMSprop preconditioner. METHODS: pSGLD
///   V ← αV + (1−α) g⊙g,   G = 1/(λ + √V),   θ ← θ + η G⊙∇ℓ̃_B + √(2ηT/N) √G ⊙ ξ,
/// with g = ∇ℓ̃_B (prior term included) and the Γ correction dropped, as is standard. V starts at 0.
/// </summary>
public sealed class Psgld : ISampler, ISgmcmcKernel
{
    public Psgld(Tempering tempering, double stepSize, double alpha = 0.99, double lambda = 1e-5)
    {
        tempering.ValidateIsotropic("psgld");
        if (!(alpha >= 0 && alpha < 1)) throw new ArgumentException($"psgld: alpha (the preconditioner's decay) must lie in [0, 1), got {alpha}");
        if (!(lambda > 0) || double.IsInfinity(lambda)) throw new ArgumentException($"psgld: lambda (the preconditioner's damping) must be a positive number, got {lambda}");
        Tempering = tempering;
        StepSize = SgmcmcStep.CheckStepSize("psgld", stepSize);
        Alpha = alpha;
        Lambda = lambda;
    }

    public string Name => "psgld";
    public Tempering Tempering { get; }
    public double StepSize { get; }
    public double Alpha { get; }
    public double Lambda { get; }
    public IReadOnlyDictionary<string, object> Hyperparameters =>
        new Dictionary<string, object> { ["step_size"] = StepSize, ["alpha"] = Alpha, ["lambda"] = Lambda };

    public string NoiseGenerator => CounterNoise.Description;

    public SamplerState Init(Tensor position) => new PreconditionerState(position);

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators) =>
        SgmcmcStep.Take(this, state, target, generators, StepSize, noise: true);

    public void Move(SamplerState state, Tensor drift, double stepSize, bool noise, IReadOnlyList<Generator> generators)
    {
        var s = (PreconditionerState)state;
        s.SquareAverage.mul_(HeldScalars.Of(Alpha)).addcmul_(drift, drift, value: HeldScalars.Of(1 - Alpha));
        // Scratch holds √G = (λ + √V)^(-1/2) first (for the noise), then G; no [K, P] tensor is allocated.
        s.Scratch.copy_(s.SquareAverage).sqrt_().add_(HeldScalars.Of(Lambda), HeldScalars.One).rsqrt_();
        if (noise)
        {
            SgmcmcStep.DrawNoise(s.Noise, s, generators);
            s.Noise.mul_(s.Scratch);
        }
        s.Scratch.mul_(s.Scratch);
        s.Position.addcmul_(s.Scratch, drift, value: HeldScalars.Of(stepSize));
        if (noise) s.Position.add_(s.Noise, alpha: HeldScalars.Of(Math.Sqrt(2 * stepSize * Tempering.Temperature / Tempering.TrainingSize)));
    }

    /// <summary>θ, the running average V of the squared gradient, and buffers for the noise and the preconditioner.</summary>
    private sealed class PreconditionerState(Tensor position) : NoiseBufferState(position)
    {
        public Tensor SquareAverage { get; } = zeros_like(position);
        public Tensor Scratch { get; } = zeros_like(position);

        // Scratch is rewritten before it is read: only V carries over.
        public override void Save(StateWriter writer)
        {
            base.Save(writer);
            writer.Tensor("square_average", SquareAverage);
        }

        public override void Load(StateReader reader)
        {
            base.Load(reader);
            reader.Tensor("square_average", SquareAverage);
        }

        public override void Dispose()
        {
            SquareAverage.Dispose();
            Scratch.Dispose();
            base.Dispose();
        }
    }
}
