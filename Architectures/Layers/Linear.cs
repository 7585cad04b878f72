using TorchSharp;
using Workbench.Architectures.Masks;
using static TorchSharp.torch;

namespace Workbench.Architectures.Layers;

/// <summary>
/// y = x Wᵀ + b for every chain at once (batched matrix products over the chain dimension). Standard form: every
/// weight entry is in θ. W-Asym form (PAPER 1.1): W' = M ⊙ W + (1 − M) ⊙ F, where θ holds only the trainable entries
/// and the fixed values live in a constant buffer; biases stay trainable.
/// </summary>
internal sealed class Linear : ILayer
{
    private readonly int _in, _out;
    private readonly ParameterSegment _weight, _bias;
    private readonly WAsymMask? _mask;
    private Tensor? _fixedValues;   // [out·in] (1 − M) ⊙ F
    private Tensor? _trainableIndex; // [1, trainable] positions of θ's entries in the row-major weight

    public Linear(ParameterLayout layout, string name, int inputs, int outputs, WAsymMask? mask)
    {
        _in = inputs; _out = outputs; _mask = mask; Name = name;
        long[] shape = [outputs, inputs];
        if (mask is null)
        {
            _weight = layout.Add($"{name}.weight", shape);
        }
        else
        {
            long[] index = Enumerable.Range(0, mask.Trainable.Length).Where(i => mask.Trainable[i]).Select(i => (long)i).ToArray();
            _weight = layout.Add($"{name}.weight", shape, index);
            _fixedValues = tensor(mask.FixedValues);
            _trainableIndex = tensor(index).unsqueeze(0);
        }
        _bias = layout.Add($"{name}.bias", [outputs]);
    }

    public string Name { get; }

    public Tensor Forward(Tensor theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        var bias = Slices.Of(theta, _bias).unsqueeze(1);
        // bmm then add rather than baddbmm: TorchSharp 0.107's baddbmm passes its arguments to libtorch in the wrong order.
        return bmm(x, EffectiveWeight(theta).transpose(1, 2)).add_(bias).MoveToOuterDisposeScope();
    }

    /// <summary>W' = M ⊙ W + (1 − M) ⊙ F for every chain, [K, out, in] (W itself for a standard layer).</summary>
    public Tensor EffectiveWeight(Tensor theta)
    {
        long chains = theta.shape[0];
        var w = Slices.Of(theta, _weight);
        if (_mask is null) return w.view(chains, _out, _in);
        using var scope = NewDisposeScope();
        return _fixedValues!.unsqueeze(0).expand(chains, -1)
            .scatter(1, _trainableIndex!.expand(chains, -1), w)
            .view(chains, _out, _in).MoveToOuterDisposeScope();
    }

    public void Initialise(Tensor theta, Generator generator)
    {
        // PyTorch's default Linear init: U(±1/√fan_in) with fan_in the full d_in, for weights and biases.
        double bound = 1.0 / Math.Sqrt(_in);
        Slices.OfVector(theta, _weight).uniform_(-bound, bound, generator);
        Slices.OfVector(theta, _bias).uniform_(-bound, bound, generator);
    }

    public void To(Device device, ScalarType dtype)
    {
        if (_fixedValues is not null) Replace(ref _fixedValues, _fixedValues.to(dtype, device));
        if (_trainableIndex is not null) Replace(ref _trainableIndex, _trainableIndex.to(device));
    }

    internal static void Replace(ref Tensor? field, Tensor value)
    {
        if (!ReferenceEquals(field, value)) field?.Dispose();
        field = value;
    }

    public void Dispose()
    {
        _fixedValues?.Dispose();
        _trainableIndex?.Dispose();
    }
}
