using Workbench.Architectures;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>What a training-study preset sets: the model, data, optimiser and sizes shared by lmc, merge and mli.</summary>
public sealed record TrainingStudySettings(
    ModelOptions Model,
    string Data,
    TrainingOptions Training,
    int EvalExamples,
    int TrainExamples,
    int Pairs,
    int Networks)
{
    /// <summary>Share of the training split held out for validation (the paper's MNIST LMC code: 0.1).</summary>
    public double ValFraction { get; init; }
}

/// <summary>
/// A named starting point for lmc, merge and mli: a CPU-sized default that runs on the embedded MNIST subset in
/// minutes, and the documented full size (<c>--full-size</c>) for a GPU and the real data set. Flags given on the
/// command line override either.
/// </summary>
public sealed record TrainingStudyPreset(string Name, string Description, TrainingStudySettings Cpu, TrainingStudySettings FullSize)
{
    public TrainingStudySettings Settings(bool fullSize) => fullSize ? FullSize : Cpu;

    /// <summary><paramref name="d"/> (a study's defaults) with this preset's settings: model, data, optimiser, evaluation and
    /// training subsets, and the number of pairs (lmc) or networks per variant (merge, mli).</summary>
    public T Apply<T>(T d, bool fullSize) where T : TrainingStudyOptions
    {
        var s = Settings(fullSize);
        TrainingStudyOptions result = d with
        {
            Model = s.Model, Data = s.Data, Training = s.Training, EvalExamples = s.EvalExamples, TrainExamples = s.TrainExamples,
            ValFraction = s.ValFraction, Preset = Name, FullSize = fullSize,
        };
        result = result switch
        {
            LmcOptions lmc => lmc with { Pairs = s.Pairs },
            VariantStudyOptions v => v with { Networks = s.Networks },
            _ => result,
        };
        return (T)result;
    }
}

public static class TrainingStudyPresets
{
    /// <summary>The folder the CIFAR-10 binary tarball (cifar-10-binary.tar.gz) extracts to; full-size convnet presets read it
    /// from the working folder unless --data names another.</summary>
    public const string Cifar10Folder = "cifar-10-batches-bin";

    public static IReadOnlyList<TrainingStudyPreset> All { get; } =
    [
        // PAPER 2.1: the MNIST MLP, AdamW lr 1e-3, weight decay 0.03, batch 64, 25 epochs, 90/10 train/validation split.
        new("lmc-mlp", "the paper's MNIST MLP (784-512-512-512-10), AdamW lr 1e-3, weight decay 0.03, batch 64, 10 % of the training split held out",
            new(new ModelOptions("mlp-mnist-lmc"), "mnist-subset", new TrainingOptions(Epochs: 2), EvalExamples: 2000, TrainExamples: 0, Pairs: 5, Networks: 5) { ValFraction = 0.1 },
            new(new ModelOptions("mlp-mnist-lmc"), "mnist", new TrainingOptions(Epochs: 25), EvalExamples: 0, TrainExamples: 0, Pairs: 5, Networks: 5) { ValFraction = 0.1 }),
        // PAPER 1.3/2.1: ResNet20 with the LMC W-Asym settings (κ 3). The paper states no optimiser for it; ours: AdamW lr 1e-3,
        // weight decay 5e-4, batch 128, cosine schedule, flip + crop augmentation at full size.
        new("lmc-resnet20", "the paper's LMC ResNet20 (GroupNorm, W-Asym κ 3), AdamW lr 1e-3, weight decay 5e-4, batch 128, cosine schedule",
            new(new ModelOptions("resnet20"), "mnist-subset", new TrainingOptions(Epochs: 1, BatchSize: 128, WeightDecay: 5e-4, Schedule: LearningRateSchedule.Cosine),
                EvalExamples: 500, TrainExamples: 2000, Pairs: 2, Networks: 3),
            new(new ModelOptions("resnet20"), Cifar10Folder, new TrainingOptions(Epochs: 100, BatchSize: 128, WeightDecay: 5e-4, Schedule: LearningRateSchedule.Cosine, Augment: true),
                EvalExamples: 0, TrainExamples: 0, Pairs: 5, Networks: 5)),
        // PAPER 2.3/2.4: the ResNet8 of the metanet/MLI zoo (κ 2). The zoo drew its optimiser settings at random; one fixed setting here.
        new("mli-resnet8", "the paper's zoo ResNet8 (GroupNorm, W-Asym κ 2, whole filters fixed), AdamW lr 1e-3, weight decay 5e-4, batch 128",
            new(new ModelOptions("resnet8"), "mnist-subset", new TrainingOptions(Epochs: 1, BatchSize: 128, WeightDecay: 5e-4),
                EvalExamples: 1000, TrainExamples: 4000, Pairs: 2, Networks: 3),
            new(new ModelOptions("resnet8"), Cifar10Folder, new TrainingOptions(Epochs: 40, BatchSize: 128, WeightDecay: 5e-4, Augment: true),
                EvalExamples: 0, TrainExamples: 0, Pairs: 5, Networks: 20)),
    ];

    public static IReadOnlyList<string> Names => All.Select(p => p.Name).ToList();

    public static TrainingStudyPreset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"unknown preset '{name}' (presets: {string.Join(", ", Names)})");
}
