using System.IO.Compression;
using System.Security.Cryptography;

namespace Workbench.Studies.Data;

/// <summary>
/// One input file read into memory: the name used in messages, its content (gunzipped when it was gzip) and
/// the SHA-256 of the bytes as stored, which is what a run manifest records.
/// </summary>
internal sealed class DataFile
{
    private DataFile(string name, byte[] content, string sha256, bool wasGzip)
    {
        Name = name;
        Content = content;
        Sha256 = sha256;
        WasGzip = wasGzip;
    }

    public string Name { get; }
    public byte[] Content { get; }
    public string Sha256 { get; }
    public bool WasGzip { get; }

    public static DataFile Read(string path)
    {
        byte[] stored;
        try
        {
            stored = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, $"cannot be read ({e.Message})", e);
        }
        return FromStoredBytes(path, stored);
    }

    public static DataFile FromStoredBytes(string name, byte[] stored)
    {
        string sha256 = Sha256Hex(stored);
        bool gzip = stored.Length >= 2 && stored[0] == 0x1F && stored[1] == 0x8B;
        return new DataFile(name, gzip ? Gunzip(name, stored) : stored, sha256, gzip);
    }

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static byte[] Gunzip(string name, byte[] stored)
    {
        // gzip's trailer holds the uncompressed size modulo 2^32: a good first guess for the buffer.
        int hint = stored.Length >= 18 ? (int)Math.Min(BitConverter.ToUInt32(stored, stored.Length - 4), (uint)Array.MaxLength) : 0;
        try
        {
            using var input = new GZipStream(new MemoryStream(stored, writable: false), CompressionMode.Decompress);
            using var output = new MemoryStream(hint);
            input.CopyTo(output);
            return output.Length == output.Capacity ? output.GetBuffer() : output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(name, $"is not a valid gzip file ({e.Message})", e);
        }
    }
}
