using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// The update rule of a stochastic-gradient MCMC method with the step size and the noise switch as arguments, so a
/// schedule can drive it (BlackJAX style: a schedule wraps a kernel). <see cref="Sgld"/>, <see cref="Psgld"/> and
/// <see cref="Sghmc"/> are kernels run at a constant step size; <see cref="CyclicalSgmcmc"/> runs one on a
/// <see cref="CyclicalSchedule"/>.
/// </summary>
public interface ISgmcmcKernel
{
    string Name { get; }
    Tempering Tempering { get; }
    IReadOnlyDictionary<string, object> Hyperparameters { get; }
    /// <summary>How the injected noise is drawn, as the manifest records it.</summary>
    string NoiseGenerator => CounterNoise.Description;

    /// <param name="position">θ₀, [K, P]; the state takes ownership and holds every buffer the update needs.</param>
    SamplerState Init(Tensor position);

    /// <summary>Advances θ (and any auxiliary state) in place; called inside <c>no_grad</c>.</summary>
    /// <param name="drift">∇ℓ̃_B(θ) [K, P], the prior's gradient included; the kernel may overwrite it.</param>
    /// <param name="noise">false drops the injected Gaussian noise (the exploration phase of a cyclical schedule).</param>
    void Move(SamplerState state, Tensor drift, double stepSize, bool noise, IReadOnlyList<Generator> generators);
}

/// <summary>The part every SG-MCMC step shares: evaluate the batch, fold in the prior, move, report.</summary>
public static class SgmcmcStep
{
    public static StepInfo Take(ISgmcmcKernel kernel, SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators,
        double stepSize, bool noise)
    {
        var theta = state.Position;
        int chains = (int)theta.shape[0];
        if (generators.Count != chains)
            throw new ArgumentException($"{kernel.Name}: {chains} chains need {chains} generators, got {generators.Count}");

        using var scope = NewDisposeScope();
        // METHODS: Tempering contract — the drift is ∇ℓ̃_B = g − θ/(Nσ²), shared with the optimiser-based methods.
        var evaluation = PerDatumLogPosterior.Evaluate(target, theta, kernel.Tempering);
        using (no_grad()) kernel.Move(state, evaluation.Gradient, stepSize, noise, generators);
        state.Iteration++;
        return evaluation.ToStepInfo(stepSize);
    }

    /// <summary>Fills <paramref name="buffer"/> [K, P] with N(0, 1) for the step the state is taking, row k from chain
    /// k's noise seed (<see cref="CounterNoise"/>); the generators themselves are not advanced.</summary>
    public static void DrawNoise(Tensor buffer, SamplerState state, IReadOnlyList<Generator> generators) =>
        CounterNoise.Fill(buffer, generators, state.Iteration);

    public static double CheckStepSize(string method, double stepSize) =>
        stepSize > 0 && !double.IsInfinity(stepSize) ? stepSize
            : throw new ArgumentException($"{method}: step size must be a positive number, got {stepSize}");
}

/// <summary>θ plus a preallocated noise buffer, so a step allocates no new [K, P] tensor for the noise. The buffer is
/// refilled before every read, so a checkpoint leaves it out (<see cref="SamplerState.Save"/> suffices).</summary>
public class NoiseBufferState(Tensor position) : SamplerState(position)
{
    public Tensor Noise { get; } = zeros_like(position);

    public override void Dispose()
    {
        Noise.Dispose();
        base.Dispose();
    }
}
