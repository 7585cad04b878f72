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
        // f(x) = xᵀw is a Linear layer with one output: fan 1 for a per-layer prior (N(0, 1/precision)).
        Layout.Add("w", [features], role: ParameterRole.Other, fan: 1);
    }

    public int Features { get; }
    public string Name => "linreg";
    public Variant Variant => Variant.Standard;
    public ParameterLayout Layout { get; } = new();
    public long FixedCount => 0;
    public int Outputs => 1;
    public IReadOnlyList<FixedTensorRecord> FixedTensors => [];

    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = x.reshape(x.shape[0], x.shape[1], -1);
        return bmm(features, theta.Of(Layout.Segments[0]).unsqueeze(2)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Local reparameterisation (f(x) = xᵀw is a Linear layer without bias): per example, mean x·μ, variance x²·σ²,
    /// plus Σ_k z_k (x·f_k) with one z ~ N(0, I_r) per example; the same marginals as a plain draw of w, with noise that
    /// averages over the batch.
    /// </summary>
    public Tensor ForwardGaussian(Tensor mean, Tensor std, Tensor? factors, Tensor x, IReadOnlyList<Generator> generators)
    {
        using var scope = NewDisposeScope();
        var q = new GaussianParameters(mean, std, factors, generators);
        var features = x.reshape(x.shape[0], x.shape[1], -1);
        long batch = features.shape[1];
        var output = bmm(features, mean.unsqueeze(2)).squeeze(2).add(bmm(features.pow(HeldScalars.Two), std.pow(HeldScalars.Two).unsqueeze(2)).squeeze(2).clamp_min(HeldScalars.Of(1e-30)).sqrt() * q.Noise(batch), HeldScalars.One);
        if (factors is not null && q.Rank > 0)
            output = output.add(bmm(features, factors.transpose(1, 2)).mul(q.Noise(batch, q.Rank)).sum(2), HeldScalars.One);   // Σ_k z_k x·f_k
        return output.unsqueeze(2).MoveToOuterDisposeScope();
    }

    /// <summary>Starts at w = 0 plus small noise, so chains start apart.</summary>
    public Tensor InitialPosition(Generator generator) => randn([Features], generator: generator).mul_(HeldScalars.Of(0.1));

    public void To(Device device, ScalarType dtype) { }
    public void Dispose() { }
}
