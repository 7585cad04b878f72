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

    /// <summary>
    /// Writes everything a step reads that an earlier step wrote, so that a state restored by <see cref="Load"/> into a
    /// fresh <see cref="ISampler.Init"/> continues bit-identically (with the generators restored too). Scratch buffers
    /// a step overwrites before reading are left out. Each subclass adds its own entries and calls the base.
    /// </summary>
    public virtual void Save(StateWriter writer)
    {
        writer.Tensor("position", Position);
        writer.Long("iteration", Iteration);
    }

    /// <summary>Restores what <see cref="Save"/> wrote, in place: the tensors' dtypes and shapes must match (a mismatch
    /// throws naming the entry).</summary>
    public virtual void Load(StateReader reader)
    {
        reader.Tensor("position", Position);
        Iteration = reader.Long("iteration");
    }

    public virtual void Dispose()
    {
        Position.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Per-step statistics, one entry per chain (what stats.parquet stores).</summary>
/// <param name="LogLikelihood">mean per-datum log-likelihood on the batch, at θ before the step (SG-MCMC, SWAG,
/// ensembles), at the state after the step (HMC), or its expectation under q (VI).</param>
/// <param name="Lp">N·ℓ̃_B(θ) = N·LogLikelihood + log p(θ): the minibatch estimate of the log posterior density.</param>
public sealed record StepInfo(double[] LogLikelihood, double[] Lp, double[] GradNorm, double StepSize, bool[] Diverging)
{
    /// <summary>Whether this step may yield a draw: false in the exploration phase of a cyclical schedule.</summary>
    public bool Collect { get; init; } = true;

    /// <summary>Gradient evaluations of the batch this step took (1 for SG-MCMC, VI, SWAG; L or L+1 for HMC): the
    /// cost ledger counts them.</summary>
    public int GradientEvaluations { get; init; } = 1;

    /// <summary>Method-specific per-chain statistics (e.g. <c>cycle</c>, <c>acceptance_rate</c>), one array of K
    /// values per name in <see cref="ISampler.ExtraStats"/>; stats.parquet gets one column each.</summary>
    public IReadOnlyDictionary<string, double[]> Extra { get; init; } = new Dictionary<string, double[]>();
}

/// <summary>How a method yields draws.</summary>
public enum SamplerKind
{
    /// <summary>A Markov chain: the position after a step is a draw (after warm-up and thinning).</summary>
    MarkovChain,
    /// <summary>Fits a distribution (VI, SWAG) or points (ensembles); draws come from <see cref="ISampler.Draw"/> after fitting.</summary>
    Fitted,
}

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

    SamplerKind Kind => SamplerKind.MarkovChain;

    /// <summary>True when every step needs the whole training set as its batch (HMC).</summary>
    bool FullBatch => false;

    /// <summary>How the method's injected noise is drawn, as the manifest records it: "torch" (each chain's torch
    /// generator) unless the method says otherwise (the SG-MCMC samplers: <see cref="CounterNoise"/>).</summary>
    string NoiseGenerator => "torch";

    /// <summary>Names of the extra per-chain statistics each <see cref="StepInfo"/> carries.</summary>
    IReadOnlyList<string> ExtraStats => [];

    /// <param name="position">θ₀, [K, P]; the state takes ownership.</param>
    SamplerState Init(Tensor position);

    StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators);

    /// <summary>One draw per chain, [K, P], owned by the caller. Markov chains return their position; fitted methods
    /// sample their fitted distribution (each call a fresh draw).</summary>
    Tensor Draw(SamplerState state, IReadOnlyList<Generator> generators) => state.Position.detach().clone();

    /// <summary>Whether <see cref="Draw"/> is defined for this state yet (false for SWAG before its first snapshot).</summary>
    bool CanDraw(SamplerState state) => true;
}
