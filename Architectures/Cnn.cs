using TorchSharp;
using Workbench.Architectures.Layers;
using Workbench.Architectures.Masks;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>
/// A small plain CNN without residual connections: per entry of <paramref name="Widths"/> one stage
/// conv3×3 (stride 1) → GroupNorm(1, C) → act → conv3×3 (stride 2) → GroupNorm(1, C) → act, then global average
/// pooling and a Linear head. Convolutions have no bias. act is ReLU (standard, W-Asym) or a channel FiGLU whose F has sd
/// <paramref name="FiGluStd"/> for C channels (σ-Asym; 1/√C as for the paper's ResNets unless set, PAPER 1.2). W-Asym fixes, per output channel,
/// <paramref name="ConvNFix"/> of the flattened C_in·3·3 entries (null: ⌈C_in·9/4⌉, a quarter of them) and
/// <paramref name="Head"/>.NFix of each head row, all with std <paramref name="ConvKappa"/> / Head.Kappa (PAPER 1.1).
/// </summary>
public sealed record CnnSpec(
    string Name,
    int InChannels,
    int Height,
    int Width,
    IReadOnlyList<int> Widths,
    int Outputs,
    Variant Variant,
    int? ConvNFix,
    double ConvKappa,
    WAsymSetting Head,
    FiGluScale FiGluStd,
    ulong MaskSeed)
{
    public const int Kernel = 3;

    /// <summary>Fixed entries per output channel of a conv reading <paramref name="inputs"/> channels.</summary>
    public int ConvNFixFor(int inputs) => ConvNFix ?? (inputs * Kernel * Kernel + 3) / 4;

    public void Validate()
    {
        if (InChannels <= 0 || Height <= 0 || Width <= 0)
            throw new ArgumentException($"model {Name}: the input image [{InChannels},{Height},{Width}] must have positive sizes");
        if (Outputs <= 0) throw new ArgumentException($"model {Name}: outputs must be positive, got {Outputs}");
        if (Widths.Count == 0 || Widths.Any(w => w <= 0))
            throw new ArgumentException($"model {Name}: --widths must be one or more positive channel counts, got [{string.Join(",", Widths)}]");
        if (Variant == Variant.SigmaAsym && !FiGluStd.IsValid) throw new ArgumentException($"model {Name}: FiGLU sd must be positive, got {FiGluStd}");
    }
}

public sealed class Cnn : IPermutationSymmetric
{
    private sealed record ConvLayer(Conv2d Conv, GroupNorm1 Norm, ChannelFiGlu? Act);

    private readonly ConvnetFixedTensors _fixed;
    private readonly List<ConvLayer> _layers = new(); // two per entry of Widths: the stride-1 conv, then the stride-2 conv
    private readonly Linear _head;
    private readonly List<PermutationGroup> _groups = new();

    public CnnSpec Spec { get; }
    public string Name => Spec.Name;
    public Variant Variant => Spec.Variant;
    public ParameterLayout Layout { get; } = new();
    public long FixedCount => _fixed.FixedCount;
    public int Outputs => Spec.Outputs;
    public IReadOnlyList<FixedTensorRecord> FixedTensors => _fixed.Records;

    public Cnn(CnnSpec spec)
    {
        spec.Validate();
        Spec = spec;
        _fixed = new ConvnetFixedTensors(spec.Variant, spec.MaskSeed, spec.FiGluStd);
        int width = spec.InChannels;
        foreach (int outWidth in spec.Widths)
            foreach (int stride in new[] { 1, 2 })
            {
                string name = $"conv{_layers.Count + 1}";
                var conv = MakeConv(name, width, outWidth, stride);
                var norm = new GroupNorm1(Layout, $"gn{_layers.Count + 1}", outWidth);
                _layers.Add(new ConvLayer(conv, norm, _fixed.Activation($"act{_layers.Count + 1}", outWidth)));
                width = outWidth;
            }

        _head = new Linear(Layout, "head", width, spec.Outputs, _fixed.LinearMask("head", spec.Outputs, width, spec.Head));

        // One channel group per conv output: its filters, its GroupNorm affine, and the input channels of the next
        // conv (or the head's columns, which read the pooled channels of the last one).
        for (int i = 0; i < _layers.Count; i++)
        {
            var (conv, norm, _) = _layers[i];
            var reader = i + 1 < _layers.Count ? _layers[i + 1].Conv.Weight : Layout["head.weight"];
            _groups.Add(new PermutationGroup(conv.Name, (int)conv.Weight.Shape[0],
                [new(conv.Weight, 0), new(norm.Gamma, 0), new(norm.Beta, 0), new(reader, 1)]));
        }
    }

    private Conv2d MakeConv(string name, int inputs, int outputs, int stride)
    {
        const int kernel = CnnSpec.Kernel;
        var mask = _fixed.ConvMask(name, outputs, inputs, kernel, Spec.ConvNFixFor(inputs), Spec.ConvKappa, filters: false);
        return new Conv2d(Layout, name, inputs, outputs, kernel, stride, padding: 1, mask);
    }

    /// <summary>conv1, conv2, …: the output channels of each convolution, input side first.</summary>
    public IReadOnlyList<PermutationGroup> PermutationGroups => _groups;

    public IReadOnlyList<long> InputShape => [Spec.InChannels, Spec.Height, Spec.Width];

    /// <summary>False on the CPU, where grouped convolutions over K chains are slower than one chain at a time.</summary>
    public bool BatchesChainsWell(Device device) => device.type != DeviceType.CPU;

    public int EvaluationChunk(long chains) => ImageInput.EvaluationChunk(chains, Spec.Height, Spec.Width);

    /// <summary>θ [K, P], x [K, B, C, H, W] (or flat [K, B, C·H·W] of the spec's image shape) → logits [K, B, outputs].</summary>
    public Tensor Forward(Theta theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = ImageInput.Fold(Name, Layout.Count, theta, x, Spec.InChannels, Spec.Height, Spec.Width);
        long chains = theta.shape[0], batch = h.shape[0];
        // Chains folded into channels: [B, K·C, H, W], every conv grouped by chain (see Layers/Conv2d.cs).
        foreach (var (conv, norm, act) in _layers)
        {
            h = norm.Forward(theta, conv.Forward(theta, h));
            h = act is null ? nn.functional.relu(h) : act.Forward(theta, h);
        }
        var pooled = h.mean([2, 3]).view(batch, chains, -1).transpose(0, 1);
        return _head.Forward(theta, pooled).MoveToOuterDisposeScope();
    }

    public Tensor InitialPosition(Generator generator)
    {
        var theta = empty(Layout.Count, ScalarType.Float32);
        using (no_grad())
        {
            foreach (var (conv, norm, _) in _layers)
            {
                conv.Initialise(theta, generator);
                norm.Initialise(theta);
            }
            _head.Initialise(theta, generator);
        }
        return theta;
    }

    public void To(Device device, ScalarType dtype)
    {
        foreach (var (conv, _, act) in _layers)
        {
            conv.To(device, dtype);
            act?.To(device, dtype);
        }
        _head.To(device, dtype);
    }

    public void Dispose()
    {
        foreach (var (conv, _, act) in _layers)
        {
            conv.Dispose();
            act?.Dispose();
        }
        _head.Dispose();
    }
}
