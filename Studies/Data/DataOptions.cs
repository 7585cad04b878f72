namespace Workbench.Studies.Data;

/// <summary>What the network predicts: a class index (cross-entropy) or a real number (Gaussian likelihood).</summary>
public enum TaskKind { Classification, Regression }

/// <summary>
/// Which data to load and how. <paramref name="Spec"/> is <c>mnist-subset</c> (the embedded default set) or a path:
/// a folder of MNIST-style IDX files, a folder of CIFAR-10 binary batches, or a <c>.csv</c> file.
/// <paramref name="Target"/>, <paramref name="TestFraction"/> (in [0, 1); 0: no test split, every row trains) and
/// <paramref name="TestData"/> (a second CSV file with the same columns as the test split) apply to CSV only (image
/// sets come with their own train/test files). <paramref name="ValFraction"/> holds out that share of the training
/// rows as a validation split, for any data; it and the CSV split are seeded by <paramref name="SplitSeed"/>.
/// <paramref name="Normalize"/> applies to images only; CSV features are always used as given. A folder that happens
/// to be called mnist-subset is reached as ./mnist-subset.
/// </summary>
public sealed record DataOptions(
    string Spec,
    TaskKind Task,
    string? Target = null,
    double TestFraction = 0.2,
    int SplitSeed = 0,
    bool Normalize = true,
    string? TestData = null,
    double ValFraction = 0)
{
    /// <summary>The name that selects the embedded default set.</summary>
    public const string EmbeddedMnistSubset = "mnist-subset";
}
