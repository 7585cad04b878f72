using static TorchSharp.torch;

namespace Workbench.Architectures.Layers;

/// <summary>LayerNorm over the feature dimension with a per-chain trainable affine (γ, β).</summary>
internal sealed class LayerNorm : ILayer
{
    private readonly int _features;
    private readonly ParameterSegment _gamma, _beta;

    public LayerNorm(ParameterLayout layout, string name, int features)
    {
        _features = features;
        _gamma = layout.Add($"{name}.weight", [features], role: ParameterRole.Norm);
        _beta = layout.Add($"{name}.bias", [features], role: ParameterRole.Norm);
    }

    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        return Affine(x, Slices.Of(theta, _gamma), Slices.Of(theta, _beta)).MoveToOuterDisposeScope();
    }

    /// <summary>Plain reparameterisation: one (γ, β) per chain per call, γ and β one block (they follow each other
    /// in the layout), so low-rank factors may couple them.</summary>
    public Tensor ForwardGaussian(GaussianParameters q, Tensor x)
    {
        using var scope = NewDisposeScope();
        var affine = q.Sample(_gamma.Offset, _gamma.Count + _beta.Count);
        return Affine(x, affine.narrow(1, 0, _gamma.Count), affine.narrow(1, _gamma.Count, _beta.Count)).MoveToOuterDisposeScope();
    }

    private Tensor Affine(Tensor x, Tensor gamma, Tensor beta)
    {
        var normalised = nn.functional.layer_norm(x, [_features], eps: 1e-5);
        return addcmul(beta.unsqueeze(1), normalised, gamma.unsqueeze(1), HeldScalars.One);
    }

    public void Initialise(Tensor theta, Generator generator)
    {
        Slices.OfVector(theta, _gamma).fill_(HeldScalars.Of(1.0));
        Slices.OfVector(theta, _beta).fill_(HeldScalars.Of(0.0));
    }

    public void To(Device device, ScalarType dtype) { }
    public void Dispose() { }
}
