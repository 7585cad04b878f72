using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Studies.Data;

/// <summary>
/// A loaded data set: train, validation and test tensors on the CPU, what they mean, where they came from, and for
/// each example its row: its 0-based index in the file it was read from (CSV: data rows in file order, header and
/// blank lines not counted; IDX: the image in train-*-ubyte or t10k-*-ubyte; CIFAR-10: the record in the training
/// batches read in order, or in test_batch.bin; --test-data: the row of that file). Train and validation rows come
/// from the training file(s), test rows from the test file. The validation split (empty unless
/// <see cref="WithValidation"/> made one) is held out of training. The test split may be empty (CSV with
/// --test-fraction 0). Owns its tensors; dispose it when done.
/// </summary>
public sealed class Dataset : IDisposable
{
    internal Dataset(
        string name,
        string kind,
        TaskKind task,
        long[] sampleShape,
        int numClasses,
        IReadOnlyList<string> featureNames,
        Split train,
        Split test,
        IDictionary<string, string> provenance)
    {
        // The facts every manifest needs, whatever the source; sorted so manifests diff cleanly.
        var record = new SortedDictionary<string, string>(provenance, StringComparer.Ordinal)
        {
            ["name"] = name,
            ["kind"] = kind,
            ["task"] = task == TaskKind.Classification ? "classification" : "regression",
            ["train_count"] = train.Count.ToString(CultureInfo.InvariantCulture),
            ["test_count"] = test.Count.ToString(CultureInfo.InvariantCulture),
            ["sample_shape"] = string.Join('x', sampleShape),
            ["num_classes"] = numClasses.ToString(CultureInfo.InvariantCulture),
        };
        Name = name;
        Kind = kind;
        Task = task;
        SampleShape = sampleShape;
        NumClasses = numClasses;
        FeatureNames = featureNames;
        Provenance = record.AsReadOnly();
        TrainX = FeaturesTensor(train);
        TrainY = LabelsTensor(train);
        TestX = FeaturesTensor(test);
        TestY = LabelsTensor(test);
        TrainRows = train.Rows ?? Enumerable.Range(0, (int)train.Count).Select(i => (long)i).ToArray();
        TestRows = test.Rows ?? Enumerable.Range(0, (int)test.Count).Select(i => (long)i).ToArray();
        ValX = TrainX.narrow(0, 0, 0).clone();
        ValY = TrainY.narrow(0, 0, 0).clone();
        ValRows = [];
    }

    private Dataset(Dataset from, Tensor trainX, Tensor trainY, long[] trainRows, Tensor valX, Tensor valY, long[] valRows,
        IReadOnlyDictionary<string, string> provenance)
    {
        Name = from.Name; Kind = from.Kind; Task = from.Task; SampleShape = from.SampleShape; NumClasses = from.NumClasses;
        FeatureNames = from.FeatureNames; Provenance = provenance;
        TrainX = trainX; TrainY = trainY; TrainRows = trainRows;
        ValX = valX; ValY = valY; ValRows = valRows;
        TestX = from.TestX.clone(); TestY = from.TestY.clone(); TestRows = from.TestRows;
    }

    /// <summary>Salt of the validation split's generator ("VALIDATE"), so that it differs from a CSV test split made
    /// with the same --split-seed.</summary>
    private const ulong ValidationSalt = 0x56414C4944415445UL;

    /// <summary>
    /// A copy whose training examples are split once more: round(n·<paramref name="fraction"/>) of them (at least 1, at
    /// most n − 1), chosen by a SplitMix64 Fisher–Yates permutation seeded with <paramref name="seed"/> ^ "VALIDATE",
    /// become the validation split; the rest stay training examples. Both keep the original order. Fraction 0 gives an
    /// equal copy. The paper's reference code holds out 10 % of MNIST's training set this way (its own seed).
    /// </summary>
    public Dataset WithValidation(double fraction, int seed)
    {
        if (!(fraction >= 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "the validation fraction must be in [0, 1)");
        if (ValRows.Length > 0) throw new InvalidOperationException("the data set already has a validation split");
        int n = (int)TrainCount;
        int valCount = fraction == 0 ? 0 : Math.Clamp((int)Math.Round(n * fraction, MidpointRounding.AwayFromZero), 1, Math.Max(1, n - 1));
        if (fraction > 0 && n < 2) throw new DataFormatException(Name, $"has {n} training example(s): too few to hold out a validation split");
        int[] order = new SplitMix64(unchecked((ulong)seed) ^ ValidationSalt).Permutation(n);
        var isVal = new bool[n];
        foreach (int i in order.AsSpan(0, valCount)) isVal[i] = true;
        long[] valIndex = Enumerable.Range(0, n).Where(i => isVal[i]).Select(i => (long)i).ToArray();
        long[] trainIndex = Enumerable.Range(0, n).Where(i => !isVal[i]).Select(i => (long)i).ToArray();
        using var v = torch.tensor(valIndex);
        using var t = torch.tensor(trainIndex);
        var provenance = new SortedDictionary<string, string>(Provenance.ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal)
        {
            ["train_count"] = trainIndex.Length.ToString(CultureInfo.InvariantCulture),
            ["val_count"] = valIndex.Length.ToString(CultureInfo.InvariantCulture),
            ["validation"] = valCount == 0 ? "none"
                : $"{valCount} of the {n} training rows held out (fraction {fraction.ToString(CultureInfo.InvariantCulture)}; SplitMix64 Fisher-Yates, seed {seed} ^ 0x56414C4944415445)",
        };
        return new Dataset(this, TrainX.index_select(0, t), TrainY.index_select(0, t), trainIndex.Select(i => TrainRows[i]).ToArray(),
            TrainX.index_select(0, v), TrainY.index_select(0, v), valIndex.Select(i => TrainRows[i]).ToArray(), provenance.AsReadOnly());
    }

    /// <summary>"mnist-subset" for the embedded set, else the path the user gave.</summary>
    public string Name { get; }

    /// <summary>"embedded-mnist", "idx", "cifar10" or "csv".</summary>
    public string Kind { get; }

    public TaskKind Task { get; }

    /// <summary>float32 [N, ...SampleShape].</summary>
    public Tensor TrainX { get; }

    /// <summary>int64 [N] class indices for classification, float32 [N] for regression.</summary>
    public Tensor TrainY { get; }

    public Tensor TestX { get; }
    public Tensor TestY { get; }

    /// <summary>The held-out validation split (empty unless <see cref="WithValidation"/> made one).</summary>
    public Tensor ValX { get; }
    public Tensor ValY { get; }

    /// <summary>Each training example's row in its source file (see the class summary), in tensor order.</summary>
    public long[] TrainRows { get; }
    public long[] ValRows { get; }
    public long[] TestRows { get; }

    /// <summary>Shape of one sample: [1, 28, 28], [3, 32, 32] or [features].</summary>
    public long[] SampleShape { get; }

    /// <summary>Number of classes; 0 for regression.</summary>
    public int NumClasses { get; }

    /// <summary>CSV feature column names in tensor order; empty for images.</summary>
    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>What a run manifest records: files and their SHA-256, split, normalisation, sizes.</summary>
    public IReadOnlyDictionary<string, string> Provenance { get; }

    public long TrainCount => TrainX.shape[0];
    public long TestCount => TestX.shape[0];
    public long ValCount => ValX.shape[0];

    public void Dispose()
    {
        TrainX.Dispose();
        TrainY.Dispose();
        TestX.Dispose();
        TestY.Dispose();
        ValX.Dispose();
        ValY.Dispose();
    }

    /// <summary>One half of a data set as managed arrays: features row-major, and either class or real targets.</summary>
    /// <param name="Rows">Each example's row in its source file; null: 0 … n − 1.</param>
    internal sealed record Split(float[] Features, long[] Shape, long[]? Classes, float[]? Values, long[]? Rows = null)
    {
        public long Count => Shape[0];
    }

    private static Tensor FeaturesTensor(Split split) => torch.tensor(split.Features, split.Shape);

    private static Tensor LabelsTensor(Split split) =>
        split.Classes is not null ? torch.tensor(split.Classes, [split.Count])
        : torch.tensor(split.Values ?? throw new InvalidOperationException("A split needs class or value targets."), [split.Count]);
}
