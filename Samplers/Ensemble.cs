using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Deep ensembles (Lakshminarayanan et al. 2017): every chain is one member, initialised independently by the study and
/// trained by Adam to the MAP of ℓ̃_B (<see cref="PerDatumLogPosterior"/>; the prior acts as weight decay):
///   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g⊙g,  θ ← θ + η m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),  g = ∇ℓ̃_B(θ).
/// Each member is one draw: <see cref="Draw"/> returns the member's θ, so S draws of an ensemble repeat each member S
/// times (the predictive average is unchanged; diagnostics across draws of one chain are meaningless).
/// Temperature does not enter: it does not move the MAP.
/// </summary>
public sealed class Ensemble : ISampler
{
    /// <summary>Adam's ε (Kingma &amp; Ba 2015), fixed and recorded in the manifest.</summary>
    public const double Epsilon = 1e-8;

    public Ensemble(Tempering tempering, double stepSize, double beta1 = 0.9, double beta2 = 0.999)
    {
        tempering.ValidateIsotropic("ensemble");
        if (!(stepSize > 0) || double.IsInfinity(stepSize)) throw new ArgumentException($"ensemble: step size must be a positive number, got {stepSize}");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentException($"ensemble: beta1 must be in [0, 1), got {beta1}");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentException($"ensemble: beta2 must be in [0, 1), got {beta2}");
        Tempering = tempering;
        StepSize = stepSize;
        Beta1 = beta1;
        Beta2 = beta2;
    }

    public string Name => "ensemble";
    public Tempering Tempering { get; }
    public double StepSize { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public SamplerKind Kind => SamplerKind.Fitted;

    public IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object>
    {
        ["step_size"] = StepSize, ["beta1"] = Beta1, ["beta2"] = Beta2, ["epsilon"] = Epsilon,
    };

    public SamplerState Init(Tensor position) => new AdamState(position);

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators)
    {
        var s = (AdamState)state;
        var theta = s.Position;
        int chains = (int)theta.shape[0];
        if (generators.Count != chains) throw new ArgumentException($"ensemble: {chains} members need {chains} generators, got {generators.Count}");

        using var scope = NewDisposeScope();
        var objective = PerDatumLogPosterior.Evaluate(target, theta, Tempering);
        var g = objective.Gradient;
        long t = s.Iteration + 1;
        double correction1 = 1 - Math.Pow(Beta1, t), correction2 = 1 - Math.Pow(Beta2, t);
        using (no_grad())
        {
            // Scalars held explicitly: an implicit one can be finalised by the GC while libtorch reads it (intermittent
            // "toFloat"/"Unknown scalar type" failures). Same operations, same numbers.
            using Scalar beta1 = Beta1.ToScalar(), oneMinusBeta1 = (1 - Beta1).ToScalar(), beta2 = Beta2.ToScalar(), oneMinusBeta2 = (1 - Beta2).ToScalar(),
                root = Math.Sqrt(correction2).ToScalar(), epsilon = Epsilon.ToScalar(), step = (StepSize / correction1).ToScalar();
            s.FirstMoment.mul_(beta1).add_(g, alpha: oneMinusBeta1);
            s.SecondMoment.mul_(beta2).addcmul_(g, g, value: oneMinusBeta2);
            // √v̂ + ε = √v/√(1−β₂ᵗ) + ε; ascent: θ ← θ + (η/(1−β₁ᵗ)) m / (√v̂ + ε).
            s.Denominator.copy_(s.SecondMoment).sqrt_().div_(root).add_(epsilon, HeldScalars.One);
            theta.addcdiv_(s.FirstMoment, s.Denominator, value: step);
        }
        s.Iteration = t;
        return objective.ToStepInfo(StepSize);
    }

    /// <summary>Each member's θ (a copy): a deep ensemble's draw is its member, the same on every call.</summary>
    public Tensor Draw(SamplerState state, IReadOnlyList<Generator> generators) => state.Position.detach().clone();

    /// <summary>θ plus Adam's moments m, v and a buffer for its denominator, all [K, P], allocated once.</summary>
    private sealed class AdamState(Tensor position) : SamplerState(position)
    {
        public Tensor FirstMoment { get; } = zeros_like(position);
        public Tensor SecondMoment { get; } = zeros_like(position);
        public Tensor Denominator { get; } = zeros_like(position);

        // Adam's step counter t is the iteration; the denominator is scratch.
        public override void Save(StateWriter writer)
        {
            base.Save(writer);
            writer.Tensor("first_moment", FirstMoment);
            writer.Tensor("second_moment", SecondMoment);
        }

        public override void Load(StateReader reader)
        {
            base.Load(reader);
            reader.Tensor("first_moment", FirstMoment);
            reader.Tensor("second_moment", SecondMoment);
        }

        public override void Dispose()
        {
            FirstMoment.Dispose();
            SecondMoment.Dispose();
            Denominator.Dispose();
            base.Dispose();
        }
    }
}
