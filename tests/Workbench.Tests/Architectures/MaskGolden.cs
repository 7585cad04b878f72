namespace Workbench.Tests.Architectures;

/// <summary>Pinned output of the mask generator (seed 0, layer 0, 3×4, n_fix 2, κ 1); see MaskTests.</summary>
internal static class MaskGolden
{
    public const string Trainable = "011000110110";
    public const string Sha256 = "288f2057e1c8fea54f69712be39dbc52d9377cdfed22920634e47d8629e35127";
}
