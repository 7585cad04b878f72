using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Collects the named entries of a checkpoint: tensors (dtype and shape kept, the bytes copied at the moment of the
/// call, so the sampler may go on mutating them) and scalars (longs, doubles, arrays of either). A state's
/// <see cref="SamplerState.Save"/>, <see cref="GeneratorState.Save"/> and the study's minibatch stream write into one
/// writer; <see cref="WriteTo"/> encodes it (the study puts it in a file).
/// </summary>
public sealed class StateWriter
{
    private readonly Dictionary<string, CheckpointEntry> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public IReadOnlyList<string> Names => _order;

    public void Tensor(string name, Tensor value)
    {
        using var cpu = value.detach().cpu().contiguous();
        Add(new CheckpointEntry(name, EntryKind.Tensor, value.dtype, value.shape.ToArray(), cpu.bytes.ToArray()));
    }

    public void Long(string name, long value) => Longs(name, [value], scalar: true);

    public void Double(string name, double value) => Doubles(name, [value], scalar: true);

    public void Longs(string name, IReadOnlyList<long> values) => Longs(name, values, scalar: false);

    public void Doubles(string name, IReadOnlyList<double> values) => Doubles(name, values, scalar: false);

    private void Longs(string name, IReadOnlyList<long> values, bool scalar)
    {
        var bytes = new byte[values.Count * sizeof(long)];
        for (int i = 0; i < values.Count; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * sizeof(long)), values[i]);
        Add(new CheckpointEntry(name, EntryKind.Value, ScalarType.Int64, scalar ? [] : [values.Count], bytes));
    }

    private void Doubles(string name, IReadOnlyList<double> values, bool scalar)
    {
        var bytes = new byte[values.Count * sizeof(double)];
        for (int i = 0; i < values.Count; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * sizeof(double)), values[i]);
        Add(new CheckpointEntry(name, EntryKind.Value, ScalarType.Float64, scalar ? [] : [values.Count], bytes));
    }

    private void Add(CheckpointEntry entry)
    {
        if (string.IsNullOrEmpty(entry.Name)) throw new ArgumentException("checkpoint entry names must not be empty");
        if (!_entries.TryAdd(entry.Name, entry)) throw new ArgumentException($"checkpoint entry '{entry.Name}' written twice");
        _order.Add(entry.Name);
    }

    /// <summary>
    /// Encodes every entry (format in <see cref="StateCheckpointFormat"/>).
    /// </summary>
    public void WriteTo(Stream stream)
    {
        StateCheckpointFormat.RequireLittleEndian();
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(_order.Count);
            foreach (var name in _order)
            {
                var e = _entries[name];
                w.Write(e.Name);
                w.Write((byte)e.Kind);
                w.Write((int)e.Dtype);
                w.Write(e.Shape.Length);
                foreach (long d in e.Shape) w.Write(d);
                w.Write((long)e.Bytes.Length);
                w.Write(e.Bytes);
            }
        }
        var body = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        using var header = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        header.Write(StateCheckpointFormat.Magic);
        header.Write(StateCheckpointFormat.Version);
        header.Write((long)body.Length);
        header.Write(SHA256.HashData(body));
        header.Write(body);
        header.Flush();
    }
}

/// <summary>
/// The entries of a decoded checkpoint. <see cref="Tensor(string, Tensor)"/> copies an entry into an existing tensor
/// in place (dtype and shape must match); a missing entry or a mismatch throws with the entry's name and the source.
/// </summary>
public sealed class StateReader
{
    private readonly Dictionary<string, CheckpointEntry> _entries;

    private StateReader(string source, Dictionary<string, CheckpointEntry> entries)
    {
        Source = source;
        _entries = entries;
    }

    /// <summary>Where the entries came from (a file path), for error messages.</summary>
    public string Source { get; }

    public IReadOnlyCollection<string> Names => _entries.Keys;

    public bool Has(string name) => _entries.ContainsKey(name);

    /// <summary>Copies entry <paramref name="name"/> into <paramref name="target"/> (on any device), in place.</summary>
    public void Tensor(string name, Tensor target)
    {
        var e = Get(name, EntryKind.Tensor);
        if (e.Dtype != target.dtype)
            throw new InvalidDataException($"{Source}: checkpoint entry '{name}' is {e.Dtype}, the state holds {target.dtype}");
        if (!e.Shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"{Source}: checkpoint entry '{name}' has shape [{string.Join(", ", e.Shape)}], " +
                $"the state holds [{string.Join(", ", target.shape)}]: was the checkpoint written with other chains, parameters or hyperparameters?");
        using var restored = NewTensor(e);
        using (no_grad()) target.copy_(restored);
    }

    /// <summary>A new tensor (the caller owns it) holding entry <paramref name="name"/>, on <paramref name="device"/>;
    /// for buffers a state creates lazily. It belongs to no dispose scope.</summary>
    public Tensor NewTensor(string name, Device? device = null)
    {
        var e = Get(name, EntryKind.Tensor);
        var cpu = NewTensor(e).DetachFromDisposeScope();
        if (device is null || device.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device).DetachFromDisposeScope();
    }

    public long Long(string name) => Longs(name, scalar: true)[0];

    public double Double(string name) => Doubles(name, scalar: true)[0];

    public long[] Longs(string name) => Longs(name, scalar: false);

    public double[] Doubles(string name) => Doubles(name, scalar: false);

    private long[] Longs(string name, bool scalar)
    {
        var e = Value(name, ScalarType.Int64, scalar);
        var values = new long[e.Bytes.Length / sizeof(long)];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.ToInt64(e.Bytes, i * sizeof(long));
        return values;
    }

    private double[] Doubles(string name, bool scalar)
    {
        var e = Value(name, ScalarType.Float64, scalar);
        var values = new double[e.Bytes.Length / sizeof(double)];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.ToDouble(e.Bytes, i * sizeof(double));
        return values;
    }

    private CheckpointEntry Value(string name, ScalarType dtype, bool scalar)
    {
        var e = Get(name, EntryKind.Value);
        if (e.Dtype != dtype || (e.Shape.Length == 0) != scalar)
            throw new InvalidDataException($"{Source}: checkpoint entry '{name}' is {Describe(e)}, expected " +
                (scalar ? $"one {dtype}" : $"an array of {dtype}"));
        return e;
    }

    private CheckpointEntry Get(string name, EntryKind kind)
    {
        if (!_entries.TryGetValue(name, out var e))
            throw new InvalidDataException($"{Source}: checkpoint has no entry '{name}' (it holds: {string.Join(", ", _entries.Keys)})");
        if (e.Kind != kind)
            throw new InvalidDataException($"{Source}: checkpoint entry '{name}' is {Describe(e)}, expected a {kind.ToString().ToLowerInvariant()}");
        return e;
    }

    private static string Describe(CheckpointEntry e) =>
        $"a {e.Kind.ToString().ToLowerInvariant()} of {e.Dtype} [{string.Join(", ", e.Shape)}]";

    private static Tensor NewTensor(CheckpointEntry e)
    {
        var t = empty(e.Shape, dtype: e.Dtype);
        e.Bytes.AsSpan().CopyTo(t.bytes);
        return t;
    }

    /// <summary>Decodes a checkpoint; <paramref name="source"/> (the file's path) names it in every error. A truncated,
    /// corrupt or foreign stream throws <see cref="InvalidDataException"/>.</summary>
    public static StateReader ReadFrom(Stream stream, string source)
    {
        StateCheckpointFormat.RequireLittleEndian();
        try
        {
            using var header = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            var magic = header.ReadBytes(StateCheckpointFormat.Magic.Length);
            if (!magic.AsSpan().SequenceEqual(StateCheckpointFormat.Magic))
                throw new InvalidDataException($"{source}: not a Workbench checkpoint (bad magic number)");
            int version = header.ReadInt32();
            if (version != StateCheckpointFormat.Version)
                throw new InvalidDataException($"{source}: checkpoint format version {version}, this build reads version {StateCheckpointFormat.Version}");
            long length = header.ReadInt64();
            var hash = header.ReadBytes(32);
            if (length < 0 || length > int.MaxValue) throw new InvalidDataException($"{source}: corrupt checkpoint (payload length {length})");
            if (stream.CanSeek && length > stream.Length - stream.Position)
                throw new InvalidDataException($"{source}: checkpoint is truncated ({stream.Length - stream.Position} of {length} payload bytes); it was not written completely");
            var body = header.ReadBytes((int)length);
            if (hash.Length != 32 || body.Length != length)
                throw new InvalidDataException($"{source}: checkpoint is truncated ({body.Length} of {length} payload bytes); it was not written completely");
            if (!SHA256.HashData(body).AsSpan().SequenceEqual(hash))
                throw new InvalidDataException($"{source}: checkpoint is corrupt (SHA-256 of its payload does not match)");

            using var r = new BinaryReader(new MemoryStream(body), Encoding.UTF8);
            int count = r.ReadInt32();
            var entries = new Dictionary<string, CheckpointEntry>(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string name = r.ReadString();
                var kind = (EntryKind)r.ReadByte();
                var dtype = (ScalarType)r.ReadInt32();
                var shape = new long[r.ReadInt32()];
                for (int d = 0; d < shape.Length; d++) shape[d] = r.ReadInt64();
                long size = r.ReadInt64();
                var bytes = r.ReadBytes((int)size);
                if (bytes.Length != size) throw new EndOfStreamException();
                entries[name] = new CheckpointEntry(name, kind, dtype, shape, bytes);
            }
            return new StateReader(source, entries);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{source}: checkpoint is truncated; it was not written completely", e);
        }
    }
}

/// <summary>
/// The encoding (version 1), written by <see cref="StateWriter.WriteTo"/>, all integers little-endian:
/// magic "WBCKPT\r\n", int32 version, int64 payload length, SHA-256 of the payload (32 bytes), payload. The payload
/// is int32 entry count, then per entry: name (.NET BinaryWriter string: 7-bit length prefix + UTF-8), byte kind
/// (1 tensor, 2 value), int32 dtype (TorchSharp's ScalarType code), int32 rank, int64 per dimension, int64 byte count,
/// the raw bytes in row-major order. Our own format rather than TorchSharp's save/load: it also carries scalars and
/// generator states, names the entry that does not fit, and detects a truncated or corrupt file by its hash.
/// The payload is assembled in memory, so one checkpoint holds at most 2 GiB.
/// </summary>
public static class StateCheckpointFormat
{
    public const int Version = 1;
    internal static readonly byte[] Magic = "WBCKPT\r\n"u8.ToArray();

    internal static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoints are written little-endian; this machine is big-endian");
    }
}

internal enum EntryKind : byte { Tensor = 1, Value = 2 }

internal sealed record CheckpointEntry(string Name, EntryKind Kind, ScalarType Dtype, long[] Shape, byte[] Bytes);

/// <summary>Saves and restores the states of per-chain random generators, so a resumed chain draws the numbers it
/// would have drawn had it never stopped.</summary>
public static class GeneratorState
{
    /// <summary>Entries <c>{name}.count</c> and <c>{name}.{k}</c> (generator k's state bytes).</summary>
    public static void Save(StateWriter writer, string name, IReadOnlyList<Generator> generators)
    {
        writer.Long($"{name}.count", generators.Count);
        for (int k = 0; k < generators.Count; k++)
        {
            using var state = generators[k].get_state();
            writer.Tensor($"{name}.{k}", state);
        }
    }

    /// <summary>Sets each generator to its saved state; the number of generators must match.</summary>
    public static void Load(StateReader reader, string name, IReadOnlyList<Generator> generators)
    {
        long count = reader.Long($"{name}.count");
        if (count != generators.Count)
            throw new InvalidDataException($"{reader.Source}: checkpoint entry '{name}' holds {count} generators, the run has {generators.Count}");
        for (int k = 0; k < generators.Count; k++)
        {
            using var state = reader.NewTensor($"{name}.{k}");
            generators[k].set_state(state);
        }
    }
}
