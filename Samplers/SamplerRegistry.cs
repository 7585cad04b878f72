namespace Workbench.Samplers;

/// <summary>A hyperparameter a method takes, with its default, for `workbench samplers` and validation.</summary>
public sealed record HyperparameterInfo(string Name, string Description, double Default);

/// <summary>What every method is told besides its hyperparameters.</summary>
/// <param name="TotalSteps">iterations the run will take (cyclical schedules divide them into cycles).</param>
public sealed record SamplerContext(Tempering Tempering, int TotalSteps);

public sealed record SamplerInfo(string Name, string Description, IReadOnlyList<HyperparameterInfo> Hyperparameters,
    Func<SamplerContext, IReadOnlyDictionary<string, double>, ISampler> Create);

/// <summary>Maps the CLI's sampler names to implementations.</summary>
public static class SamplerRegistry
{
    public static IReadOnlyList<SamplerInfo> All { get; } =
    [
        new("sgld", "Stochastic gradient Langevin dynamics (Welling & Teh 2011)",
            [new("step_size", "step size η of θ ← θ + η∇ℓ̃ + √(2ηT/N)ξ (--lr)", 1e-3)],
            (context, h) => new Sgld(context.Tempering, h["step_size"])),
        new("swag", "SWA-Gaussian: SGD with momentum on the MAP objective, then a diagonal + rank-K Gaussian of its iterates (Maddox et al. 2019)",
            [new("step_size", "SGD step size η of v ← μv + ∇ℓ̃, θ ← θ + ηv (--lr)", 1e-2),
             new("momentum", "SGD momentum μ", 0.9),
             new("rank", "K: deviations kept for the low-rank part (last K snapshots)", 20),
             new("collect_every", "steps between snapshots; 0 = one epoch ⌈N/B⌉, shortened so the window holds ≥ K snapshots", 0),
             new("start", "fraction of the run before collecting starts", 0.5)],
            (context, h) => new Swag(context.Tempering, context.TotalSteps, h["step_size"], h["momentum"],
                WholeNumber("swag", "rank", h["rank"]), WholeNumber("swag", "collect_every", h["collect_every"]), h["start"])),
        new("ensemble", "Deep ensemble: each chain an independently initialised member trained by Adam to the MAP; a member is one draw (Lakshminarayanan et al. 2017)",
            [new("step_size", "Adam step size η (--lr)", 1e-3),
             new("beta1", "Adam β₁ (first-moment decay)", 0.9),
             new("beta2", "Adam β₂ (second-moment decay)", 0.999)],
            (context, h) => new Ensemble(context.Tempering, h["step_size"], h["beta1"], h["beta2"])),
    ];

    /// <summary>A hyperparameter that counts something (a rank, a number of steps): a whole number, not a fraction.</summary>
    private static int WholeNumber(string sampler, string name, double value) =>
        value == Math.Floor(value) && value >= int.MinValue && value <= int.MaxValue ? (int)value
            : throw new ArgumentException($"{sampler}: {name} must be a whole number, got {value}");

    public static IReadOnlyList<string> Names => All.Select(s => s.Name).ToList();

    public static SamplerInfo Get(string name) => All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"unknown sampler '{name}' (available: {string.Join(", ", Names)})");

    /// <summary>Creates a sampler; hyperparameters not given take their defaults, unknown ones are an error.</summary>
    public static ISampler Create(string name, SamplerContext context, IReadOnlyDictionary<string, double>? hyperparameters = null)
    {
        var info = Get(name);
        var values = info.Hyperparameters.ToDictionary(h => h.Name, h => h.Default);
        foreach (var (key, value) in hyperparameters ?? new Dictionary<string, double>())
        {
            if (!values.ContainsKey(key))
                throw new ArgumentException($"sampler '{name}' has no hyperparameter '{key}' (it takes: {string.Join(", ", values.Keys)})");
            values[key] = value;
        }
        return info.Create(context, values);
    }
}
