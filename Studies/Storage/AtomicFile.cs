using System.Text;

namespace Workbench.Studies.Storage;

/// <summary>
/// Writes a file under a temporary name in the same folder, flushes it to disk and renames it over the final name, so a
/// reader (or a run killed half-way, or a full disk) never meets a half-written file under the final name: there is
/// the old file, the new one, or none. A failed write leaves no temporary file behind.
/// </summary>
public static class AtomicFile
{
    /// <summary>Runs <paramref name="write"/> on a temporary path next to <paramref name="path"/> (for libraries that
    /// write to a path themselves), then flushes and renames it.</summary>
    public static void Write(string path, Action<string> write) => Replace(path, temp =>
    {
        write(temp);
        using var stream = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        stream.Flush(flushToDisk: true);
    });

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/> on a stream to a temporary file, then
    /// flushes and renames it.</summary>
    public static void WriteStream(string path, Action<Stream> write) => Replace(path, temp =>
    {
        using var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None);
        write(stream);
        stream.Flush(flushToDisk: true);
    });

    private static void Replace(string path, Action<string> writeTemp)
    {
        var full = Path.GetFullPath(path);
        // A leading dot keeps the temporary out of globs; the pid keeps two processes' temporaries apart.
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            writeTemp(temp);
            // rename(2) replaces the old file in one step.
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, temp => File.WriteAllText(temp, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)));
}

/// <summary>What a failed write says about the disk it wrote to.</summary>
public static class DiskSpace
{
    /// <summary>
    /// An I/O failure (<see cref="IOException"/>, or one wrapped in another exception) with the free space of
    /// <paramref name="folder"/>'s file system added to its message, so "no space left" names both the file (the
    /// runtime's message does) and how much room there was; any other exception is returned unchanged.
    /// </summary>
    public static Exception Explain(Exception exception, string folder)
    {
        var io = exception as IOException ?? exception.InnerException as IOException;
        if (io is null) return exception;
        string free;
        try
        {
            free = $"{Bytes(new DriveInfo(Path.GetFullPath(folder)).AvailableFreeSpace)} free on its file system";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            free = "free space unknown";
        }
        return new IOException($"{FinalNames(io.Message)} ({free})", exception);
    }

    /// <summary>The file a user knows in place of the temporary it was written through: <c>.trace.svg.123.tmp</c> (an
    /// <see cref="AtomicFile"/> temporary) names <c>trace.svg</c>, <c>part-000001.parquet.tmp</c> names the part.</summary>
    internal static string FinalNames(string message)
    {
        message = System.Text.RegularExpressions.Regex.Replace(message, @"([/\\])\.([^/\\']+)\.\d+\.tmp(?=['\s]|$)", "$1$2");
        return System.Text.RegularExpressions.Regex.Replace(message, @"(\.parquet)\.tmp(?=['\s]|$)", "$1");
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} bytes",
    };
}
