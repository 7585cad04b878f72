using static TorchSharp.torch;

namespace Workbench.Studies.Metrics;

/// <summary>Brier score of the Bayesian model average: mean_i Σ_k (p̄_k(x_i) − 1[y_i = k])² (METHODS: Predictive metrics), in float64.</summary>
public static class Brier
{
    /// <summary>Brier score from log p̄ [N, C] and labels [N]; 0 for a one-hot correct prediction, (C−1)/C for a uniform one.</summary>
    public static double Compute(Tensor logMeanProbabilities, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logMeanProbabilities);
        if (logMeanProbabilities.dim() != 2)
            throw new ArgumentException($"Brier expects log p̄ of shape [N, C]; got [{string.Join(", ", logMeanProbabilities.shape)}] (use ComputePerChain for [K, N, C]).", nameof(logMeanProbabilities));
        using var scope = NewDisposeScope();
        return ComputePerChain(logMeanProbabilities.unsqueeze(0), labels)[0];
    }

    /// <summary>One Brier score per chain from log p̄ [K, N, C] and labels [N].</summary>
    public static double[] ComputePerChain(Tensor logMeanProbabilities, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logMeanProbabilities);
        ArgumentNullException.ThrowIfNull(labels);
        if (logMeanProbabilities.dim() != 3)
            throw new ArgumentException($"Per-chain Brier expects log p̄ of shape [K, N, C]; got [{string.Join(", ", logMeanProbabilities.shape)}].", nameof(logMeanProbabilities));
        long classes = logMeanProbabilities.shape[2], n = logMeanProbabilities.shape[1];
        if (n == 0) throw new ArgumentException("Brier needs at least one prediction.", nameof(labels));
        Calibration.CheckLabels(labels, n, classes);

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var p = logMeanProbabilities.detach().to(ScalarType.Float64).cpu().exp();
        var target = nn.functional.one_hot(labels.to(ScalarType.Int64).cpu(), classes).to(ScalarType.Float64).unsqueeze(0);
        // d·d rather than square(): TorchSharp's square() passes an implicit Scalar exponent to pow, which can be finalised
        // while native code reads it ("Unknown scalar type", seen intermittently in make test).
        var d = p - target;
        return d.mul(d).sum(2).mean([1]).contiguous().data<double>().ToArray();
    }
}
