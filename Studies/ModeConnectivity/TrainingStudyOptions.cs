using Workbench.Architectures;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>
/// Settings shared by the studies that train networks with <see cref="NetworkTrainer"/> (lmc, merge, mli). The defaults
/// are the CPU-sized preset <c>lmc-mlp</c>: the paper's MNIST MLP and optimiser on the embedded 8,000-example MNIST
/// subset, 2 epochs; the paper's full size is 25 epochs on full MNIST (<c>--epochs 25 --data DIR --eval-examples 0</c>).
/// </summary>
public abstract record TrainingStudyOptions
{
    /// <param name="command">the study's command name; the default output folder is results/<paramref name="command"/>.</param>
    protected TrainingStudyOptions(string command)
    {
        Command = command;
        Out = Path.Combine("results", command);
    }

    public string Command { get; }
    /// <summary>The preset the settings started from (<see cref="TrainingStudyPresets"/>), and whether at its full size.</summary>
    public string Preset { get; init; } = "lmc-mlp";
    public bool FullSize { get; init; }
    public ModelOptions Model { get; init; } = new("mlp-mnist-lmc");
    public string Data { get; init; } = "mnist-subset";
    public TrainingOptions Training { get; init; } = new(Epochs: 2);
    /// <summary>Run seed: network k's init and data-order seeds are <see cref="Samplers.ChainSeeds"/> k of it.</summary>
    public ulong Seed { get; init; }
    /// <summary>Networks are evaluated on the first this-many examples of each split; 0 = the whole split.</summary>
    public int EvalExamples { get; init; } = 2000;
    /// <summary>Train on the first this-many training examples; 0 = all (for quick checks).</summary>
    public int TrainExamples { get; init; }
    /// <summary>--val-fraction: share of the training split held out as a validation split before training (the paper's
    /// MNIST LMC code: 10 %), seeded by <see cref="SplitSeed"/>; each network's final validation loss and error go to the
    /// manifest. 0 here; the lmc-mlp preset sets 0.1.</summary>
    public double ValFraction { get; init; }
    /// <summary>--split-seed: seed of the validation split.</summary>
    public int SplitSeed { get; init; }
    public int Threads { get; init; }
    /// <summary>One set of W-Asym masks and FiGLU matrices (from <see cref="ModelOptions.MaskSeed"/>) for every network, instead
    /// of each group its own (lmc: a pair; merge: the merged set; mli: a network; <see cref="Architectures.Masks.MaskSeeds"/>).</summary>
    public bool SharedMasks { get; init; }
    /// <summary>What one group of networks with its own masks is in this study, for the manifest and report.</summary>
    public virtual string MaskGroup => "network";
    public string Out { get; init; }
    public bool Force { get; init; }
    public IReadOnlyList<string>? CommandLine { get; init; }

    public virtual void Validate()
    {
        if (EvalExamples < 0) throw new ArgumentException($"--eval-examples must be ≥ 0 (0 = all), got {EvalExamples}");
        if (TrainExamples < 0) throw new ArgumentException($"--train-examples must be ≥ 0 (0 = all), got {TrainExamples}");
        if (!(ValFraction >= 0 && ValFraction < 1)) throw new ArgumentException($"--val-fraction must be in [0, 1), got {ValFraction}");
        if (SplitSeed < 0) throw new ArgumentException($"--split-seed must be ≥ 0, got {SplitSeed}");
        if (Threads < 0) throw new ArgumentException($"--threads must be ≥ 0, got {Threads}");
        if (Model.Model == "linreg") throw new ArgumentException($"{Command} needs a classification network (an MLP, cnn or ResNet): linreg has no units to permute");
        Training.Validate();
    }
}

/// <summary>Settings of the studies that train a set of networks per variant (merge, mli).</summary>
public abstract record VariantStudyOptions : TrainingStudyOptions
{
    /// <param name="minimumNetworks">the fewest networks per variant the study can use.</param>
    protected VariantStudyOptions(string command, int minimumNetworks) : base(command) => MinimumNetworks = minimumNetworks;

    public int MinimumNetworks { get; }
    public IReadOnlyList<Variant> Variants { get; init; } = [Variant.Standard, Variant.SigmaAsym, Variant.WAsym];
    /// <summary>Networks per variant: networks 0 … n − 1 of the run seed's <see cref="Samplers.ChainSeeds"/>.</summary>
    public int Networks { get; init; } = 5;

    public override void Validate()
    {
        if (Networks < MinimumNetworks) throw new ArgumentException($"--networks must be at least {MinimumNetworks} for {Command}, got {Networks}");
        if (Variants.Count == 0) throw new ArgumentException($"{Command} needs at least one variant");
        base.Validate();
    }
}
