namespace Workbench.Studies.Data;

/// <summary>
/// The one entry point for data: <c>mnist-subset</c> (embedded) or a path, whose kind is read from what is there.
/// Every problem a user can cause surfaces as a one-line <see cref="DataFormatException"/>.
/// </summary>
public static class DataSource
{
    public static Dataset Load(DataOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ValFraction == 0) return LoadSplits(options);
        if (!(options.ValFraction > 0 && options.ValFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.ValFraction, "ValFraction must lie in [0, 1).");
        using var whole = LoadSplits(options);
        return whole.WithValidation(options.ValFraction, options.SplitSeed);
    }

    private static Dataset LoadSplits(DataOptions options)
    {
        if (!(options.TestFraction >= 0 && options.TestFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.TestFraction, "TestFraction must lie in [0, 1).");
        }
        string spec = options.Spec;
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new DataFormatException("(no data given)", $"name a data set: {DataOptions.EmbeddedMnistSubset}, a folder of IDX or CIFAR-10 files, or a .csv file");
        }
        bool csv = spec.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && File.Exists(spec);
        if (!csv && options.TestData is not null)
            throw new DataFormatException(spec, "--test-data applies to CSV data (image sets have their own test files); give --data FILE.csv");
        if (options.TestData is not null && !File.Exists(options.TestData))
            throw new DataFormatException(options.TestData, "no such file (--test-data names a CSV file with the same columns as --data)");
        if (spec == DataOptions.EmbeddedMnistSubset)
        {
            RequireClassification(spec, options);
            return EmbeddedMnist.Load(options.Normalize);
        }
        if (File.Exists(spec))
        {
            if (spec.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) return CsvTable.Load(spec, options);
            throw new DataFormatException(spec, "is a file but not a .csv file; give a .csv file or a folder of IDX or CIFAR-10 files");
        }
        if (!Directory.Exists(spec))
        {
            throw new DataFormatException(spec,
                $"no such file or folder (give {DataOptions.EmbeddedMnistSubset}, a folder of IDX or CIFAR-10 files, or a .csv file)");
        }
        return LoadFolder(spec, options);
    }

    private static Dataset LoadFolder(string folder, DataOptions options)
    {
        var names = Directory.EnumerateFiles(folder).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        var idx = names.Where(n => IdxImageSet.FileNames.Any(f => n == f || n == f + ".gz")).ToList();
        var cifar = names.Where(n => n == Cifar10Binary.TestBatch || Cifar10Binary.TrainBatches.Contains(n)).ToList();

        if (idx.Count > 0 && cifar.Count > 0)
        {
            throw new DataFormatException(folder,
                $"holds both MNIST-style IDX files ({string.Join(", ", idx)}) and CIFAR-10 batches ({string.Join(", ", cifar)}); keep one kind per folder");
        }
        if (idx.Count == 0 && cifar.Count == 0)
        {
            var entries = names.Concat(Directory.EnumerateDirectories(folder).Select(d => Path.GetFileName(d) + "/"))
                .Order(StringComparer.Ordinal).ToList();
            string found = entries.Count == 0 ? "it is empty"
                : $"it holds {string.Join(", ", entries.Take(10))}{(entries.Count > 10 ? $" and {entries.Count - 10} more" : "")}";
            throw new DataFormatException(folder,
                $"no MNIST-style IDX files (train-images-idx3-ubyte[.gz], …) or CIFAR-10 batches (data_batch_1.bin, …, test_batch.bin) found; {found}");
        }
        RequireClassification(folder, options);
        return idx.Count > 0 ? LoadIdxFolder(folder, names, options.Normalize) : Cifar10Binary.Load(folder, options.Normalize);
    }

    private static Dataset LoadIdxFolder(string folder, List<string> names, bool normalize)
    {
        var missing = IdxImageSet.FileNames.Where(f => !names.Contains(f) && !names.Contains(f + ".gz")).ToList();
        if (missing.Count > 0)
        {
            throw new DataFormatException(folder, $"MNIST-style IDX folder lacks {string.Join(", ", missing.Select(m => m + "[.gz]"))}");
        }
        // Where both "x" and "x.gz" exist (gunzip -k), the uncompressed one is read.
        DataFile Read(string baseName) =>
            DataFile.Read(Path.Combine(folder, names.Contains(baseName) ? baseName : baseName + ".gz"));
        var files = new IdxImageSet.Files(
            Read(IdxImageSet.FileNames[0]), Read(IdxImageSet.FileNames[1]), Read(IdxImageSet.FileNames[2]), Read(IdxImageSet.FileNames[3]));
        var provenance = new Dictionary<string, string>
        {
            ["split"] = "files: train = train-*-ubyte, test = t10k-*-ubyte",
        };
        return IdxImageSet.Build(folder, "idx", files, normalize, provenance);
    }

    private static void RequireClassification(string spec, DataOptions options)
    {
        if (options.Task != TaskKind.Classification)
        {
            throw new DataFormatException(spec, "image data sets have class labels; use --task classification (regression needs a .csv file)");
        }
    }
}
