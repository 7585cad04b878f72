using Workbench.Architectures;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>
/// Settings of a linear-mode-connectivity study (PAPER 2.1): the shared training settings (preset <c>lmc-mlp</c>, see
/// <see cref="TrainingStudyOptions"/>), 5 pairs and a 25-point λ grid.
/// </summary>
public sealed record LmcOptions() : TrainingStudyOptions("lmc")
{
    /// <summary>Pairs of networks per variant; pair i is networks 2i and 2i+1 of the run seed's <see cref="Samplers.ChainSeeds"/>.</summary>
    public int Pairs { get; init; } = 5;
    /// <summary>λ grid size: evenly spaced in [0, 1], ends included; odd so that λ = ½ is on it.</summary>
    public int Points { get; init; } = 25;
    public override string MaskGroup => "pair";
    /// <summary>The FiGLU sds of the σ-Asym columns, one column each; null: the model's --figlu-std if given, else for an MLP
    /// both conventions of the paper's code (sd 1 as in its MNIST MLP, 1/√d as in its ResNets), for a convnet 1/√C.</summary>
    public IReadOnlyList<FiGluScale>? SigmaAsymStds { get; init; }

    /// <summary>The σ-Asym sds this study trains (see <see cref="SigmaAsymStds"/>).</summary>
    public IReadOnlyList<FiGluScale> ResolvedSigmaAsymStds => SigmaAsymStds
        ?? (Model.FiGluStd is { } f ? [f] : ModelCatalog.IsConvnet(Model.Model) ? [FiGluScale.InverseSqrtWidth] : [FiGluScale.One, FiGluScale.InverseSqrtWidth]);

    /// <summary>The networks trained: standard, σ-Asym at each sd, W-Asym (PAPER 2.1's columns).</summary>
    public IReadOnlyList<TrainingArm> Arms()
    {
        var stds = ResolvedSigmaAsymStds;
        return [new("standard", Variant.Standard),
            .. stds.Select(f => new TrainingArm(stds.Count == 1 ? "sigma-asym" : $"sigma-asym@{f}", Variant.SigmaAsym, f)),
            new("w-asym", Variant.WAsym)];
    }

    public override void Validate()
    {
        if (Pairs < 1) throw new ArgumentException($"--pairs must be at least 1, got {Pairs}");
        if (Points < 3 || Points % 2 == 0) throw new ArgumentException($"--points must be odd and at least 3 so that λ = ½ is on the grid, got {Points}");
        if (SigmaAsymStds is { } stds)
        {
            if (stds.Count == 0) throw new ArgumentException("--figlu-std needs at least one value");
            if (stds.Any(f => !f.IsValid)) throw new ArgumentException($"--figlu-std values must be positive, got {string.Join(",", stds)}");
            if (stds.Distinct().Count() != stds.Count) throw new ArgumentException($"--figlu-std lists a value twice: {string.Join(",", stds)}");
        }
        base.Validate();
    }
}
