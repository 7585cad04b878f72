using Workbench.Architectures;
using Workbench.Samplers;
using static TorchSharp.torch;

namespace Workbench.Studies.Sampling;

/// <summary>
/// The sampler's target on the current minibatch: the mean per-datum log-likelihood of each chain, [K], and its
/// gradient with respect to θ [K, P] by autograd. Chains are independent, so the gradient of the sum over chains
/// is each chain's own gradient. For VI it also evaluates the expected log-likelihood under a Gaussian over θ through
/// the network's Gaussian forward pass (local reparameterisation).
/// </summary>
public sealed class MinibatchLogLikelihood(INetwork network, Likelihood likelihood) : IVariationalLogLikelihood
{
    private Tensor? _x, _y;

    /// <summary>Sets the batch: x [K, B, …], y [K, B].</summary>
    public void SetBatch(Tensor x, Tensor y) { _x = x; _y = y; }

    public (Tensor Value, Tensor Gradient) Evaluate(Tensor position)
    {
        if (_x is null || _y is null) throw new InvalidOperationException("no minibatch set");
        using var scope = NewDisposeScope();
        // One autograd leaf per segment, gradients accumulated in place (see Theta.Segmented).
        var theta = Theta.Segmented(position.detach(), network.Layout);
        var perChain = likelihood.LogProbability(network.Forward(theta, _x), _y).mean([1]);
        if (!perChain.requires_grad) throw new InvalidOperationException("the log-likelihood does not depend on θ");
        perChain.sum().backward();
        return (perChain.detach().MoveToOuterDisposeScope(), theta.Gradient().MoveToOuterDisposeScope());
    }

    public IReadOnlyList<long> FactorBlocks => network.VariationalBlocks;

    public Tensor ExpectedLogLikelihood(GaussianPosterior q, IReadOnlyList<Generator> generators)
    {
        if (_x is null || _y is null) throw new InvalidOperationException("no minibatch set");
        using var scope = NewDisposeScope();
        var outputs = network.ForwardGaussian(q.Mean, q.Std, q.Factors, _x, generators);
        return likelihood.LogProbability(outputs, _y).mean([1]).MoveToOuterDisposeScope();
    }
}
