namespace Workbench.Studies.Data;

/// <summary>
/// CIFAR-10 "binary version" batches: each record is 1 label byte (0..9) then 3072 pixel bytes, 1024 per
/// channel (R, G, B), each channel 32x32 row-major, i.e. already CHW. Training batches are
/// data_batch_1.bin … data_batch_5.bin (10,000 records each), the test set is test_batch.bin.
/// </summary>
internal static class Cifar10Binary
{
    public const int Classes = 10;
    private const int Side = 32;
    private const int Plane = Side * Side;
    private const int PixelBytes = 3 * Plane;
    private const int RecordBytes = 1 + PixelBytes;
    public const string TestBatch = "test_batch.bin";
    public static readonly string[] TrainBatches = [.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin")];

    public static Dataset Load(string folder, bool normalize)
    {
        var present = TrainBatches.Where(b => File.Exists(Path.Combine(folder, b))).ToList();
        var missing = TrainBatches.Except(present).ToList();
        if (present.Count == 0)
        {
            throw new DataFormatException(folder, $"CIFAR-10 folder has no training batch ({string.Join(", ", TrainBatches)}); at least one is needed");
        }
        if (!File.Exists(Path.Combine(folder, TestBatch)))
        {
            throw new DataFormatException(folder, $"CIFAR-10 folder has no {TestBatch}; it is needed for the test set");
        }

        var scaling = normalize ? PixelScaling.Cifar10 : PixelScaling.UnitInterval(3);
        var provenance = new Dictionary<string, string>
        {
            ["normalisation"] = scaling.Description,
            ["split"] = $"files: train = {string.Join(", ", present)}; test = {TestBatch}",
            ["cifar10.train_batches"] = string.Join(", ", present),
            ["cifar10.missing_train_batches"] = missing.Count == 0 ? "none" : string.Join(", ", missing),
        };
        var train = ReadBatches(present.Select(b => Path.Combine(folder, b)), scaling, provenance);
        var test = ReadBatches([Path.Combine(folder, TestBatch)], scaling, provenance);
        return ImageSets.Create(folder, "cifar10", [3, Side, Side], Classes, train, test, provenance);
    }

    private static Dataset.Split ReadBatches(IEnumerable<string> paths, PixelScaling scaling, IDictionary<string, string> provenance)
    {
        var files = paths.Select(DataFile.Read).ToList();
        int count = 0;
        foreach (var file in files)
        {
            count += CheckedRecordCount(file);
            provenance[$"sha256:{Path.GetFileName(file.Name)}"] = file.Sha256;
        }

        var features = new float[(long)count * PixelBytes];
        var classes = new long[count];
        int n = 0;
        foreach (var file in files)
        {
            var bytes = file.Content.AsSpan();
            for (int offset = 0; offset < bytes.Length; offset += RecordBytes, n++)
            {
                byte label = bytes[offset];
                if (label >= Classes)
                {
                    throw new DataFormatException(file.Name,
                        $"label {label} of record {offset / RecordBytes} is out of range 0..{Classes - 1}");
                }
                classes[n] = label;
                scaling.Convert(bytes.Slice(offset + 1, PixelBytes), features.AsSpan(n * PixelBytes, PixelBytes), Plane);
            }
        }
        return new Dataset.Split(features, [count, 3, Side, Side], classes, null);
    }

    private static int CheckedRecordCount(DataFile file)
    {
        int length = file.Content.Length;
        if (length == 0) throw new DataFormatException(file.Name, "empty file");
        if (length % RecordBytes != 0)
        {
            throw new DataFormatException(file.Name,
                $"truncated or not a CIFAR-10 binary batch: {length} bytes is not a whole number of {RecordBytes}-byte records (1 label + 3x32x32 pixels)");
        }
        return length / RecordBytes;
    }
}
