using Workbench.Architectures;
using Workbench.Studies.ModeConnectivity;

namespace Workbench.Studies.Metanetworks;

/// <summary>
/// Settings of a model zoo (<c>workbench zoo</c>, issue #8): N networks per variant, network i trained with its own
/// settings drawn from <see cref="Law"/> and its own init and data order (<see cref="Samplers.ChainSeeds"/> i of
/// <see cref="TrainingStudyOptions.Seed"/>), all of them sharing the model's one mask seed. From the shared training
/// settings only the batch size, schedule, Adam constants and augmentation apply; learning rate, weight decay, label
/// smoothing and epochs are drawn per network. The defaults are the CPU preset <c>zoo-mlp</c>.
/// </summary>
public sealed record ZooOptions : TrainingStudyOptions
{
    public ZooOptions() : base("zoo")
    {
        var s = ZooPresets.Get("zoo-mlp").Cpu;
        (Preset, Model, Data, Law, Networks, EvalExamples, TrainExamples, Threads) = ("zoo-mlp", s.Model, s.Data, s.Law, s.Networks, s.EvalExamples, s.TrainExamples, s.Threads);
        Training = new TrainingOptions(Epochs: 1, BatchSize: s.BatchSize, Augment: s.Augment);
    }

    public IReadOnlyList<Variant> Variants { get; init; } = [Variant.Standard, Variant.WAsym];
    /// <summary>Networks per variant: ids 0 … N − 1.</summary>
    public int Networks { get; init; }
    public HyperparameterLaw Law { get; init; }
    /// <summary>Continue the unfinished zoo at <see cref="TrainingStudyOptions.Out"/> instead of starting a new one.</summary>
    public bool Resume { get; init; }
    /// <summary>Tests only: stop (as a killed process would) once this many networks of this run are written.</summary>
    internal int? CrashAfterNetworks { get; init; }

    public override void Validate()
    {
        if (Networks < 1) throw new ArgumentException($"--networks must be at least 1, got {Networks}");
        if (Variants.Count == 0) throw new ArgumentException("the zoo needs at least one variant");
        if (Variants.Distinct().Count() != Variants.Count) throw new ArgumentException("--variants lists a variant twice");
        if (Resume && Force) throw new ArgumentException("--resume continues the zoo at --out and --force replaces it: give one");
        Law.Validate();
        base.Validate();
    }
}

/// <summary>What a zoo preset sets.</summary>
/// <param name="Threads">torch threads (0 = all cores): the CPU presets' networks are so small that one thread is fastest
/// (2 threads on a loaded 2-core machine made some networks 50× slower).</param>
public sealed record ZooSettings(ModelOptions Model, string Data, int BatchSize, bool Augment, HyperparameterLaw Law, int Networks, int EvalExamples, int TrainExamples, int Threads);

/// <summary>A named zoo: a CPU size that runs here, and the documented full size (<c>--full-size</c>; GPU-sized).</summary>
public sealed record ZooPreset(string Name, string Description, ZooSettings Cpu, ZooSettings FullSize)
{
    public ZooOptions Apply(ZooOptions d, bool fullSize)
    {
        var s = fullSize ? FullSize : Cpu;
        return d with
        {
            Preset = Name, FullSize = fullSize, Model = s.Model, Data = s.Data, Law = s.Law, Networks = s.Networks,
            EvalExamples = s.EvalExamples, TrainExamples = s.TrainExamples, Threads = s.Threads,
            Training = d.Training with { BatchSize = s.BatchSize, Augment = s.Augment },
        };
    }
}

public static class ZooPresets
{
    // The CPU presets keep the paper's lr, weight-decay and label-smoothing law and scale the epochs down.
    private static HyperparameterLaw Epochs(int lo, int hi) => HyperparameterLaw.Paper with { EpochsMin = lo, EpochsMax = hi };

    public static IReadOnlyList<ZooPreset> All { get; } =
    [
        new("zoo-mlp", "MLP 784-16-10 (LayerNorm, ReLU; W-Asym n_fix 8, κ 0.5) on the embedded MNIST subset, epochs U{1..3}",
            new(new ModelOptions("mlp", Widths: [16]), "mnist-subset", BatchSize: 64, Augment: false, Epochs(1, 3), Networks: 2000, EvalExamples: 2000, TrainExamples: 0, Threads: 1),
            new(new ModelOptions("mlp", Widths: [16]), "mnist", BatchSize: 64, Augment: false, HyperparameterLaw.Paper, Networks: 10_000, EvalExamples: 0, TrainExamples: 0, Threads: 0)),
        new("zoo-cnn", "small CNN (stage channels 4, 8; GroupNorm, ReLU) on the embedded MNIST subset, epochs U{1..3}",
            new(new ModelOptions("cnn", Widths: [4, 8]), "mnist-subset", BatchSize: 64, Augment: false, Epochs(1, 3), Networks: 150, EvalExamples: 1000, TrainExamples: 0, Threads: 1),
            new(new ModelOptions("cnn", Widths: [16, 32]), TrainingStudyPresets.Cifar10Folder, BatchSize: 128, Augment: false, HyperparameterLaw.Paper, Networks: 10_000, EvalExamples: 0, TrainExamples: 0, Threads: 0)),
        // PAPER 2.3: 10,000 ResNet8 per variant on CIFAR-10, the paper's law. Batch 128 and no augmentation are our choice.
        new("zoo-resnet8", "the paper's zoo ResNet8 (GroupNorm, W-Asym κ 2) on CIFAR-10, the paper's law, 10,000 per variant (--full-size; the CPU size is a smoke test on the MNIST subset)",
            new(new ModelOptions("resnet8"), "mnist-subset", BatchSize: 128, Augment: false, Epochs(1, 1), Networks: 4, EvalExamples: 500, TrainExamples: 2000, Threads: 1),
            new(new ModelOptions("resnet8"), TrainingStudyPresets.Cifar10Folder, BatchSize: 128, Augment: false, HyperparameterLaw.Paper, Networks: 10_000, EvalExamples: 0, TrainExamples: 0, Threads: 0)),
    ];

    public static IReadOnlyList<string> Names => All.Select(p => p.Name).ToList();

    public static ZooPreset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"unknown zoo preset '{name}' (presets: {string.Join(", ", Names)})");
}
