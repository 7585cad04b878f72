using Workbench.Architectures.Masks;
using static TorchSharp.torch;

namespace Workbench.Architectures.Layers;

public enum Activation { Relu, Gelu }

/// <summary>An elementwise nonlinearity (no parameters).</summary>
internal sealed class Elementwise(Activation activation) : ILayer
{
    public Tensor Forward(Theta theta, Tensor x) => activation switch
    {
        Activation.Relu => nn.functional.relu(x),
        Activation.Gelu => nn.functional.gelu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };

    public Tensor ForwardGaussian(GaussianParameters q, Tensor x) => Forward(q.Mean, x);
    public void Initialise(Tensor theta, Generator generator) { }
    public void To(Device device, ScalarType dtype) { }
    public void Dispose() { }
}

/// <summary>
/// FiGLU, the σ-Asymmetric nonlinearity (PAPER 1.2): σ(x) = sigmoid(F x) ⊙ x with F a fixed random Gaussian d × d
/// matrix, so no permutation of hidden units commutes with it (with probability 1).
/// </summary>
internal sealed class FiGlu : ILayer
{
    private Tensor _fixedT; // Fᵀ, so that row vectors x give x Fᵀ = (F x)ᵀ
    public string Sha256 { get; }
    public int Features { get; }
    public double Std { get; }

    public FiGlu(ulong maskSeed, int layerIndex, int features, double std)
    {
        var random = new KeyedRandom(maskSeed, layerIndex, KeyedStream.FiGluMatrix);
        var values = new float[features * features];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(std * random.NextNormal());
        Features = features; Std = std;
        Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())));
        using var f = tensor(values, [features, features]);
        _fixedT = f.t().contiguous();
    }

    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        return matmul(x, _fixedT).sigmoid().mul(x).MoveToOuterDisposeScope();
    }

    public Tensor ForwardGaussian(GaussianParameters q, Tensor x) => Forward(q.Mean, x);

    public void Initialise(Tensor theta, Generator generator) { }

    public void To(Device device, ScalarType dtype)
    {
        var moved = _fixedT.to(dtype, device);
        if (!ReferenceEquals(moved, _fixedT)) _fixedT.Dispose();
        _fixedT = moved;
    }

    public void Dispose() => _fixedT.Dispose();
}
