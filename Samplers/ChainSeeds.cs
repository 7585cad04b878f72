namespace Workbench.Samplers;

/// <summary>
/// Every random choice of a chain comes from the run seed: chain k's initial position, its sampler noise and its
/// minibatch order each get their own seed, derived by SplitMix64 mixing, so chain k draws the same numbers whether
/// it runs alone, sequentially or batched with others.
/// </summary>
public sealed record ChainSeeds(int Chain, ulong Init, ulong Noise, ulong DataOrder)
{
    public static ChainSeeds For(ulong runSeed, int chain) => new(chain,
        Derive(runSeed, chain, 1), Derive(runSeed, chain, 2), Derive(runSeed, chain, 3));

    /// <summary>
    /// The seed of the generator that draws a fitted method's progress snapshot at <paramref name="iteration"/>:
    /// SplitMix64's finaliser of noise + φ·(iteration + 1) + c, with φ = 0x9E3779B97F4A7C15 (SplitMix64's increment) and
    /// c = 0x50524F4752455353 ("PROGRESS"). A function of the chain's noise seed and the iteration only, so the snapshot
    /// is the same after a resume without any checkpointed generator, and the fit's own noise stream is never touched.
    /// </summary>
    public static ulong Progress(ulong noiseSeed, long iteration) =>
        Mix(noiseSeed + 0x9E3779B97F4A7C15UL * (ulong)(iteration + 1) + 0x50524F4752455353UL);

    private static ulong Derive(ulong seed, int chain, int purpose) =>
        Mix(seed + 0x9E3779B97F4A7C15UL * (ulong)(chain + 1) + 0xD1B54A32D192ED03UL * (ulong)purpose);

    /// <summary>SplitMix64's finaliser, masked to 63 bits: torch generators take a signed 64-bit seed.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (z ^ (z >> 31)) & 0x7FFF_FFFF_FFFF_FFFFUL;
    }
}
