namespace Workbench.Studies.Data;

/// <summary>What IDX and CIFAR-10 loaders share: bytes plus labels become a classification <see cref="Dataset"/>.</summary>
internal static class ImageSets
{
    public static Dataset.Split ToSplit(ReadOnlySpan<byte> pixels, ReadOnlySpan<byte> labels, long[] sampleShape, PixelScaling scaling, int plane)
    {
        var features = new float[pixels.Length];
        scaling.Convert(pixels, features, plane);
        var classes = new long[labels.Length];
        for (int i = 0; i < labels.Length; i++) classes[i] = labels[i];
        return new Dataset.Split(features, [labels.Length, .. sampleShape], classes, null);
    }

    public static Dataset Create(string name, string kind, long[] sampleShape, int numClasses,
        Dataset.Split train, Dataset.Split test, IDictionary<string, string> provenance) =>
        new(name, kind, TaskKind.Classification, sampleShape, numClasses, [], train, test, provenance);
}
