using Workbench.Architectures.Masks;
using static TorchSharp.torch;

namespace Workbench.Architectures.Layers;

// Convolutional layers over θ for K chains. Activations are kept as [B, K·C, H, W]: chain k owns channels
// k·C … k·C + C − 1, and every layer runs all chains in one call by grouped convolution (groups = K), so a
// chain never sees another chain's channels. GroupNorm(1, C) per chain is then group_norm with K groups.

/// <summary>
/// A bias-free 2-D convolution, weight [C_out, C_in, k, k]. W-Asym form (PAPER 1.1): W' = M ⊙ W + (1 − M) ⊙ F over
/// the flattened C_in·k·k entries of each output channel, θ holding only the trainable entries.
/// </summary>
internal sealed class Conv2d : IDisposable
{
    private readonly int _in, _out, _kernel, _stride, _padding;
    private readonly WAsymMask? _mask;
    private Tensor? _fixedValues;    // [out·in·k·k] (1 − M) ⊙ F
    private Tensor? _trainableIndex; // [1, trainable]

    public string Name { get; }
    public ParameterSegment Weight { get; }

    public Conv2d(ParameterLayout layout, string name, int inputs, int outputs, int kernel, int stride, int padding, WAsymMask? mask)
    {
        _in = inputs; _out = outputs; _kernel = kernel; _stride = stride; _padding = padding; _mask = mask; Name = name;
        long[] shape = [outputs, inputs, kernel, kernel];
        if (mask is null)
        {
            Weight = layout.Add($"{name}.weight", shape, role: ParameterRole.Weight, fan: inputs);
        }
        else
        {
            if (mask.Rows != outputs || mask.Columns != inputs * kernel * kernel)
                throw new ArgumentException($"{name}: mask is {mask.Rows}×{mask.Columns}, the weight needs {outputs}×{inputs * kernel * kernel}");
            long[] index = Enumerable.Range(0, mask.Trainable.Length).Where(i => mask.Trainable[i]).Select(i => (long)i).ToArray();
            Weight = layout.Add($"{name}.weight", shape, index, ParameterRole.Weight, inputs, mask.FixedValues);
            _fixedValues = tensor(mask.FixedValues);
            _trainableIndex = tensor(index).unsqueeze(0);
        }
    }

    /// <summary>x [B, K·C_in, H, W] → [B, K·C_out, H', W'].</summary>
    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        long chains = theta.shape[0];
        var weight = EffectiveWeight(theta).reshape(chains * _out, _in, _kernel, _kernel);
        return nn.functional.conv2d(x, weight, strides: [_stride, _stride], padding: [_padding, _padding], groups: chains)
            .MoveToOuterDisposeScope();
    }

    /// <summary>W' for every chain, [K, out, in, k, k] (fixed W-Asym entries included).</summary>
    public Tensor EffectiveWeight(Theta theta)
    {
        if (theta.Full(Weight) is { } full) return full.view(theta.shape[0], _out, _in, _kernel, _kernel);
        var stored = Slices.Of(theta, Weight);
        long rows = stored.shape[0];
        if (_mask is null) return stored.reshape(rows, _out, _in, _kernel, _kernel);
        using var scope = NewDisposeScope();
        var fill = _fixedValues!.unsqueeze(0).expand(rows, -1);
        return fill.scatter(1, _trainableIndex!.expand(rows, -1), stored)
            .view(rows, _out, _in, _kernel, _kernel).MoveToOuterDisposeScope();
    }

    /// <summary>PyTorch's default Conv2d init: U(±1/√fan_in), fan_in = C_in·k·k (fixed entries are not in θ).</summary>
    public void Initialise(Tensor theta, Generator generator)
    {
        double bound = 1.0 / Math.Sqrt(_in * _kernel * _kernel);
        Slices.OfVector(theta, Weight).uniform_(-bound, bound, generator);
    }

    public void To(Device device, ScalarType dtype)
    {
        if (_fixedValues is not null) Linear.Replace(ref _fixedValues, _fixedValues.to(dtype, device));
        if (_trainableIndex is not null) Linear.Replace(ref _trainableIndex, _trainableIndex.to(device));
    }

    public void Dispose()
    {
        _fixedValues?.Dispose();
        _trainableIndex?.Dispose();
    }
}

/// <summary>GroupNorm(1, C) per chain and example, with a trainable per-channel affine (γ, β) per chain.</summary>
internal sealed class GroupNorm1
{
    private readonly int _channels;
    public ParameterSegment Gamma { get; }
    public ParameterSegment Beta { get; }

    public GroupNorm1(ParameterLayout layout, string name, int channels)
    {
        _channels = channels;
        Gamma = layout.Add($"{name}.weight", [channels], role: ParameterRole.Norm);
        Beta = layout.Add($"{name}.bias", [channels], role: ParameterRole.Norm);
    }

    /// <summary>x [B, K·C, H, W]: one group per chain normalises each chain's C·H·W values.</summary>
    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        long chains = theta.shape[0];
        var gamma = Slices.Of(theta, Gamma).reshape(chains * _channels);
        var beta = Slices.Of(theta, Beta).reshape(chains * _channels);
        return nn.functional.group_norm(x, chains, gamma, beta, 1e-5).MoveToOuterDisposeScope();
    }

    public void Initialise(Tensor theta)
    {
        Slices.OfVector(theta, Gamma).fill_(HeldScalars.Of(1.0));
        Slices.OfVector(theta, Beta).fill_(HeldScalars.Of(0.0));
    }
}

/// <summary>
/// FiGLU over channels (PAPER 1.2): σ(x) = sigmoid(F ⋆ x) ⊙ x with F a fixed C × C Gaussian 1×1 convolution,
/// std <paramref name="std"/> (the paper uses 1/√C for ResNets).
/// </summary>
internal sealed class ChannelFiGlu : IDisposable
{
    private Tensor _fixed; // [C, C, 1, 1]
    public string Sha256 { get; }
    public int Channels { get; }

    public ChannelFiGlu(ulong maskSeed, int layerIndex, int channels, double std)
    {
        var random = new KeyedRandom(maskSeed, layerIndex, KeyedStream.FiGluMatrix);
        var values = new float[channels * channels];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(std * random.NextNormal());
        Channels = channels;
        Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())));
        _fixed = tensor(values, [channels, channels, 1, 1]);
    }

    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        long chains = theta.shape[0];
        var weight = _fixed.repeat(chains, 1, 1, 1);
        return nn.functional.conv2d(x, weight, groups: chains).sigmoid().mul(x).MoveToOuterDisposeScope();
    }

    public void To(Device device, ScalarType dtype)
    {
        var moved = _fixed.to(dtype, device);
        if (!ReferenceEquals(moved, _fixed)) _fixed.Dispose();
        _fixed = moved;
    }

    public void Dispose() => _fixed.Dispose();
}

/// <summary>What every convnet's forward pass starts with: checking θ and x and folding chains into channels.</summary>
internal static class ImageInput
{
    /// <summary>
    /// θ [K, <paramref name="parameters"/>] and x [K, B, C, H, W] (or flat [K, B, C·H·W] of the given image shape) →
    /// [B, K·C, H, W], chain k owning channels k·C … k·C + C − 1; wrong shapes are an <see cref="ArgumentException"/>.
    /// </summary>
    public static Tensor Fold(string name, long parameters, Theta theta, Tensor x, int channels, int height, int width)
    {
        if (theta.dim() != 2 || theta.shape[1] != parameters)
            throw new ArgumentException($"{name}: θ must be [chains, {parameters}], got [{string.Join(",", theta.shape)}]");
        if (x.dim() == 3 && x.shape[2] == (long)channels * height * width)
            x = x.view(x.shape[0], x.shape[1], channels, height, width);
        if (x.dim() != 5 || x.shape[0] != theta.shape[0] || x.shape[2] != channels)
            throw new ArgumentException($"{name}: x must be [{theta.shape[0]}, batch, {channels}, H, W], got [{string.Join(",", x.shape)}]");
        long chains = x.shape[0], batch = x.shape[1];
        return x.transpose(0, 1).reshape(batch, chains * channels, x.shape[3], x.shape[4]);
    }

    /// <summary>About 2²⁰ image pixels per evaluation pass over all chains (1,024 CIFAR images for one chain): the 3×3
    /// convolutions' unfolded inputs are then a few hundred MB.</summary>
    public static int EvaluationChunk(long chains, int height, int width) => (int)Math.Max(1, (1L << 20) / (chains * height * width));
}
