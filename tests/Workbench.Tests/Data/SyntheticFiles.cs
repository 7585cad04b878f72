using System.Buffers.Binary;
using System.IO.Compression;

namespace Workbench.Tests.Data;

/// <summary>Small files in the formats the loaders read, written byte by byte from the format descriptions.</summary>
internal static class SyntheticFiles
{
    public static byte[] IdxImages(int count, int rows, int cols, Func<int, int, byte> pixel)
    {
        var bytes = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), cols);
        for (int i = 0; i < count; i++)
            for (int p = 0; p < rows * cols; p++)
                bytes[16 + i * rows * cols + p] = pixel(i, p);
        return bytes;
    }

    public static byte[] IdxLabels(params byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    /// <summary>A deterministic pixel pattern that tells images and positions apart.</summary>
    public static byte Pattern(int image, int position) => (byte)((image * 31 + position * 7) % 256);

    public static byte[] Gzip(byte[] raw)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return buffer.ToArray();
    }

    /// <summary>
    /// A complete MNIST-style folder: 5 train images (labels 0,1,2,1,0), 3 test images (labels 2,0,1), 3x4 pixels
    /// (not square, so a rows/cols mix-up shows). Returns the folder's file names to the raw bytes written.
    /// </summary>
    public static Dictionary<string, byte[]> WriteIdxFolder(TempFolder folder, bool gzip = false, int rows = 3, int cols = 4)
    {
        var files = new Dictionary<string, byte[]>
        {
            ["train-images-idx3-ubyte"] = IdxImages(5, rows, cols, Pattern),
            ["train-labels-idx1-ubyte"] = IdxLabels(0, 1, 2, 1, 0),
            ["t10k-images-idx3-ubyte"] = IdxImages(3, rows, cols, (i, p) => Pattern(i + 100, p)),
            ["t10k-labels-idx1-ubyte"] = IdxLabels(2, 0, 1),
        };
        foreach (var (name, raw) in files)
        {
            if (gzip) folder.Write(name + ".gz", Gzip(raw));
            else folder.Write(name, raw);
        }
        return files;
    }

    public const int CifarRecordBytes = 1 + 3 * 32 * 32;

    /// <summary>CIFAR-10 binary records: a label byte, then R, G, B planes of 32x32 from <paramref name="pixel"/>(record, channel, index).</summary>
    public static byte[] CifarBatch(byte[] labels, Func<int, int, int, byte> pixel)
    {
        var bytes = new byte[labels.Length * CifarRecordBytes];
        for (int r = 0; r < labels.Length; r++)
        {
            int at = r * CifarRecordBytes;
            bytes[at] = labels[r];
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < 1024; i++)
                    bytes[at + 1 + c * 1024 + i] = pixel(r, c, i);
        }
        return bytes;
    }

    public static byte CifarPattern(int record, int channel, int index) => (byte)((record * 13 + channel * 85 + index) % 256);
}
