using TorchSharp;
using Workbench.Samplers;
using static TorchSharp.torch;

namespace Workbench.Studies.Sampling;

/// <summary>
/// Per-chain minibatch order: each chain walks its own random permutation of the training set (reshuffled every
/// epoch, from the chain's data-order seed), so batched and sequential chains see the same batches.
/// </summary>
public sealed class MinibatchStream : IDisposable
{
    private readonly long _n;
    private readonly int _batch;
    private readonly Generator[] _generators;
    private readonly Tensor[] _orders;
    private readonly long[] _cursors;

    public MinibatchStream(long trainingSize, int batchSize, IReadOnlyList<ulong> dataOrderSeeds)
    {
        if (batchSize > trainingSize) throw new ArgumentException($"batch size {batchSize} exceeds the training set ({trainingSize} examples)");
        _n = trainingSize; _batch = batchSize;
        _generators = dataOrderSeeds.Select(s => new Generator(s)).ToArray();
        _orders = _generators.Select(g => randperm(_n, generator: g)).ToArray();
        _cursors = new long[_generators.Length];
    }

    /// <summary>Indices of the next batch of each chain, [K, B]; a full batch always (the tail of an epoch that
    /// cannot fill one is skipped, as with drop_last).</summary>
    public Tensor Next()
    {
        var rows = new Tensor[_orders.Length];
        for (int k = 0; k < _orders.Length; k++)
        {
            if (_cursors[k] + _batch > _n)
            {
                _orders[k].Dispose();
                // Lives across steps: keep it out of the caller's per-step dispose scope.
                _orders[k] = randperm(_n, generator: _generators[k]).DetachFromDisposeScope();
                _cursors[k] = 0;
            }
            rows[k] = _orders[k].narrow(0, _cursors[k], _batch);
            _cursors[k] += _batch;
        }
        var result = stack(rows);
        foreach (var r in rows) r.Dispose();
        return result;
    }

    /// <summary>Entries <c>{name}.*</c>: each chain's generator state, current permutation and cursor, so a stream
    /// restored by <see cref="Load"/> yields the batches this one would have yielded next.</summary>
    public void Save(StateWriter writer, string name = "minibatch")
    {
        writer.Long($"{name}.training_size", _n);
        writer.Long($"{name}.batch_size", _batch);
        GeneratorState.Save(writer, $"{name}.generator", _generators);
        for (int k = 0; k < _orders.Length; k++) writer.Tensor($"{name}.order.{k}", _orders[k]);
        writer.Longs($"{name}.cursor", _cursors);
    }

    /// <summary>Restores what <see cref="Save"/> wrote into a stream of the same training size, batch size and chain count.</summary>
    public void Load(StateReader reader, string name = "minibatch")
    {
        long n = reader.Long($"{name}.training_size"), batch = reader.Long($"{name}.batch_size");
        if (n != _n || batch != _batch)
            throw new InvalidDataException($"{reader.Source}: checkpoint entry '{name}' walks {n} examples in batches of {batch}, " +
                $"this run {_n} in batches of {_batch}; resume with the data and batch size of the checkpointed run");
        var cursors = reader.Longs($"{name}.cursor");
        if (cursors.Length != _cursors.Length)
            throw new InvalidDataException($"{reader.Source}: checkpoint entry '{name}.cursor' holds {cursors.Length} chains, the stream has {_cursors.Length}");
        GeneratorState.Load(reader, $"{name}.generator", _generators);
        for (int k = 0; k < _orders.Length; k++) reader.Tensor($"{name}.order.{k}", _orders[k]);
        cursors.CopyTo(_cursors, 0);
    }

    public void Dispose()
    {
        foreach (var o in _orders) o.Dispose();
        foreach (var g in _generators) g.Dispose();
    }
}
