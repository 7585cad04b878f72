using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Studies.Data;

/// <summary>
/// A loaded data set: train and test tensors on the CPU, what they mean, and where they came from.
/// Owns its four tensors; dispose it when done (or move the tensors elsewhere and dispose it anyway).
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

    public void Dispose()
    {
        TrainX.Dispose();
        TrainY.Dispose();
        TestX.Dispose();
        TestY.Dispose();
    }

    /// <summary>One half of a data set as managed arrays: features row-major, and either class or real targets.</summary>
    internal sealed record Split(float[] Features, long[] Shape, long[]? Classes, float[]? Values)
    {
        public long Count => Shape[0];
    }

    private static Tensor FeaturesTensor(Split split) => torch.tensor(split.Features, split.Shape);

    private static Tensor LabelsTensor(Split split) =>
        split.Classes is not null ? torch.tensor(split.Classes, [split.Count])
        : torch.tensor(split.Values ?? throw new InvalidOperationException("A split needs class or value targets."), [split.Count]);
}
