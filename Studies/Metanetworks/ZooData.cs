using Workbench.Architectures;

namespace Workbench.Studies.Metanetworks;

/// <summary>
/// One trained network of a model zoo: its hyperparameters (drawn from the zoo's seeded law), its seeds, how well it
/// does, and its flattened trainable weights θ in the network's layout order (fixed W-Asym entries are not in θ).
/// </summary>
public sealed record ZooMember(
    int Id,
    string Variant,
    double LearningRate,
    double WeightDecay,
    double LabelSmoothing,
    int Epochs,
    ulong InitSeed,
    ulong DataOrderSeed,
    double TrainAccuracy,
    double TrainLoss,
    double TestAccuracy,
    double TestLoss,
    float[] Weights);

/// <summary>One tensor of θ as a metanetwork sees it: its name (e.g. <c>fc1.weight</c>), full shape, and where its
/// trainable entries sit in θ (<see cref="Offset"/>, <see cref="Count"/>; for W-Asym weights Count is less than the
/// shape's product).</summary>
public sealed record ZooSegment(string Name, long[] Shape, long Offset, long Count)
{
    public static IReadOnlyList<ZooSegment> Of(ParameterLayout layout) =>
        layout.Segments.Select(s => new ZooSegment(s.Name, s.Shape, s.Offset, s.Count)).ToList();
}

/// <summary>A zoo as the metanetwork study reads it: the members and, per variant, the layout of θ.</summary>
public sealed record ZooData(string Folder, string Model, IReadOnlyList<ZooMember> Members, IReadOnlyDictionary<string, IReadOnlyList<ZooSegment>> Layouts);
