using TorchSharp;
using Workbench.Architectures;
using static TorchSharp.torch;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>Mean NLL and error rate of one network on one split.</summary>
public readonly record struct PathPoint(double Lambda, double Loss, double Error);

/// <summary>
/// Evaluates networks on the straight line between two parameter vectors: all λ of the grid as one batched
/// computation (the networks' chain dimension), over the examples in chunks so memory stays bounded.
/// The network's fixed tensors (W-Asym M and F, FiGLU F) are shared by both ends, as interpolation requires.
/// Networks with BatchNorm would need their statistics re-estimated at every λ; ours use LayerNorm, which needs none.
/// </summary>
public static class InterpolationPath
{
    /// <param name="a">θ_A, [P].</param>
    /// <param name="b">θ_B, [P].</param>
    /// <param name="x">inputs [N, …]; <paramref name="y"/> class labels [N].</param>
    /// <param name="chunk">examples per forward pass (default: the network's <see cref="INetwork.EvaluationChunk"/>).</param>
    public static PathPoint[] Evaluate(INetwork network, Tensor a, Tensor b, IReadOnlyList<double> lambdas, Tensor x, Tensor y, int? chunk = null)
    {
        if (a.dim() != 1 || b.dim() != 1 || a.shape[0] != network.TrainableCount || b.shape[0] != network.TrainableCount)
            throw new ArgumentException($"θ_A and θ_B must be [{network.TrainableCount}], got [{string.Join(",", a.shape)}] and [{string.Join(",", b.shape)}]");
        if (x.shape[0] != y.shape[0]) throw new ArgumentException($"{x.shape[0]} inputs but {y.shape[0]} labels");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weights = tensor(lambdas.ToArray(), dtype: a.dtype, device: a.device).unsqueeze(1);          // [L, 1]
        var thetas = (a.unsqueeze(0) * weights.neg().add(HeldScalars.One, HeldScalars.One)).add(b.unsqueeze(0) * weights, HeldScalars.One);                         // [L, P]
        var (loss, error) = EvaluateMany(network, thetas, x, y, chunk);
        return lambdas.Select((l, i) => new PathPoint(l, loss[i], error[i])).ToArray();
    }

    /// <summary>Mean NLL and error rate of each of the networks θ [K, P] on inputs <paramref name="x"/> and labels
    /// <paramref name="y"/>, as one batched computation over the examples in chunks.</summary>
    public static (double[] Loss, double[] Error) EvaluateMany(INetwork network, Tensor thetas, Tensor x, Tensor y, int? chunk = null)
    {
        if (thetas.dim() != 2 || thetas.shape[1] != network.TrainableCount)
            throw new ArgumentException($"θ must be [K, {network.TrainableCount}], got [{string.Join(",", thetas.shape)}]");
        if (x.shape[0] != y.shape[0]) throw new ArgumentException($"{x.shape[0]} inputs but {y.shape[0]} labels");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long k = thetas.shape[0], n = x.shape[0];
        int examples = chunk ?? network.EvaluationChunk(k);
        var nll = zeros([k], dtype: ScalarType.Float64);
        var errors = zeros([k], dtype: ScalarType.Float64);
        for (long start = 0; start < n; start += examples)
        {
            using var step = NewDisposeScope();
            long size = Math.Min(examples, n - start);
            var inputs = x.narrow(0, start, size).to(thetas.dtype, thetas.device);
            var labels = y.narrow(0, start, size).to(thetas.device);
            var batch = inputs.unsqueeze(0).expand([k, .. inputs.shape]);
            var logp = nn.functional.log_softmax(network.Forward(thetas, batch), 2);                     // [K, B, C]
            var target = labels.unsqueeze(0).expand(k, -1);
            nll.add_(logp.gather(2, target.unsqueeze(2)).squeeze(2).neg().to_type(ScalarType.Float64).sum(1).cpu(), HeldScalars.One);
            errors.add_(logp.argmax(2).ne(target).to_type(ScalarType.Float64).sum(1).cpu(), HeldScalars.One);
        }
        return (nll.div(HeldScalars.Of(n)).data<double>().ToArray(), errors.div(HeldScalars.Of(n)).data<double>().ToArray());
    }
}
