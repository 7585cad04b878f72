namespace Workbench.Samplers;

/// <summary>Where a cyclical schedule is at iteration k.</summary>
public enum CyclicalPhase
{
    /// <summary>r &lt; β: large steps, no noise, no draws.</summary>
    Exploration = 0,
    /// <summary>r ≥ β: noise on, draws collected.</summary>
    Sampling = 1,
}

/// <summary>
/// The cyclical step-size schedule of cSG-MCMC (Zhang et al. 2020). METHODS: Cyclical schedule
///   K iterations, M cycles, L = ⌈K/M⌉,   η_k = (η₀/2)(cos(π·mod(k−1, L)/L) + 1),   r = mod(k−1, L)/L,
/// with r &lt; β the exploration phase and r ≥ β the sampling phase. k counts from 1; when M does not divide K the
/// last cycle is cut short.
/// </summary>
public sealed record CyclicalSchedule
{
    public CyclicalSchedule(double initialStepSize, int totalSteps, int cycles, double beta)
    {
        if (!(initialStepSize > 0) || double.IsInfinity(initialStepSize))
            throw new ArgumentException($"cyclical schedule: initial step size must be a positive number, got {initialStepSize}");
        if (totalSteps < 1) throw new ArgumentException($"cyclical schedule: total steps must be at least 1, got {totalSteps}");
        if (cycles < 1 || cycles > totalSteps)
            throw new ArgumentException($"cyclical schedule: cycles must lie in [1, total steps = {totalSteps}], got {cycles}");
        if (!(beta >= 0 && beta < 1))
            throw new ArgumentException($"cyclical schedule: beta (the exploration fraction) must lie in [0, 1), got {beta}");
        InitialStepSize = initialStepSize;
        TotalSteps = totalSteps;
        Cycles = cycles;
        Beta = beta;
        CycleLength = (totalSteps + cycles - 1) / cycles;
    }

    /// <summary>η₀.</summary>
    public double InitialStepSize { get; }
    /// <summary>K.</summary>
    public int TotalSteps { get; }
    /// <summary>M.</summary>
    public int Cycles { get; }
    /// <summary>β: the fraction of each cycle spent exploring.</summary>
    public double Beta { get; }
    /// <summary>L = ⌈K/M⌉.</summary>
    public int CycleLength { get; }

    /// <summary>r = mod(k−1, L)/L ∈ [0, 1): how far iteration k is into its cycle.</summary>
    public double Position(long k) => Offset(k) / (double)CycleLength;

    /// <summary>η_k.</summary>
    public double StepSize(long k) => InitialStepSize / 2 * (Math.Cos(Math.PI * Position(k)) + 1);

    /// <summary>The 1-based cycle of iteration k.</summary>
    public int Cycle(long k) => (int)((k - Offset(k) - 1) / CycleLength) + 1;

    public CyclicalPhase Phase(long k) => Position(k) < Beta ? CyclicalPhase.Exploration : CyclicalPhase.Sampling;

    private long Offset(long k) => k >= 1 ? (k - 1) % CycleLength
        : throw new ArgumentOutOfRangeException(nameof(k), k, "cyclical schedule: iterations count from 1");

    public IReadOnlyDictionary<string, object> ToManifest() => new Dictionary<string, object>
    {
        ["step_size"] = InitialStepSize, ["cycles"] = Cycles, ["beta"] = Beta, ["total_steps"] = TotalSteps, ["cycle_length"] = CycleLength,
    };
}
