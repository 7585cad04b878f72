namespace Workbench.Studies.Metanetworks;

/// <summary>
/// Settings of the metanetwork study (PAPER 2.3): which metanetworks, how many runs (seeds <see cref="Seed"/> …
/// <see cref="Seed"/> + runs − 1 each shuffle the 50/25/25 split and initialise the metanets), and how they are trained
/// (MSE on the standardised test accuracy, AdamW, <see cref="Epochs"/> epochs, the epoch with the best validation R² kept).
/// </summary>
public sealed record MetanetOptions
{
    public int Runs { get; init; } = 5;
    public int Epochs { get; init; } = 100;
    public IReadOnlyList<string> Metanets { get; init; } = MetanetKinds.All;
    public ulong Seed { get; init; }
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>AdamW's decoupled weight decay (PyTorch's default).</summary>
    public double WeightDecay { get; init; } = 1e-2;
    public int BatchSize { get; init; } = 32;
    /// <summary>Width of every hidden layer of every metanet.</summary>
    public int Hidden { get; init; } = 64;
    /// <summary>DeepSets sees at most this many weights per network: a fixed, seeded subset of θ's positions when θ is
    /// longer (see <see cref="MetanetFeatures.DeepSetsPositions"/>).</summary>
    public int DeepSetsElements { get; init; } = 2048;
    public int Threads { get; init; }
    public string Out { get; init; } = Path.Combine("results", "metanet");
    public bool Force { get; init; }
    public IReadOnlyList<string>? CommandLine { get; init; }

    public void Validate()
    {
        if (Runs < 1) throw new ArgumentException($"--runs must be at least 1, got {Runs}");
        if (Epochs < 1) throw new ArgumentException($"--epochs must be at least 1, got {Epochs}");
        if (Metanets.Count == 0) throw new ArgumentException($"--metanets needs at least one of {string.Join(", ", MetanetKinds.All)}");
        if (Metanets.FirstOrDefault(m => !MetanetKinds.All.Contains(m)) is { } unknown)
            throw new ArgumentException($"--metanets: unknown metanet '{unknown}' (use {string.Join(", ", MetanetKinds.All)})");
        if (Metanets.Distinct().Count() != Metanets.Count) throw new ArgumentException("--metanets names a metanet twice");
        if (!(LearningRate > 0)) throw new ArgumentException($"--lr must be positive, got {LearningRate}");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"--weight-decay must be ≥ 0, got {WeightDecay}");
        if (BatchSize < 1) throw new ArgumentException($"--batch-size must be at least 1, got {BatchSize}");
        if (Hidden < 1) throw new ArgumentException($"--hidden must be at least 1, got {Hidden}");
        if (DeepSetsElements < 1) throw new ArgumentException($"--deepsets-elements must be at least 1, got {DeepSetsElements}");
        if (Threads < 0) throw new ArgumentException($"--threads must be ≥ 0, got {Threads}");
    }
}
