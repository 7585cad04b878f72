using static TorchSharp.torch;

namespace Workbench.Architectures.Layers;

/// <summary>A block of a functional network: reads its slice of θ ([K, n]) and transforms x ([K, B, d]).</summary>
internal interface ILayer : IDisposable
{
    Tensor Forward(Theta theta, Tensor x);
    /// <summary>The forward pass under a Gaussian over θ (see <see cref="INetwork.ForwardGaussian"/>).</summary>
    Tensor ForwardGaussian(GaussianParameters q, Tensor x);
    void Initialise(Tensor theta, Generator generator);
    void To(Device device, ScalarType dtype);
}

internal static class Slices
{
    /// <summary>The [K, count] view of θ [K, P] for one segment.</summary>
    public static Tensor Of(Theta theta, ParameterSegment segment) => theta.Of(segment);

    public static Tensor OfVector(Tensor theta, ParameterSegment segment) => theta.narrow(0, segment.Offset, segment.Count);
}
