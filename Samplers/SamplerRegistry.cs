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
        new("hmc", "Full-batch Hamiltonian Monte Carlo with Metropolis correction, the reference sampler (Neal 2011)",
            [new("step_size", "leapfrog step size ε in θ units, identity mass matrix (--lr)", 1e-3),
             new("n_steps", "leapfrog steps L per transition (a whole number ≥ 1; trajectory length εL)", 20)],
            (context, h) => new Hmc(context.Tempering, h["step_size"], WholeNumber("hmc", "n_steps", h["n_steps"]))),
    ];

    private static int WholeNumber(string sampler, string name, double value) =>
        value == Math.Floor(value) && value is >= 1 and <= int.MaxValue ? (int)value
            : throw new ArgumentException($"sampler '{sampler}': {name} must be a whole number ≥ 1, got {value}");

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
