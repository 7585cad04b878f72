using Workbench.Architectures.Layers;

namespace Workbench.Architectures;

/// <summary>What a user can say about a model on the command line; null means "the preset's value".</summary>
public sealed record ModelOptions(
    string Model,
    Variant Variant = Variant.Standard,
    int? Inputs = null,
    int? Outputs = null,
    int[]? Widths = null,
    int? Depth = null,
    Activation? Activation = null,
    bool? LayerNorm = null,
    int? NFix = null,
    double? Kappa = null,
    FiGluScale? FiGluStd = null,
    ulong MaskSeed = 0,
    int[]? InputShape = null,
    int? WidthMultiplier = null)
{
    /// <summary>These options completed by a data set's sample shape ([features] or [channels, height, width]) and classes.</summary>
    public ModelOptions ForData(IReadOnlyList<long> sampleShape, int outputs) => this with
    {
        Inputs = (int)sampleShape.Aggregate(1L, (a, b) => a * b),
        InputShape = sampleShape.Select(d => (int)d).ToArray(),
        Outputs = outputs,
    };
}

public sealed record ModelPreset(string Name, string Description);

/// <summary>The models Workbench knows by name, with the paper's settings (PAPER 1.3).</summary>
public static class ModelCatalog
{
    public static IReadOnlyList<ModelPreset> Presets { get; } =
    [
        new("mlp", "MLP with --widths (default 128,128), LayerNorm and ReLU; W-Asym n_fix 8, κ 0.5 per layer unless set"),
        new("mlp-mnist-lmc", "paper's MNIST LMC MLP: 784-512-512-512-10, LayerNorm+GELU, W-Asym (64,1.0),(64,1.0),(64,0.5),(256,0.25)"),
        new("mlp-bnn", "paper's Bayesian MLP: width 256, --depth 8 (or 16) blocks Linear-LayerNorm-ReLU, W-Asym n_fix 8, κ 0.5"),
        new("cnn", "plain CNN on the data's images (default [3,32,32]): per --widths entry (default 32,64) conv3×3 s1, conv3×3 s2, each GroupNorm+ReLU; pooling, Linear head; W-Asym ⌈C_in·9/4⌉ entries per conv, head 8, κ 1"),
        new("resnet8", "paper's metanet/MLI ResNet8 on [3,32,32]: 1 block per stage, GroupNorm, option-B skips; W-Asym stem fixed, 8 whole filters per 3×3 conv, 8 channels per skip, 8 of 64 head, κ 2"),
        new("resnet20", "paper's LMC ResNet20 (images, default [3,32,32]): 3 blocks per stage, GroupNorm, option-B skips, --width-multiplier w; W-Asym entries 12/36/54/72, skips 6/8, head 8, κ 3"),
        new("resnet20-bnn", "paper's Bayesian ResNet20: as resnet20, W-Asym stem 12, stage convs 8/12/16 entries, skips 6/8, head none, κ 0.5 (the paper's bnn/ code)"),
        new("linreg", "Bayesian linear regression, Gaussian likelihood with known --noise-std, no intercept"),
    ];

    public static IReadOnlyList<string> Names => Presets.Select(p => p.Name).ToList();

    /// <summary>The models built from convolutions (their FiGLU mixes channels).</summary>
    public static bool IsConvnet(string model) => model is "cnn" or "resnet8" or "resnet20" or "resnet20-bnn";

    /// <summary>
    /// The sd of FiGLU's F when --figlu-std is not given, as the paper's reference code draws it: 1 for the MLPs (its MNIST
    /// MLP), 1/√C for the convnets (its ResNets). A study may set another (the BNN presets use 1/√d for their MLP).
    /// </summary>
    public static FiGluScale DefaultFiGluStd(string model) => IsConvnet(model) ? FiGluScale.InverseSqrtWidth : FiGluScale.One;

    /// <summary>The FiGLU sd a model's options give: their own, or the model's default.</summary>
    public static FiGluScale FiGluStdOf(ModelOptions o) => o.FiGluStd ?? DefaultFiGluStd(o.Model);

    /// <summary>The MLP spec a model name and options stand for (throws for non-MLP models).</summary>
    public static MlpSpec MlpSpecFor(ModelOptions o)
    {
        if (o.WidthMultiplier is not null) throw new ArgumentException($"--width-multiplier applies to ResNets, not to {o.Model}");
        int inputs = o.Inputs ?? 784, outputs = o.Outputs ?? 10;
        switch (o.Model)
        {
            case "mlp":
                return new MlpSpec("mlp", inputs, o.Widths ?? Repeat(128, o.Depth ?? 2), outputs, o.LayerNorm ?? true,
                    o.Activation ?? Activation.Relu, o.Variant, [new WAsymSetting(o.NFix ?? 8, o.Kappa ?? 0.5)], FiGluStdOf(o), o.MaskSeed);
            case "mlp-mnist-lmc":
                RejectShapeOptions(o, allowDepth: false);
                IReadOnlyList<WAsymSetting> lmc = o.NFix is null && o.Kappa is null
                    ? [new(64, 1.0), new(64, 1.0), new(64, 0.5), new(256, 0.25)]
                    : [new(o.NFix ?? 64, o.Kappa ?? 1.0)];
                return new MlpSpec("mlp-mnist-lmc", inputs, [512, 512, 512], outputs, o.LayerNorm ?? true,
                    o.Activation ?? Activation.Gelu, o.Variant, lmc, FiGluStdOf(o), o.MaskSeed);
            case "mlp-bnn":
                RejectShapeOptions(o, allowDepth: true);
                return new MlpSpec("mlp-bnn", inputs, Repeat(256, o.Depth ?? 8), outputs, o.LayerNorm ?? true,
                    o.Activation ?? Activation.Relu, o.Variant, [new WAsymSetting(o.NFix ?? 8, o.Kappa ?? 0.5)], FiGluStdOf(o), o.MaskSeed);
            default:
                throw new ArgumentException($"'{o.Model}' is not an MLP model (MLPs: mlp, mlp-mnist-lmc, mlp-bnn)");
        }
    }

    public static INetwork Create(ModelOptions o)
    {
        if (!Names.Contains(o.Model)) throw new ArgumentException($"unknown model '{o.Model}' (available: {string.Join(", ", Names)})");
        if (o.Model == "linreg")
        {
            if (o.Variant != Variant.Standard) throw new ArgumentException("linreg has no symmetries to remove: use --variant standard");
            return new LinearRegression(o.Inputs ?? throw new ArgumentException("linreg needs the number of features"));
        }
        if (o.Model == "cnn") return new Cnn(CnnSpecFor(o));
        if (o.Model is "resnet8" or "resnet20" or "resnet20-bnn") return new ResNet(ResNetSpecFor(o));
        return new Mlp(MlpSpecFor(o));
    }

    /// <summary>The CNN spec of --model cnn: --widths (default 32,64) are the stages' channels; --n-fix sets every conv's
    /// and the head's fixed entries per row (default ⌈C_in·9/4⌉ per conv, 8 for the head), --kappa every κ (default 1);
    /// --figlu-std is F's sd (default 1/sqrt(d), d = the channels: the paper's ResNet convention).</summary>
    public static CnnSpec CnnSpecFor(ModelOptions o)
    {
        if (o.Model != "cnn") throw new ArgumentException($"'{o.Model}' is not the cnn model");
        if (o.Depth is not null) throw new ArgumentException("cnn: --depth does not apply (give one channel width per stage with --widths)");
        if (o.LayerNorm is not null) throw new ArgumentException("cnn: --layer-norm does not apply (the cnn always uses GroupNorm(1, C))");
        if (o.Activation is not null) throw new ArgumentException("cnn: --activation does not apply (ReLU, or FiGLU for sigma-asym)");
        if (o.WidthMultiplier is not null) throw new ArgumentException("cnn: --width-multiplier does not apply (set the channels per stage with --widths)");
        var (channels, height, width) = ImageShape(o);
        double kappa = o.Kappa ?? 1.0;
        return new CnnSpec("cnn", channels, height, width, o.Widths ?? [32, 64], o.Outputs ?? 10, o.Variant, o.NFix, kappa,
            new WAsymSetting(o.NFix ?? 8, kappa), FiGluStdOf(o), o.MaskSeed);
    }

    /// <summary>The ResNet spec a model name and options stand for (PAPER 1.3). --kappa overrides every layer's κ;
    /// --figlu-std is F's sd (default 1/sqrt(d), d = the channels: the paper's 1/√C).</summary>
    public static ResNetSpec ResNetSpecFor(ModelOptions o)
    {
        if (o.Widths is not null || o.Depth is not null || o.LayerNorm is not null || o.Activation is not null)
            throw new ArgumentException($"{o.Model} has a fixed shape: --widths, --depth, --layer-norm and --activation do not apply");
        if (o.NFix is not null) throw new ArgumentException($"{o.Model} has per-layer n_fix settings (PAPER 1.3): --n-fix does not apply");
        var (channels, height, width) = ImageShape(o);
        int outputs = o.Outputs ?? 10;
        int multiplier = o.WidthMultiplier ?? 1;
        if (multiplier < 1) throw new ArgumentException($"--width-multiplier must be a whole number ≥ 1, got {multiplier}");
        if (o.Model == "resnet8" && multiplier != 1) throw new ArgumentException("resnet8 is the paper's zoo network at width 1: --width-multiplier applies to resnet20 and resnet20-bnn");
        switch (o.Model)
        {
            case "resnet8":
            {
                double k = o.Kappa ?? 2.0;
                var conv = new ConvWAsym(8, k, Filters: true);
                return new ResNetSpec("resnet8", 1, multiplier, channels, outputs, o.Variant, new ConvWAsym(channels, k, Filters: true),
                    [conv, conv, conv], [null, conv, conv], new WAsymSetting(8, k), FiGluStdOf(o), o.MaskSeed, height, width);
            }
            case "resnet20":
            {
                double k = o.Kappa ?? 3.0;
                return new ResNetSpec("resnet20", 3, multiplier, channels, outputs, o.Variant, new ConvWAsym(12, k, false),
                    [new(36, k, false), new(54, k, false), new(72, k, false)], [null, new(6, k, false), new(8, k, false)],
                    new WAsymSetting(8, k), FiGluStdOf(o), o.MaskSeed, height, width);
            }
            case "resnet20-bnn":
            {
                double k = o.Kappa ?? 0.5;
                // The paper's reference bnn/ code: stem 12 entries, stage convs 8/12/16, skips 6/8, no fixed entries in the
                // Linear head, κ 0.5.
                return new ResNetSpec("resnet20-bnn", 3, multiplier, channels, outputs, o.Variant, new ConvWAsym(12, k, false),
                    [new(8, k, false), new(12, k, false), new(16, k, false)], [null, new(6, k, false), new(8, k, false)],
                    new WAsymSetting(0, k), FiGluStdOf(o), o.MaskSeed, height, width);
            }
            default:
                throw new ArgumentException($"'{o.Model}' is not a ResNet model (ResNets: resnet8, resnet20, resnet20-bnn)");
        }
    }

    /// <summary>
    /// The [channels, height, width] a convolutional model reads: the data's sample shape when known, else CIFAR's
    /// [3, 32, 32] (a flat input count must then be 3·32·32). Feature vectors (CSV data) are refused.
    /// </summary>
    public static (int Channels, int Height, int Width) ImageShape(ModelOptions o)
    {
        if (o.InputShape is { } shape)
        {
            if (shape.Length != 3 || shape.Any(d => d <= 0))
                throw new ArgumentException($"{o.Model} is convolutional and needs image inputs [channels, height, width]; the data's samples are [{string.Join(",", shape)}]");
            return (shape[0], shape[1], shape[2]);
        }
        if (o.Inputs is int inputs && inputs != 3 * 32 * 32)
            throw new ArgumentException($"{o.Model} is convolutional: without an image shape it reads CIFAR-shaped [3,32,32] inputs, not {inputs} features (give --input-shape C,H,W)");
        return (3, 32, 32);
    }

    private static int[] Repeat(int width, int depth)
    {
        if (depth <= 0) throw new ArgumentException($"depth must be positive, got {depth}");
        return Enumerable.Repeat(width, depth).ToArray();
    }

    private static void RejectShapeOptions(ModelOptions o, bool allowDepth)
    {
        if (o.Widths is not null) throw new ArgumentException($"--widths does not apply to the preset '{o.Model}' (use --model mlp for custom widths)");
        if (!allowDepth && o.Depth is not null) throw new ArgumentException($"--depth does not apply to the preset '{o.Model}'");
    }
}
