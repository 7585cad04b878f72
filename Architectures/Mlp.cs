using TorchSharp;
using Workbench.Architectures.Layers;
using Workbench.Architectures.Masks;
using static TorchSharp.torch;

namespace Workbench.Architectures;

/// <summary>(n_fix, κ) of one W-Asym weight matrix: n_fix fixed entries per row, fixed values κ·N(0,1).</summary>
public sealed record WAsymSetting(int NFix, double Kappa);

/// <summary>
/// An MLP: hidden blocks Linear → [LayerNorm] → activation, then a Linear head. <paramref name="WAsym"/> holds one
/// setting per Linear layer (hidden layers then head), or a single setting used for all of them.
/// </summary>
public sealed record MlpSpec(
    string Name,
    int Inputs,
    int[] Hidden,
    int Outputs,
    bool LayerNorm,
    Activation Activation,
    Variant Variant,
    IReadOnlyList<WAsymSetting> WAsym,
    FiGluScale FiGluStd,
    ulong MaskSeed)
{
    public WAsymSetting WAsymFor(int linearIndex) => WAsym.Count == 1 ? WAsym[0] : WAsym[linearIndex];

    public void Validate()
    {
        if (Inputs <= 0) throw new ArgumentException($"model {Name}: inputs must be positive, got {Inputs}");
        if (Outputs <= 0) throw new ArgumentException($"model {Name}: outputs must be positive, got {Outputs}");
        if (Hidden.Any(h => h <= 0)) throw new ArgumentException($"model {Name}: every hidden width must be positive, got [{string.Join(",", Hidden)}]");
        if (Variant == Variant.WAsym && WAsym.Count != 1 && WAsym.Count != Hidden.Length + 1)
            throw new ArgumentException($"model {Name}: W-Asym needs 1 or {Hidden.Length + 1} (n_fix, κ) settings, got {WAsym.Count}");
        if (Variant == Variant.SigmaAsym && !FiGluStd.IsValid) throw new ArgumentException($"model {Name}: FiGLU sd must be positive, got {FiGluStd}");
    }
}

public sealed class Mlp : IPermutationSymmetric
{
    private readonly List<ILayer> _layers = new();
    private readonly List<FixedTensorRecord> _fixed = new();

    public MlpSpec Spec { get; }
    public string Name => Spec.Name;
    public Variant Variant => Spec.Variant;
    public ParameterLayout Layout { get; } = new();
    public long FixedCount { get; }
    public int Outputs => Spec.Outputs;
    public IReadOnlyList<FixedTensorRecord> FixedTensors => _fixed;

    public Mlp(MlpSpec spec)
    {
        spec.Validate();
        Spec = spec;
        int width = spec.Inputs;
        int[] outs = [.. spec.Hidden, spec.Outputs];
        for (int i = 0; i < outs.Length; i++)
        {
            bool head = i == outs.Length - 1;
            string name = head ? "head" : $"fc{i + 1}";
            WAsymMask? mask = null;
            if (spec.Variant == Variant.WAsym)
            {
                var setting = spec.WAsymFor(i);
                mask = WAsymMask.Generate(spec.MaskSeed, i, outs[i], width, setting.NFix, setting.Kappa);
                _fixed.Add(new FixedTensorRecord($"{name}.weight", "w-asym", [outs[i], width], mask.FixedCount, mask.Sha256(),
                    new Dictionary<string, double> { ["n_fix"] = mask.NFix, ["kappa"] = mask.Kappa }));
                FixedCount += mask.FixedCount;
            }
            _layers.Add(new Linear(Layout, name, width, outs[i], mask));
            width = outs[i];
            if (head) break;
            if (spec.LayerNorm) _layers.Add(new LayerNorm(Layout, $"ln{i + 1}", width));
            if (spec.Variant == Variant.SigmaAsym)
            {
                double std = spec.FiGluStd.StdFor(width);
                var figlu = new FiGlu(spec.MaskSeed, i, width, std);
                _layers.Add(figlu);
                _fixed.Add(new FixedTensorRecord($"figlu{i + 1}", "figlu", [width, width], (long)width * width, figlu.Sha256,
                    new Dictionary<string, double> { ["std"] = std }));
                FixedCount += (long)width * width;
            }
            else
            {
                _layers.Add(new Elementwise(spec.Activation));
            }
        }
    }

    public Tensor Forward(Theta theta, Tensor x)
    {
        if (theta.dim() != 2 || theta.shape[1] != Layout.Count)
            throw new ArgumentException($"{Name}: θ must be [chains, {Layout.Count}], got [{string.Join(",", theta.shape)}]");
        using var scope = NewDisposeScope();
        var h = x.reshape(x.shape[0], x.shape[1], -1);
        if (h.shape[2] != Spec.Inputs)
            throw new ArgumentException($"{Name}: expects {Spec.Inputs} input features per example, got {h.shape[2]}");
        foreach (var layer in _layers) h = layer.Forward(theta, h);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Local reparameterisation in every Linear layer, plain reparameterisation of LayerNorm affines
    /// (see <see cref="INetwork.ForwardGaussian"/>).</summary>
    public Tensor ForwardGaussian(Tensor mean, Tensor std, Tensor? factors, Tensor x, IReadOnlyList<Generator> generators)
    {
        if (mean.dim() != 2 || mean.shape[1] != Layout.Count)
            throw new ArgumentException($"{Name}: the mean must be [chains, {Layout.Count}], got [{string.Join(",", mean.shape)}]");
        using var scope = NewDisposeScope();
        var q = new GaussianParameters(mean, std, factors, generators, ((INetwork)this).VariationalBlocks);
        var h = x.reshape(x.shape[0], x.shape[1], -1);
        if (h.shape[2] != Spec.Inputs)
            throw new ArgumentException($"{Name}: expects {Spec.Inputs} input features per example, got {h.shape[2]}");
        foreach (var layer in _layers) h = layer.ForwardGaussian(q, h);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>One group per hidden layer ℓ (named fcℓ): rows of its Linear weight and bias, its LayerNorm affine,
    /// and columns of the next Linear weight.</summary>
    public IReadOnlyList<PermutationGroup> PermutationGroups => _groups ??= Enumerable.Range(0, Spec.Hidden.Length).Select(l =>
    {
        string layer = $"fc{l + 1}", next = l + 1 == Spec.Hidden.Length ? "head" : $"fc{l + 2}";
        var members = new List<PermutationMember> { new(Layout[$"{layer}.weight"], 0), new(Layout[$"{layer}.bias"], 0) };
        if (Spec.LayerNorm) members.AddRange([new(Layout[$"ln{l + 1}.weight"], 0), new(Layout[$"ln{l + 1}.bias"], 0)]);
        members.Add(new(Layout[$"{next}.weight"], 1));
        return new PermutationGroup(layer, Spec.Hidden[l], members);
    }).ToList();
    private List<PermutationGroup>? _groups;

    public IReadOnlyList<long> InputShape => [Spec.Inputs];

    /// <summary>Names of the Linear layers in order: fc1 … fcL, head.</summary>
    public IReadOnlyList<string> LinearLayers => _layers.OfType<Linear>().Select(l => l.Name).ToList();

    /// <summary>The weight each chain's forward pass uses, [K, out, in]: fixed W-Asym entries included.</summary>
    public Tensor EffectiveWeight(Tensor theta, string linearLayer) =>
        (_layers.OfType<Linear>().FirstOrDefault(l => l.Name == linearLayer)
            ?? throw new ArgumentException($"{Name} has no linear layer '{linearLayer}' (it has {string.Join(", ", LinearLayers)})"))
        .EffectiveWeight(theta);

    public Tensor InitialPosition(Generator generator)
    {
        var theta = empty(Layout.Count, ScalarType.Float32);
        using (no_grad())
            foreach (var layer in _layers) layer.Initialise(theta, generator);
        return theta;
    }

    public void To(Device device, ScalarType dtype)
    {
        foreach (var layer in _layers) layer.To(device, dtype);
    }

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
    }
}
