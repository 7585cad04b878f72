using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// The mean per-datum log-likelihood of each chain on the current minibatch and its gradient with respect to θ.
/// The study decides which data the batch holds; samplers never see data.
/// </summary>
public interface ILogLikelihood
{
    /// <param name="position">θ, [K, P] (one row per chain).</param>
    /// <returns>value [K] and gradient [K, P]; the caller owns both.</returns>
    (Tensor Value, Tensor Gradient) Evaluate(Tensor position);
}

/// <summary>A sampler's state: θ [K, P] for K chains, advanced in place by <see cref="ISampler.Step"/>.</summary>
public class SamplerState(Tensor position) : IDisposable
{
    public Tensor Position { get; } = position;
    public long Iteration { get; set; }

    public virtual void Dispose()
    {
        Position.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Per-step statistics, one entry per chain (what stats.parquet stores).</summary>
/// <param name="LogLikelihood">mean per-datum log-likelihood on the batch, at θ before the step.</param>
/// <param name="Lp">N·ℓ̃_B(θ) = N·LogLikelihood + log p(θ): the minibatch estimate of the log posterior density.</param>
public sealed record StepInfo(double[] LogLikelihood, double[] Lp, double[] GradNorm, double StepSize, bool[] Diverging);

/// <summary>
/// One posterior method: <c>Init(θ₀) → state</c>, then <c>Step(state, target, generators) → info</c>, with one random
/// generator per chain so a chain's draws do not depend on how many chains run beside it.
/// </summary>
public interface ISampler
{
    string Name { get; }
    Tempering Tempering { get; }
    /// <summary>Hyperparameters as the manifest records them.</summary>
    IReadOnlyDictionary<string, object> Hyperparameters { get; }

    /// <param name="position">θ₀, [K, P]; the state takes ownership.</param>
    SamplerState Init(Tensor position);

    StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators);
}
