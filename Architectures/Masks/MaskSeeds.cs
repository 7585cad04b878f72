namespace Workbench.Architectures.Masks;

/// <summary>
/// Mask seeds of the groups of networks a study trains with their own masks (lmc: each pair; merge: the merged set; mli:
/// each network). The paper's reference code draws new W-Asym masks, fixed values and FiGLU matrices in every training
/// process, so its "± over pairs" spans draws of M and F as well as inits; groups here get theirs from the user's mask
/// seed and the group's index, reproducibly, while the networks of one group share them (PAPER 1.1).
/// </summary>
public static class MaskSeeds
{
    /// <summary>
    /// Group <paramref name="group"/>'s mask seed: SplitMix64's finaliser of maskSeed + φ·(group + 1) + c, with
    /// φ = 0x9E3779B97F4A7C15 (SplitMix64's increment) and c = 0x4D41534B47524F55 ("MASKGROU"), as the chain seeds are derived.
    /// </summary>
    public static ulong ForGroup(ulong maskSeed, int group)
    {
        if (group < 0) throw new ArgumentOutOfRangeException(nameof(group), group, "a group index is ≥ 0");
        ulong z = maskSeed + 0x9E3779B97F4A7C15UL * (ulong)(group + 1) + 0x4D41534B47524F55UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
