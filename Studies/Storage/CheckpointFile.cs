using Workbench.Samplers;

namespace Workbench.Studies.Storage;

/// <summary>
/// One checkpoint file (format: <see cref="StateCheckpointFormat"/>). Samplers know no files, so the state, generator
/// and minibatch entries are collected in a <see cref="StateWriter"/> and written here. The write is atomic: the
/// entries go to a temporary file beside the target, flushed to disk, then renamed over it, so a crash leaves either
/// the previous checkpoint or the new one, never half of one.
/// </summary>
public static class CheckpointFile
{
    public static void Write(string path, StateWriter writer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        var temporary = full + $".{Environment.ProcessId}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                writer.WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            if (File.Exists(temporary)) File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Reads a checkpoint; a missing, truncated or corrupt file throws an exception whose message names it.</summary>
    public static StateReader Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"{full}: no checkpoint file there", full);
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        return StateReader.ReadFrom(stream, full);
    }
}
