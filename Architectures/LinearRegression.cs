using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// Bayesian linear regression's mean function f(x) = xᵀw, no separate intercept: the model whose posterior is known
/// in closed form, so samplers can be checked against it.
/// </summary>
public sealed class LinearRegression : INetwork
{
    public LinearRegression(int features)
    {
        if (features <= 0) throw new ArgumentException($"linreg needs at least one feature, got {features}");
        Features = features;
        Layout.Add("w", [features]);
    }

    public int Features { get; }
    public string Name => "linreg";
    public Variant Variant => Variant.Standard;
    public ParameterLayout Layout { get; } = new();
    public long FixedCount => 0;
    public int Outputs => 1;
    public IReadOnlyList<FixedTensorRecord> FixedTensors => [];

    public Tensor Forward(Tensor theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = x.reshape(x.shape[0], x.shape[1], -1);
        return bmm(features, theta.unsqueeze(2)).MoveToOuterDisposeScope();
    }

    /// <summary>Starts at w = 0 plus small noise, so chains start apart.</summary>
    public Tensor InitialPosition(Generator generator) => randn([Features], generator: generator).mul_(0.1);

    public void To(Device device, ScalarType dtype) { }
    public void Dispose() { }
}
