namespace Workbench.Studies.Data;

/// <summary>
/// A small, fully specified generator for data splits, so a split seed means the same rows on every platform
/// and .NET version (System.Random promises no such thing). Same algorithm as data/make_mnist_subset.py.
/// </summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        ulong z = _state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform integer in [0, n), by rejection so that there is no modulo bias.</summary>
    public int Below(int n)
    {
        ulong bound = (ulong)n;
        ulong limit = ulong.MaxValue - (ulong.MaxValue % bound + 1) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            if (r <= limit) return (int)(r % bound);
        }
    }

    /// <summary>A random permutation of 0..n-1 (Fisher–Yates, from the last element down).</summary>
    public int[] Permutation(int n)
    {
        var items = new int[n];
        for (int i = 0; i < n; i++) items[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = Below(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
        return items;
    }
}
