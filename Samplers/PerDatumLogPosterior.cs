using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// The objective every optimiser-based method ascends (METHODS: Tempering contract): the per-datum log posterior on a
/// batch, ℓ̃_B(θ) = mean log-likelihood + (1/N) log p(θ), whose gradient is g − λθ with λ = 1/(Nσ²). Maximising it is
/// MAP training with weight decay equal to the prior. The prior's gradient is folded in here rather than sent through
/// autograd. Temperature does not enter: it rescales the target but does not move its maximum.
/// </summary>
public static class PerDatumLogPosterior
{
    /// <summary>Evaluates ℓ̃_B and ∇ℓ̃_B at θ [K, P] for K chains.</summary>
    /// <returns>The gradient ∇ℓ̃_B [K, P], owned by the caller's dispose scope, and the per-chain statistics of a step.</returns>
    public static Evaluation Evaluate(ILogLikelihood target, Tensor position, Tempering tempering)
    {
        var (value, gradient) = target.Evaluate(position);
        int chains = (int)position.shape[0];
        double n = tempering.TrainingSize;
        double[] logLik;
        using (var v64 = value.to_type(ScalarType.Float64)) logLik = v64.data<double>().ToArray();
        value.Dispose();
        double[] logPrior, gradNorm;
        using (no_grad())
        {
            // ∇ℓ̃_B = g − λθ, in place on the target's gradient (the caller owns it, so no new [K, P] tensor).
            if (PriorFold.Applies(gradient, position))
            {
                var (gradientSquares, positionSquares) = PriorFold.Apply(gradient, position, tempering.WeightDecay);
                gradNorm = gradientSquares.Select(Math.Sqrt).ToArray();
                logPrior = tempering.LogPriorFromSquares(positionSquares, position.shape[1]);
            }
            else
            {
                logPrior = tempering.LogPrior(position);
                gradient.add_(position, alpha: HeldScalars.Of(-tempering.WeightDecay));
                using var norm = gradient.norm(1).to_type(ScalarType.Float64);
                gradNorm = norm.data<double>().ToArray();
            }
            var lp = new double[chains];
            var diverging = new bool[chains];
            for (int k = 0; k < chains; k++)
            {
                lp[k] = n * logLik[k] + logPrior[k];
                diverging[k] = !double.IsFinite(lp[k]) || !double.IsFinite(gradNorm[k]);
            }
            return new Evaluation(gradient, logLik, lp, gradNorm, diverging);
        }
    }

    /// <param name="Gradient">∇ℓ̃_B(θ) [K, P].</param>
    /// <param name="Lp">N·ℓ̃_B(θ) = N·LogLikelihood + log p(θ), as <see cref="StepInfo.Lp"/>.</param>
    /// <param name="GradNorm">‖∇ℓ̃_B(θ)‖ per chain.</param>
    /// <param name="Diverging">true where lp or the gradient norm is not finite.</param>
    public sealed record Evaluation(Tensor Gradient, double[] LogLikelihood, double[] Lp, double[] GradNorm, bool[] Diverging)
    {
        public StepInfo ToStepInfo(double stepSize) => new(LogLikelihood, Lp, GradNorm, stepSize, Diverging);
    }
}
