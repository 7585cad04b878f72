using TorchSharp;
using Workbench.Architectures.Layers;
using Workbench.Architectures.Masks;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>W-Asym setting of one convolution: <paramref name="NFix"/> fixed entries of the flattened C_in·k·k per
/// output channel, or, with <paramref name="Filters"/>, that many whole input-channel k×k filters (PAPER 1.1).</summary>
public sealed record ConvWAsym(int NFix, double Kappa, bool Filters);

/// <summary>
/// A CIFAR ResNet (PAPER 1.3): 3×3 stem → GroupNorm(1, C) → ReLU, three stages of <paramref name="BlocksPerStage"/>
/// basic blocks (widths 16, 32, 64 × <paramref name="WidthMultiplier"/>, stride 2 at stages 2 and 3), option-B
/// shortcuts (1×1 conv → GroupNorm when the shape changes), global average pooling, Linear head. Convolutions
/// have no bias. <paramref name="StageConvs"/> and <paramref name="Skips"/> hold one W-Asym setting per stage
/// (stage 1 has no skip projection). σ-Asym replaces every ReLU with a channel FiGLU whose F has sd
/// <paramref name="FiGluStd"/> for C channels (the paper's: 1/√C).
/// </summary>
public sealed record ResNetSpec(
    string Name,
    int BlocksPerStage,
    int WidthMultiplier,
    int InChannels,
    int Outputs,
    Variant Variant,
    ConvWAsym Stem,
    IReadOnlyList<ConvWAsym> StageConvs,
    IReadOnlyList<ConvWAsym?> Skips,
    WAsymSetting Head,
    FiGluScale FiGluStd,
    ulong MaskSeed,
    int Height = 32,
    int Width = 32)
{
    public void Validate()
    {
        if (BlocksPerStage <= 0) throw new ArgumentException($"model {Name}: blocks per stage must be positive, got {BlocksPerStage}");
        if (WidthMultiplier <= 0) throw new ArgumentException($"model {Name}: width multiplier must be positive, got {WidthMultiplier}");
        if (InChannels <= 0 || Outputs <= 0) throw new ArgumentException($"model {Name}: input channels and outputs must be positive");
        if (Height < 4 || Width < 4) throw new ArgumentException($"model {Name}: images of {Height}×{Width} are too small for two stride-2 stages (need at least 4×4)");
        if (StageConvs.Count != 3 || Skips.Count != 3) throw new ArgumentException($"model {Name}: needs 3 stage conv and 3 skip W-Asym settings");
        if (Variant == Variant.SigmaAsym && !FiGluStd.IsValid) throw new ArgumentException($"model {Name}: FiGLU sd must be positive, got {FiGluStd}");
    }
}

public sealed class ResNet : IPermutationSymmetric
{
    private sealed record Block(Conv2d Conv1, GroupNorm1 Norm1, ChannelFiGlu? Act1, Conv2d Conv2, GroupNorm1 Norm2,
        Conv2d? Skip, GroupNorm1? SkipNorm, ChannelFiGlu? Act2);

    private readonly ConvnetFixedTensors _fixed;
    private readonly Conv2d _stem;
    private readonly GroupNorm1 _stemNorm;
    private readonly ChannelFiGlu? _stemAct;
    private readonly List<Block> _blocks = new();
    private readonly Linear _head;
    private readonly List<(string Name, int Size, List<PermutationMember> Members)> _groups = new();

    public ResNetSpec Spec { get; }
    public string Name => Spec.Name;
    public Variant Variant => Spec.Variant;
    public ParameterLayout Layout { get; } = new();
    public long FixedCount => _fixed.FixedCount;
    public int Outputs => Spec.Outputs;
    public IReadOnlyList<FixedTensorRecord> FixedTensors => _fixed.Records;

    public ResNet(ResNetSpec spec)
    {
        spec.Validate();
        Spec = spec;
        _fixed = new ConvnetFixedTensors(spec.Variant, spec.MaskSeed, spec.FiGluStd);
        int[] widths = [16 * spec.WidthMultiplier, 32 * spec.WidthMultiplier, 64 * spec.WidthMultiplier];

        _stem = MakeConv("stem", spec.InChannels, widths[0], stride: 1, padding: 1, spec.Stem);
        _stemNorm = new GroupNorm1(Layout, "stem_gn", widths[0]);
        _stemAct = _fixed.Activation("stem_act", widths[0]);
        Join("stream1", widths[0], (_stem.Weight, 0), (_stemNorm.Gamma, 0), (_stemNorm.Beta, 0));

        int width = widths[0];
        for (int s = 0; s < 3; s++)
        {
            string stream = $"stream{s + 1}";
            for (int b = 0; b < spec.BlocksPerStage; b++)
            {
                string name = $"s{s + 1}b{b + 1}";
                int stride = s > 0 && b == 0 ? 2 : 1;
                int outWidth = widths[s];
                var conv1 = MakeConv($"{name}_conv1", width, outWidth, stride, 1, spec.StageConvs[s]);
                var norm1 = new GroupNorm1(Layout, $"{name}_gn1", outWidth);
                var act1 = _fixed.Activation($"{name}_act1", outWidth);
                var conv2 = MakeConv($"{name}_conv2", outWidth, outWidth, 1, 1, spec.StageConvs[s]);
                var norm2 = new GroupNorm1(Layout, $"{name}_gn2", outWidth);
                Conv2d? skip = null;
                GroupNorm1? skipNorm = null;
                if (stride != 1 || width != outWidth)
                {
                    var setting = spec.Skips[s] ?? throw new ArgumentException($"model {spec.Name}: stage {s + 1} changes shape but has no skip W-Asym setting");
                    skip = MakeConv($"{name}_skip", width, outWidth, stride, 0, setting, kernel: 1);
                    skipNorm = new GroupNorm1(Layout, $"{name}_skipgn", outWidth);
                }
                var act2 = _fixed.Activation($"{name}_act2", outWidth);
                _blocks.Add(new Block(conv1, norm1, act1, conv2, norm2, skip, skipNorm, act2));

                // Channel groups: the block's hidden channels, and the residual stream of its stage.
                Join($"{name}_hidden", outWidth, (conv1.Weight, 0), (norm1.Gamma, 0), (norm1.Beta, 0), (conv2.Weight, 1));
                string input = skip is null ? stream : $"stream{s}";
                Join(input, width, (conv1.Weight, 1));
                if (skip is not null) Join(input, width, (skip.Weight, 1));
                Join(stream, outWidth, (conv2.Weight, 0), (norm2.Gamma, 0), (norm2.Beta, 0));
                if (skip is not null) Join(stream, outWidth, (skip.Weight, 0), (skipNorm!.Gamma, 0), (skipNorm.Beta, 0));
                width = outWidth;
            }
        }

        _head = new Linear(Layout, "head", width, spec.Outputs, _fixed.LinearMask("head", spec.Outputs, width, spec.Head));
        Join("stream3", width, (Layout["head.weight"], 1));
    }

    private Conv2d MakeConv(string name, int inputs, int outputs, int stride, int padding, ConvWAsym setting, int kernel = 3) =>
        new(Layout, name, inputs, outputs, kernel, stride, padding,
            _fixed.ConvMask(name, outputs, inputs, kernel, setting.NFix, setting.Kappa, setting.Filters));

    private void Join(string group, int size, params (ParameterSegment Segment, int Dim)[] members)
    {
        int i = _groups.FindIndex(g => g.Name == group);
        if (i < 0) { _groups.Add((group, size, new())); i = _groups.Count - 1; }
        _groups[i].Members.AddRange(members.Select(m => new PermutationMember(m.Segment, m.Dim)));
    }

    /// <summary>The channel groups whose permutation is a symmetry of the standard network, in the order they are
    /// first met: stream1…3 (a stage's residual stream, permuted through every block and shortcut that reads or
    /// writes it, and the head's columns for stream3) and sXbY_hidden (one block's inner channels).</summary>
    public IReadOnlyList<PermutationGroup> PermutationGroups => _permutationGroups ??= _groups.Select(g => new PermutationGroup(g.Name, g.Size, g.Members)).ToList();
    private List<PermutationGroup>? _permutationGroups;

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
        h = Activate(_stemAct, theta, _stemNorm.Forward(theta, _stem.Forward(theta, h)));
        foreach (var block in _blocks)
        {
            var inner = Activate(block.Act1, theta, block.Norm1.Forward(theta, block.Conv1.Forward(theta, h)));
            inner = block.Norm2.Forward(theta, block.Conv2.Forward(theta, inner));
            var shortcut = block.Skip is null ? h : block.SkipNorm!.Forward(theta, block.Skip.Forward(theta, h));
            h = Activate(block.Act2, theta, inner.add(shortcut, HeldScalars.One));
        }
        var pooled = h.mean([2, 3]).view(batch, chains, -1).transpose(0, 1);
        return _head.Forward(theta, pooled).MoveToOuterDisposeScope();
    }

    private static Tensor Activate(ChannelFiGlu? figlu, Theta theta, Tensor x) =>
        figlu is null ? nn.functional.relu(x) : figlu.Forward(theta, x);

    public Tensor InitialPosition(Generator generator)
    {
        var theta = empty(Layout.Count, ScalarType.Float32);
        using (no_grad())
        {
            _stem.Initialise(theta, generator);
            _stemNorm.Initialise(theta);
            foreach (var b in _blocks)
            {
                b.Conv1.Initialise(theta, generator); b.Norm1.Initialise(theta);
                b.Conv2.Initialise(theta, generator); b.Norm2.Initialise(theta);
                b.Skip?.Initialise(theta, generator); b.SkipNorm?.Initialise(theta);
            }
            _head.Initialise(theta, generator);
        }
        return theta;
    }

    private IEnumerable<IDisposable> Buffers()
    {
        yield return _stem;
        if (_stemAct is not null) yield return _stemAct;
        foreach (var b in _blocks)
        {
            yield return b.Conv1; yield return b.Conv2;
            if (b.Skip is not null) yield return b.Skip;
            if (b.Act1 is not null) yield return b.Act1;
            if (b.Act2 is not null) yield return b.Act2;
        }
        yield return _head;
    }

    public void To(Device device, ScalarType dtype)
    {
        foreach (var buffer in Buffers())
            switch (buffer)
            {
                case Conv2d c: c.To(device, dtype); break;
                case ChannelFiGlu f: f.To(device, dtype); break;
                case Linear l: l.To(device, dtype); break;
            }
    }

    public void Dispose()
    {
        foreach (var buffer in Buffers()) buffer.Dispose();
    }
}
