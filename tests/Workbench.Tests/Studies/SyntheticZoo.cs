using Workbench.Studies.Metanetworks;

namespace Workbench.Tests.Studies;

/// <summary>
/// Zoos made in code for the metanetwork tests. Each network has a latent quality z ~ U(0, 1) and test accuracy
/// 0.5 + 0.4·z. With a signal, every trainable weight of its first tensor is drawn from N(2(z − ½), 1) and those of the
/// other tensors from N(0, (½ + z)²): the first tensor's mean carries z (sd of 2(z − ½) is 0.577 against a sampling sd
/// of 1/√count ≤ 0.13, so an ideal predictor from that mean alone reaches R² ≈ 0.95), the others' spread too. Without a
/// signal the weights are N(0, 1) whatever z is, so nothing in them predicts the accuracy.
/// </summary>
internal static class SyntheticZoo
{
    public static ZooData Make(int perVariant, bool signal, ulong seed, params string[] variants)
    {
        if (variants.Length == 0) variants = ["standard", "w-asym"];
        var random = new Random(unchecked((int)seed));
        var members = new List<ZooMember>();
        var layouts = new Dictionary<string, IReadOnlyList<ZooSegment>>();
        int id = 0;
        foreach (var variant in variants)
        {
            // W-Asym keeps fewer trainable entries of its weight matrices (some are fixed), as in a real zoo.
            long first = variant == "w-asym" ? 60 : 80, second = variant == "w-asym" ? 6 : 8;
            var layout = new List<ZooSegment>
            {
                new("fc1.weight", [8, 10], 0, first),
                new("fc1.bias", [8], first, 8),
                new("fc2.weight", [1, 8], first + 8, second),
            };
            layouts[variant] = layout;
            int length = (int)(first + 8 + second);
            for (int n = 0; n < perVariant; n++)
            {
                double z = random.NextDouble();
                var weights = new float[length];
                for (int s = 0; s < layout.Count; s++)
                    for (long p = layout[s].Offset; p < layout[s].Offset + layout[s].Count; p++)
                    {
                        double noise = Normal(random);
                        weights[p] = (float)(!signal ? noise : s == 0 ? 2 * (z - 0.5) + noise : (0.5 + z) * noise);
                    }
                double accuracy = 0.5 + 0.4 * z;
                members.Add(new ZooMember(id++, variant, 0.1, 1e-3, 0, 10, (ulong)n, (ulong)n, accuracy, 0.5, accuracy, 0.7, weights));
            }
        }
        return new ZooData("synthetic", "mlp-synthetic", members, layouts);
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
