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

    public override void Validate()
    {
        if (Pairs < 1) throw new ArgumentException($"--pairs must be at least 1, got {Pairs}");
        if (Points < 3 || Points % 2 == 0) throw new ArgumentException($"--points must be odd and at least 3 so that λ = ½ is on the grid, got {Points}");
        base.Validate();
    }
}
