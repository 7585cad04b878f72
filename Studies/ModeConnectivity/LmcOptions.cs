using Workbench.Architectures;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>
/// Settings of a linear-mode-connectivity study (PAPER 2.1). The defaults are the CPU-sized preset <c>lmc-mlp</c>:
/// the paper's MNIST MLP and optimiser on the embedded 8,000-example MNIST subset, 5 pairs, 2 epochs; the paper's
/// full size is 25 epochs on full MNIST (<c>--epochs 25 --data DIR --eval-examples 0</c>).
/// </summary>
public sealed record LmcOptions
{
    public ModelOptions Model { get; init; } = new("mlp-mnist-lmc");
    public string Data { get; init; } = "mnist-subset";
    /// <summary>Pairs of networks per variant; pair i is networks 2i and 2i+1 of the run seed's <see cref="Samplers.ChainSeeds"/>.</summary>
    public int Pairs { get; init; } = 5;
    public TrainingOptions Training { get; init; } = new(Epochs: 2);
    public ulong Seed { get; init; }
    /// <summary>λ grid size: evenly spaced in [0, 1], ends included; odd so that λ = ½ is on it.</summary>
    public int Points { get; init; } = 25;
    /// <summary>Paths are evaluated on the first this-many examples of each split; 0 = the whole split.</summary>
    public int EvalExamples { get; init; } = 2000;
    /// <summary>Train on the first this-many training examples; 0 = all (for quick checks).</summary>
    public int TrainExamples { get; init; }
    public int Threads { get; init; }
    public string Out { get; init; } = Path.Combine("results", "lmc");
    public bool Force { get; init; }
    public IReadOnlyList<string>? CommandLine { get; init; }

    public void Validate()
    {
        if (Pairs < 1) throw new ArgumentException($"--pairs must be at least 1, got {Pairs}");
        if (Points < 3 || Points % 2 == 0) throw new ArgumentException($"--points must be odd and at least 3 so that λ = ½ is on the grid, got {Points}");
        if (EvalExamples < 0) throw new ArgumentException($"--eval-examples must be ≥ 0 (0 = all), got {EvalExamples}");
        if (TrainExamples < 0) throw new ArgumentException($"--train-examples must be ≥ 0 (0 = all), got {TrainExamples}");
        if (Threads < 0) throw new ArgumentException($"--threads must be ≥ 0, got {Threads}");
        if (Model.Model == "linreg") throw new ArgumentException("lmc needs an MLP model (mlp, mlp-mnist-lmc, mlp-bnn): linreg has no hidden units to permute");
        Training.Validate();
    }
}
