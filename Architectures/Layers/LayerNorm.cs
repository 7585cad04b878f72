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
        _gamma = layout.Add($"{name}.weight", [features]);
        _beta = layout.Add($"{name}.bias", [features]);
    }

    public Tensor Forward(Tensor theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        var normalised = nn.functional.layer_norm(x, [_features], eps: 1e-5);
        var gamma = Slices.Of(theta, _gamma).unsqueeze(1);
        var beta = Slices.Of(theta, _beta).unsqueeze(1);
        return addcmul(beta, normalised, gamma, 1).MoveToOuterDisposeScope();
    }

    public void Initialise(Tensor theta, Generator generator)
    {
        Slices.OfVector(theta, _gamma).fill_(1.0);
        Slices.OfVector(theta, _beta).fill_(0.0);
    }

    public void To(Device device, ScalarType dtype) { }
    public void Dispose() { }
}
