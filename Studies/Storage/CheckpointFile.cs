using Workbench.Samplers;

namespace Workbench.Studies.Storage;

/// <summary>
/// One checkpoint file (format: <see cref="StateCheckpointFormat"/>). Samplers know no files, so the state, generator
/// and minibatch entries are collected in a <see cref="StateWriter"/> and written here. The write is atomic
/// (<see cref="AtomicFile"/>): a crash leaves either the previous checkpoint or the new one, never half of one.
/// </summary>
public static class CheckpointFile
{
    public static void Write(string path, StateWriter writer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.WriteStream(path, writer.WriteTo);
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
