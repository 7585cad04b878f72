using System.Text.Json.Nodes;
using Workbench.Studies.Data;

namespace Workbench.Studies.Metanetworks;

/// <summary>One zoo member's drawn training settings.</summary>
public sealed record ZooHyperparameters(double LearningRate, double WeightDecay, double LabelSmoothing, int Epochs);

/// <summary>
/// The seeded law a model zoo draws each network's training settings from (PAPER 2.3): lr = 0.5·10^(−U(0, 2)),
/// weight decay = 10^(−U(1, 5)), label smoothing U(0, 0.2), epochs uniform on {lo … hi} (the paper: 10 … 40). The
/// exponent and smoothing ranges are configurable so a preset can scale the law down.
/// Network i's draws depend only on (zoo seed, i): a SplitMix64 stream seeded from both, independent of torch, of the
/// zoo's size and of which networks were trained before, so a resumed or larger zoo has the same member i.
/// </summary>
public sealed record HyperparameterLaw(
    double LearningRateScale = 0.5,
    double LearningRateExponentMin = 0,
    double LearningRateExponentMax = 2,
    double WeightDecayExponentMin = 1,
    double WeightDecayExponentMax = 5,
    double LabelSmoothingMax = 0.2,
    int EpochsMin = 10,
    int EpochsMax = 40)
{
    /// <summary>The paper's law (PAPER 2.3).</summary>
    public static HyperparameterLaw Paper { get; } = new();

    public void Validate()
    {
        if (!(LearningRateScale > 0) || double.IsInfinity(LearningRateScale)) throw new ArgumentException($"the learning-rate scale must be positive, got {LearningRateScale}");
        if (!(LearningRateExponentMin <= LearningRateExponentMax)) throw new ArgumentException($"the learning-rate exponent range [{LearningRateExponentMin}, {LearningRateExponentMax}] is empty");
        if (!(WeightDecayExponentMin <= WeightDecayExponentMax)) throw new ArgumentException($"the weight-decay exponent range [{WeightDecayExponentMin}, {WeightDecayExponentMax}] is empty");
        // The decay is applied as θ(1 − η·wd): wd ≥ 1 with η near 1 would flip θ's sign.
        if (!(WeightDecayExponentMin > 0)) throw new ArgumentException($"the weight decay 10^(−U({WeightDecayExponentMin}, {WeightDecayExponentMax})) must stay below 1: the exponents must be positive");
        if (!(LabelSmoothingMax >= 0 && LabelSmoothingMax < 1)) throw new ArgumentException($"the label-smoothing maximum must lie in [0, 1), got {LabelSmoothingMax}");
        if (EpochsMin < 1) throw new ArgumentException($"--epochs-min must be at least 1, got {EpochsMin}");
        if (EpochsMax < EpochsMin) throw new ArgumentException($"--epochs-max ({EpochsMax}) must be at least --epochs-min ({EpochsMin})");
    }

    /// <summary>Network <paramref name="id"/>'s settings in the zoo of <paramref name="zooSeed"/>.</summary>
    public ZooHyperparameters Draw(ulong zooSeed, int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        // Seed = zoo seed + φ·(id + 1) + "ZOOHYPER", then SplitMix64's own stream: one state per network.
        var random = new SplitMix64(zooSeed + 0x9E3779B97F4A7C15UL * (ulong)(id + 1) + 0x5A4F4F4859504552UL);
        double u1 = Unit(random), u2 = Unit(random), u3 = Unit(random);
        int epochs = EpochsMin + random.Below(EpochsMax - EpochsMin + 1);
        double lr = LearningRateScale * Math.Pow(10, -(LearningRateExponentMin + u1 * (LearningRateExponentMax - LearningRateExponentMin)));
        double wd = Math.Pow(10, -(WeightDecayExponentMin + u2 * (WeightDecayExponentMax - WeightDecayExponentMin)));
        return new ZooHyperparameters(lr, wd, u3 * LabelSmoothingMax, epochs);
    }

    /// <summary>The law as the manifest records it.</summary>
    public JsonObject ToJson() => new()
    {
        ["lr"] = FormattableString.Invariant($"{LearningRateScale:R}·10^(−U({LearningRateExponentMin:R}, {LearningRateExponentMax:R}))"),
        ["weight_decay"] = FormattableString.Invariant($"10^(−U({WeightDecayExponentMin:R}, {WeightDecayExponentMax:R}))"),
        ["label_smoothing"] = FormattableString.Invariant($"U(0, {LabelSmoothingMax:R})"),
        ["epochs"] = $"U{{{EpochsMin}..{EpochsMax}}}",
        ["lr_scale"] = LearningRateScale, ["lr_exponent_min"] = LearningRateExponentMin, ["lr_exponent_max"] = LearningRateExponentMax,
        ["weight_decay_exponent_min"] = WeightDecayExponentMin, ["weight_decay_exponent_max"] = WeightDecayExponentMax,
        ["label_smoothing_max"] = LabelSmoothingMax, ["epochs_min"] = EpochsMin, ["epochs_max"] = EpochsMax,
    };

    /// <summary>A uniform double in [0, 1) from the top 53 bits.</summary>
    private static double Unit(SplitMix64 random) => (random.NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
