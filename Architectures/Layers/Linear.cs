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
            _weight = layout.Add($"{name}.weight", shape, role: ParameterRole.Weight, fan: outputs);
        }
        else
        {
            long[] index = Enumerable.Range(0, mask.Trainable.Length).Where(i => mask.Trainable[i]).Select(i => (long)i).ToArray();
            _weight = layout.Add($"{name}.weight", shape, index, ParameterRole.Weight, outputs, mask.FixedValues);
            _fixedValues = tensor(mask.FixedValues);
            _trainableIndex = tensor(index).unsqueeze(0);
        }
        _bias = layout.Add($"{name}.bias", [outputs], role: ParameterRole.Bias, fan: outputs);
    }

    public string Name { get; }

    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        var bias = Slices.Of(theta, _bias).unsqueeze(1);
        // bmm then add rather than baddbmm: TorchSharp 0.107's baddbmm passes its arguments to libtorch in the wrong order.
        return bmm(x, EffectiveWeight(theta).transpose(1, 2)).add_(bias, HeldScalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>W' = M ⊙ W + (1 − M) ⊙ F for every chain, [K, out, in] (W itself for a standard layer).</summary>
    public Tensor EffectiveWeight(Theta theta) =>
        theta.Full(_weight)?.view(theta.shape[0], _out, _in) ?? Embed(Slices.Of(theta, _weight), _fixedValues);

    /// <summary>
    /// Local reparameterisation (Kingma et al. 2015; METHODS: MFVI, ELRG). For independent Gaussian weights the
    /// pre-activation a = xW'ᵀ + b is Gaussian per example with mean x·W̄'ᵀ + b̄ and variance x²·(σ_W²)ᵀ + σ_b²; the
    /// low-rank part Σ_k z_k (x·V_kᵀ + v_b,k) adds one z ~ N(0, I_r) per example, shared by the layer's output units.
    /// Fixed W-Asym entries enter the mean with their value F and the variance and factors with 0.
    /// </summary>
    public Tensor ForwardGaussian(GaussianParameters q, Tensor x)
    {
        using var scope = NewDisposeScope();
        long chains = x.shape[0], batch = x.shape[1];
        var mean = bmm(x, Embed(q.MeanOf(_weight.Offset, _weight.Count), _fixedValues).transpose(1, 2)).add_(q.MeanOf(_bias.Offset, _bias.Count).unsqueeze(1), HeldScalars.One);
        var weightVariance = Embed(q.StdOf(_weight.Offset, _weight.Count).pow(HeldScalars.Two), null);
        var variance = bmm(x.pow(HeldScalars.Two), weightVariance.transpose(1, 2)).add_(q.StdOf(_bias.Offset, _bias.Count).pow(HeldScalars.Two).unsqueeze(1), HeldScalars.One);
        // The floor keeps √ differentiable where a variance is exactly 0 (e.g. σ = 0 in tests); it adds ≤ 1e-15 sd.
        var output = mean.add(variance.clamp_min(HeldScalars.Of(1e-30)).sqrt() * q.Noise(batch, _out), HeldScalars.One);
        if (q.Factors is not null && q.Rank > 0)
        {
            long rank = q.Rank;
            var weightFactors = Embed(q.FactorsOf(_weight.Offset, _weight.Count)!.reshape(chains * rank, _weight.Count), null)
                .reshape(chains, rank * _out, _in);
            var projected = bmm(x, weightFactors.transpose(1, 2)).view(chains, batch, rank, _out);   // x·V_kᵀ
            var z = q.Noise(batch, rank);                                                               // [K, B, r]
            var biasFactors = q.FactorsOf(_bias.Offset, _bias.Count)!;                           // [K, r, out]
            output = output.add(projected.mul(z.unsqueeze(3)).sum(2), HeldScalars.One).add(bmm(z, biasFactors), HeldScalars.One);
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Places a weight segment's stored entries ([M, trainable]) into full [M, out, in] matrices, filling the
    /// fixed W-Asym positions from <paramref name="fixedFill"/> ([out·in]) or with zeros when it is null.</summary>
    private Tensor Embed(Tensor stored, Tensor? fixedFill)
    {
        long rows = stored.shape[0];
        if (_mask is null) return stored.reshape(rows, _out, _in);
        using var scope = NewDisposeScope();
        var fill = fixedFill is null
            ? zeros([rows, (long)_out * _in], dtype: stored.dtype, device: stored.device)
            : fixedFill.unsqueeze(0).expand(rows, -1);
        return fill.scatter(1, _trainableIndex!.expand(rows, -1), stored)
            .view(rows, _out, _in).MoveToOuterDisposeScope();
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
