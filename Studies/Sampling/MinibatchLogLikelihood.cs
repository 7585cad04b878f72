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

    public IReadOnlyList<VariationalPiece> VariationalPieces => _pieces ??= PiecesOf(network);
    private IReadOnlyList<VariationalPiece>? _pieces;

    /// <summary>
    /// One piece per parameter segment, as the paper's reference ELRG code treats each layer: blocks are the network's
    /// <see cref="INetwork.VariationalBlocks"/> (one per layer); normalisation affines are deterministic; every other
    /// segment carries its layer's fan for the per-layer prior; a Linear's factors start at 0.5·sd(W₀)/√r (weight) and
    /// 0.01 (bias), a convolution's at 0, anything else at the method's init_std.
    /// </summary>
    public static IReadOnlyList<VariationalPiece> PiecesOf(INetwork network)
    {
        var pieces = new List<VariationalPiece>();
        int block = -1;
        string? layer = null;
        foreach (var segment in network.Layout.Segments)
        {
            // A block is a run of segments of one layer (the name before the first '.'), as GaussianParameters.LayerBlocks.
            string name = segment.Name.Split('.')[0];
            if (name != layer) { block++; layer = name; }
            var init = segment.Role switch
            {
                ParameterRole.Weight => segment.IsConvolutionWeight ? FactorInit.Zero : FactorInit.LinearWeight,
                ParameterRole.Bias => FactorInit.LinearBias,
                _ => null,
            };
            pieces.Add(segment.Role == ParameterRole.Norm
                ? new VariationalPiece(segment.Count, block, Deterministic: true)
                : new VariationalPiece(segment.Count, block, Fan: segment.Fan, FactorInit: init));
        }
        var sizes = pieces.GroupBy(p => p.Block).Select(g => g.Sum(p => p.Count));
        if (!sizes.SequenceEqual(network.VariationalBlocks))
            throw new InvalidOperationException($"{network.Name}: its variational blocks are not one per layer");
        return pieces;
    }

    public Tensor ExpectedLogLikelihood(GaussianPosterior q, IReadOnlyList<Generator> generators)
    {
        if (_x is null || _y is null) throw new InvalidOperationException("no minibatch set");
        using var scope = NewDisposeScope();
        var outputs = network.ForwardGaussian(q.Mean, q.Std, q.Factors, _x, generators);
        return likelihood.LogProbability(outputs, _y).mean([1]).MoveToOuterDisposeScope();
    }
}
