using System.Buffers.Binary;

namespace Workbench.Studies.Data;

/// <summary>
/// MNIST-style IDX files (LeCun's format, also used by Fashion-MNIST and KMNIST): a big-endian header
/// <c>0x00 0x00 type ndims</c>, then ndims big-endian int32 sizes, then the bytes. Only unsigned bytes (type 0x08)
/// occur in these sets: images are 3-D [N, rows, cols], labels 1-D [N].
/// </summary>
internal static class IdxImageSet
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    public static readonly string[] FileNames =
    [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ];

    /// <summary>Files of one IDX data set, already read; the names are what messages and provenance show.</summary>
    public sealed record Files(DataFile TrainImages, DataFile TrainLabels, DataFile TestImages, DataFile TestLabels)
    {
        public IEnumerable<DataFile> All => [TrainImages, TrainLabels, TestImages, TestLabels];
    }

    public static Dataset Build(string name, string kind, Files files, bool normalize, IDictionary<string, string> provenance)
    {
        var (trainCount, rows, cols, trainPixels) = ReadImages(files.TrainImages);
        var (testCount, testRows, testCols, testPixels) = ReadImages(files.TestImages);
        if (testRows != rows || testCols != cols)
        {
            throw new DataFormatException(files.TestImages.Name,
                $"images are {testRows}x{testCols} but {files.TrainImages.Name} has {rows}x{cols}");
        }
        var trainLabels = ReadLabels(files.TrainLabels, trainCount, files.TrainImages);
        var testLabels = ReadLabels(files.TestLabels, testCount, files.TestImages);

        int numClasses = trainLabels.Length == 0 ? 0 : trainLabels.Span[IndexOfMax(trainLabels.Span)] + 1;
        if (numClasses < 2)
        {
            throw new DataFormatException(files.TrainLabels.Name, "labels must name at least two classes (found only class 0)");
        }
        // IDX files do not state their classes: they are 0..max, and each must have training examples, so that one
        // corrupt label byte (say 42 among MNIST's 0..9) is named rather than read as 43 classes.
        var counts = new int[numClasses];
        foreach (byte label in trainLabels.Span) counts[label]++;
        int empty = Array.IndexOf(counts, 0);
        if (empty >= 0)
        {
            int first = trainLabels.Span.IndexOfAnyInRange((byte)(empty + 1), byte.MaxValue);
            throw new DataFormatException(files.TrainLabels.Name,
                $"label {trainLabels.Span[first]} of image {first} leaves class {empty} with no training example (classes must be 0..C−1, each present)");
        }
        var outside = testLabels.Span.IndexOfAnyInRange((byte)numClasses, byte.MaxValue);
        if (outside >= 0)
        {
            throw new DataFormatException(files.TestLabels.Name,
                $"label {testLabels.Span[outside]} of image {outside} is out of range 0..{numClasses - 1} (the classes in {files.TrainLabels.Name})");
        }

        var scaling = normalize ? PixelScaling.Mnist : PixelScaling.UnitInterval(1);
        long[] sampleShape = [1, rows, cols];
        provenance["normalisation"] = scaling.Description;
        foreach (var file in files.All) provenance[$"sha256:{Path.GetFileName(file.Name)}"] = file.Sha256;
        return ImageSets.Create(name, kind, sampleShape, numClasses,
            ImageSets.ToSplit(trainPixels.Span, trainLabels.Span, sampleShape, scaling, rows * cols),
            ImageSets.ToSplit(testPixels.Span, testLabels.Span, sampleShape, scaling, rows * cols),
            provenance);
    }

    private static (int Count, int Rows, int Cols, ReadOnlyMemory<byte> Pixels) ReadImages(DataFile file)
    {
        var (dims, data) = ReadIdx(file, ImagesMagic, "images", 3);
        return (dims[0], dims[1], dims[2], data);
    }

    private static ReadOnlyMemory<byte> ReadLabels(DataFile file, int imageCount, DataFile images)
    {
        var (dims, data) = ReadIdx(file, LabelsMagic, "labels", 1);
        if (dims[0] != imageCount)
        {
            throw new DataFormatException(file.Name, $"holds {dims[0]} labels but {images.Name} holds {imageCount} images");
        }
        return data;
    }

    private static (int[] Dims, ReadOnlyMemory<byte> Data) ReadIdx(DataFile file, int magic, string what, int ndims)
    {
        byte[] bytes = file.Content;
        if (bytes.Length == 0) throw new DataFormatException(file.Name, "empty file");
        int headerLength = 4 + 4 * ndims;
        if (bytes.Length < 4)
        {
            throw new DataFormatException(file.Name, $"truncated: {bytes.Length} bytes is shorter than an IDX header");
        }
        int found = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (found != magic)
        {
            throw new DataFormatException(file.Name,
                $"wrong magic number 0x{found:X8}, expected 0x{magic:X8} (IDX {what}: unsigned bytes, {ndims} dimension{(ndims == 1 ? "" : "s")}){Hint(found)}");
        }
        if (bytes.Length < headerLength)
        {
            throw new DataFormatException(file.Name, $"truncated: the IDX header needs {headerLength} bytes, the file has {bytes.Length}");
        }
        var dims = new int[ndims];
        long expected = 1;
        for (int d = 0; d < ndims; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (dims[d] <= 0)
            {
                throw new DataFormatException(file.Name, $"dimension {d} in the IDX header is {dims[d]}; every size must be positive");
            }
            expected *= dims[d];
            if (expected > Array.MaxLength) throw new DataFormatException(file.Name, $"the IDX header describes more than {Array.MaxLength} bytes");
        }
        long actual = bytes.Length - headerLength;
        if (actual < expected)
        {
            throw new DataFormatException(file.Name,
                $"truncated: the header promises {expected} data bytes ({string.Join('x', dims)}), the file has {actual}{(file.WasGzip ? " after gunzip" : "")}");
        }
        if (actual > expected)
        {
            throw new DataFormatException(file.Name,
                $"{actual - expected} bytes follow the {expected} data bytes its header describes ({string.Join('x', dims)})");
        }
        return (dims, new ReadOnlyMemory<byte>(bytes, headerLength, (int)expected));
    }

    private static string Hint(int found) => found switch
    {
        ImagesMagic => "; this looks like an images file",
        LabelsMagic => "; this looks like a labels file",
        _ when (found & unchecked((int)0xFFFF0000)) == 0 => $"; IDX type 0x{(found >> 8) & 0xFF:X2} with {found & 0xFF} dimensions is not supported",
        _ => "; not an IDX file",
    };

    private static int IndexOfMax(ReadOnlySpan<byte> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
