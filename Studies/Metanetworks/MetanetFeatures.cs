using static TorchSharp.torch;

namespace Workbench.Studies.Metanetworks;

/// <summary>
/// What each metanet reads of a network, for all networks of one variant at once (row i = member i). Every
/// standardisation uses the training split's statistics only, so nothing of the validation or test networks leaks in.
/// </summary>
public static class MetanetFeatures
{
    /// <summary>
    /// The inputs of metanet <paramref name="kind"/>, float32 on the CPU: mlp [n, d] (θ standardised per coordinate);
    /// cnn1d [n, 1, d] (the same vector as one channel); statnn [n, 7·tensors] (<see cref="StatNNFeatures"/>, standardised
    /// per feature); deepsets [n, elements, 1 + tensors] (each entry standardised with its tensor's training mean and sd,
    /// then a one-hot of the tensor; at most <paramref name="maxElements"/> positions, <see cref="DeepSetsPositions"/>).
    /// </summary>
    public static Tensor Build(string kind, IReadOnlyList<ZooMember> members, IReadOnlyList<ZooSegment> layout, IReadOnlyList<int> train,
        int maxElements, ulong seed)
    {
        if (train.Count == 0) throw new ArgumentException("standardisation needs at least one training network");
        using var scope = NewDisposeScope();
        Tensor result = kind switch
        {
            MetanetKinds.Mlp => PerColumn(Theta(members), train),
            MetanetKinds.Cnn1d => PerColumn(Theta(members), train).unsqueeze(1),
            MetanetKinds.StatNN => PerColumn(Statistics(members, layout), train),
            MetanetKinds.DeepSets => Elements(members, layout, train, maxElements, seed),
            _ => throw new ArgumentException($"unknown metanet '{kind}' (use {string.Join(", ", MetanetKinds.All)})"),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The positions of θ DeepSets reads, ascending: all of them when θ has at most <paramref name="maxElements"/> entries;
    /// otherwise, so that a network of tens of thousands of weights stays a tractable set, a fixed subset drawn once per
    /// run from <paramref name="seed"/> (the same positions for every network, so the networks stay comparable): each
    /// tensor keeps a share proportional to its size, at least one entry, drawn without replacement.
    /// </summary>
    public static int[] DeepSetsPositions(IReadOnlyList<ZooSegment> layout, int maxElements, ulong seed)
    {
        long total = layout.Sum(s => s.Count);
        if (total <= maxElements) return layout.SelectMany(s => Enumerable.Range((int)s.Offset, (int)s.Count)).Order().ToArray();
        var random = new Data.SplitMix64(seed);
        var positions = new List<int>();
        foreach (var segment in layout)
        {
            int take = (int)Math.Clamp(Math.Round((double)maxElements * segment.Count / total), 1, segment.Count);
            positions.AddRange(random.Permutation((int)segment.Count).Take(take).Select(i => (int)segment.Offset + i));
        }
        return positions.Order().ToArray();
    }

    private static Tensor Theta(IReadOnlyList<ZooMember> members)
    {
        int d = members[0].Weights.Length;
        var flat = new float[(long)members.Count * d];
        for (int i = 0; i < members.Count; i++) members[i].Weights.CopyTo(flat, (long)i * d);
        return tensor(flat, [members.Count, d]);
    }

    private static Tensor Statistics(IReadOnlyList<ZooMember> members, IReadOnlyList<ZooSegment> layout)
    {
        int width = StatNNFeatures.PerTensor * layout.Count;
        var flat = new float[members.Count * width];
        for (int i = 0; i < members.Count; i++)
        {
            var features = StatNNFeatures.Of(members[i].Weights, layout);
            for (int j = 0; j < width; j++) flat[i * width + j] = (float)features[j];
        }
        return tensor(flat, [members.Count, width]);
    }

    /// <summary>(x − mean) / sd per column with the training rows' mean and sd; a column constant on them is only centred.
    /// Computed in float64 over blocks of <see cref="RowBlock"/> rows, written into x: a zoo of thousands of networks
    /// never has whole float64 copies of θ (2,000 × 12,762 values: 204 MB each) alive at once.</summary>
    private static Tensor PerColumn(Tensor x, IReadOnlyList<int> train)
    {
        Tensor mean, sd;
        using (var rows = x.index_select(0, Index(train)).to(ScalarType.Float64))
        {
            mean = rows.mean([0]);
            sd = rows.std([0], unbiased: false);
        }
        sd = where(sd > HeldScalars.Of(1e-12), sd, ones_like(sd));
        long n = x.shape[0];
        for (long start = 0; start < n; start += RowBlock)
        {
            using var scope = NewDisposeScope();
            var block = x.narrow(0, start, Math.Min(RowBlock, n - start));
            block.copy_(block.to(ScalarType.Float64).sub(mean).div(sd).to(ScalarType.Float32));
        }
        return x;
    }

    /// <summary>Rows standardised at a time by <see cref="PerColumn"/>.</summary>
    private const int RowBlock = 128;

    private static Tensor Elements(IReadOnlyList<ZooMember> members, IReadOnlyList<ZooSegment> layout, IReadOnlyList<int> train, int maxElements, ulong seed)
    {
        var positions = DeepSetsPositions(layout, maxElements, seed);
        var segmentOf = positions.Select(p => layout.Select((s, k) => (s, k)).First(t => p >= t.s.Offset && p < t.s.Offset + t.s.Count).k).ToArray();
        // Each tensor's mean and sd over all its entries in all training networks: one scale per tensor, so the
        // elements of a tensor stay comparable with each other (unlike per-coordinate standardisation).
        var mean = new double[layout.Count];
        var sd = new double[layout.Count];
        for (int k = 0; k < layout.Count; k++)
        {
            double sum = 0, squares = 0;
            long count = 0;
            foreach (int i in train)
                for (long p = layout[k].Offset; p < layout[k].Offset + layout[k].Count; p++)
                {
                    double v = members[i].Weights[p];
                    sum += v; squares += v * v; count++;
                }
            mean[k] = sum / count;
            double variance = Math.Max(0, squares / count - mean[k] * mean[k]);
            sd[k] = variance > 1e-24 ? Math.Sqrt(variance) : 1;
        }
        int e = positions.Length, f = 1 + layout.Count;
        var flat = new float[(long)members.Count * e * f];
        for (int i = 0; i < members.Count; i++)
            for (int j = 0; j < e; j++)
            {
                long at = ((long)i * e + j) * f;
                int k = segmentOf[j];
                flat[at] = (float)((members[i].Weights[positions[j]] - mean[k]) / sd[k]);
                flat[at + 1 + k] = 1;
            }
        return tensor(flat, [members.Count, e, f]);
    }

    private static Tensor Index(IReadOnlyList<int> rows) => tensor(rows.Select(r => (long)r).ToArray());
}
