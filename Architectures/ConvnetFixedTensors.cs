using Workbench.Architectures.Layers;
using Workbench.Architectures.Masks;

namespace Workbench.Architectures;

/// <summary>
/// The fixed tensors of a convnet as it is built, layer by layer: W-Asym masks (mask layer indices in construction
/// order) and σ-Asym channel FiGLUs (their own indices), each recorded with its hash for the manifest and counted in
/// <see cref="FixedCount"/>. Masks exist only for W-Asym and FiGLUs only for σ-Asym; otherwise the makers return null.
/// </summary>
internal sealed class ConvnetFixedTensors(Variant variant, ulong maskSeed, FiGluScale figluStd)
{
    private readonly List<FixedTensorRecord> _records = new();
    private int _maskIndex, _figluIndex;

    public IReadOnlyList<FixedTensorRecord> Records => _records;
    public long FixedCount { get; private set; }

    /// <summary>The W-Asym mask of a [outputs, inputs, k, k] convolution: <paramref name="nFix"/> entries of the flattened
    /// inputs·k·k per output channel, or with <paramref name="filters"/> that many whole input-channel filters.</summary>
    public WAsymMask? ConvMask(string name, int outputs, int inputs, int kernel, int nFix, double kappa, bool filters)
    {
        if (variant != Variant.WAsym) return null;
        int layer = _maskIndex++;
        var mask = filters
            ? WAsymMask.GenerateFilters(maskSeed, layer, outputs, inputs, kernel * kernel, nFix, kappa)
            : WAsymMask.Generate(maskSeed, layer, outputs, inputs * kernel * kernel, nFix, kappa);
        Record($"{name}.weight", [outputs, inputs, kernel, kernel], mask, filters);
        return mask;
    }

    /// <summary>The W-Asym mask of a Linear head's [outputs, inputs] weight; none when n_fix is 0 (a plain Linear).</summary>
    public WAsymMask? LinearMask(string name, int outputs, int inputs, WAsymSetting setting)
    {
        if (variant != Variant.WAsym || setting.NFix == 0) return null;
        var mask = WAsymMask.Generate(maskSeed, _maskIndex++, outputs, inputs, setting.NFix, setting.Kappa);
        Record($"{name}.weight", [outputs, inputs], mask, filters: false);
        return mask;
    }

    /// <summary>A channel FiGLU whose F has the sd <see cref="FiGluScale.StdFor"/> C channels (PAPER 1.2: 1/√C in the paper's ResNets).</summary>
    public ChannelFiGlu? Activation(string name, int channels)
    {
        if (variant != Variant.SigmaAsym) return null;
        double std = figluStd.StdFor(channels);
        var figlu = new ChannelFiGlu(maskSeed, _figluIndex++, channels, std);
        _records.Add(new FixedTensorRecord(name, "figlu", [channels, channels, 1, 1], (long)channels * channels, figlu.Sha256,
            new Dictionary<string, double> { ["std"] = std }));
        FixedCount += (long)channels * channels;
        return figlu;
    }

    private void Record(string layer, long[] shape, WAsymMask mask, bool filters)
    {
        _records.Add(new FixedTensorRecord(layer, "w-asym", shape, mask.FixedCount, mask.Sha256(),
            new Dictionary<string, double> { ["n_fix"] = mask.NFix, ["kappa"] = mask.Kappa, ["filters"] = filters ? 1 : 0 }));
        FixedCount += mask.FixedCount;
    }
}
