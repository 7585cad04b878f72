using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Studies.Sampling;

/// <summary>The observation model p(y | f_θ(x)) per example; outputs are [K, B, outputs].</summary>
public abstract class Likelihood
{
    /// <summary>log p(yᵢ | xᵢ, θ) for every chain and example, [K, B].</summary>
    public abstract Tensor LogProbability(Tensor outputs, Tensor targets);

    public abstract string Name { get; }
}

/// <summary>Categorical likelihood over softmax(logits).</summary>
public sealed class CategoricalLikelihood : Likelihood
{
    public override string Name => "categorical";

    public override Tensor LogProbability(Tensor outputs, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var logp = nn.functional.log_softmax(outputs, 2);
        return logp.gather(2, targets.unsqueeze(2)).squeeze(2).MoveToOuterDisposeScope();
    }
}

/// <summary>Gaussian likelihood with known noise sd s: log N(y; f, s²).</summary>
public sealed class GaussianLikelihood(double noiseStd) : Likelihood
{
    public double NoiseStd { get; } = noiseStd > 0 && double.IsFinite(noiseStd) ? noiseStd
        : throw new ArgumentException($"--noise-std must be a positive number, got {noiseStd}");

    public override string Name => "gaussian";

    public override Tensor LogProbability(Tensor outputs, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var residual = outputs.squeeze(2) - targets;
        // Scalars held and disposed explicitly: an implicit one can be finalised by the GC while libtorch still reads it,
        // which failed linreg runs intermittently ("Unknown scalar type", "toFloat"). Same operations, same numbers.
        using var scale = (-0.5 / (NoiseStd * NoiseStd)).ToScalar();
        using var constant = (-Math.Log(NoiseStd * Math.Sqrt(2 * Math.PI))).ToScalar();
        return residual.mul(residual).mul_(scale).add_(constant, HeldScalars.One).MoveToOuterDisposeScope();
    }
}
