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
        new("psgld", "Preconditioned SGLD with an RMSprop preconditioner (Li et al. 2016)",
            [
                new("step_size", "step size η of θ ← θ + ηG⊙∇ℓ̃ + √(2ηT/N)√G⊙ξ, G = 1/(λ + √V) (--lr)", 1e-3),
                new("alpha", "decay α of the squared-gradient average V ← αV + (1−α)g⊙g", 0.99),
                new("lambda", "damping λ of the preconditioner G = 1/(λ + √V)", 1e-5),
            ],
            (context, h) => new Psgld(context.Tempering, h["step_size"], h["alpha"], h["lambda"])),
        new("sghmc", "Stochastic gradient HMC, momentum form (Chen et al. 2014)",
            [
                new("step_size", "step size η of v ← (1−α)v + η∇ℓ̃ + √(2αηT/N)ξ, θ ← θ + v (--lr)", 1e-4),
                new("momentum", "momentum 1 − α (friction α; 0 is SGLD)", 0.9),
            ],
            (context, h) => new Sghmc(context.Tempering, h["step_size"], h["momentum"])),
        new("csgld", "Cyclical SGLD: cosine step-size cycles, noise-free exploration then sampling (Zhang et al. 2020)",
            [
                new("step_size", "initial step size η₀ of each cycle (--lr)", 1e-3),
                new("cycles", "number of cycles M over the run's steps", 4),
                new("beta", "fraction β of each cycle spent exploring (no noise, no draws)", 0.8),
            ],
            (context, h) => new CyclicalSgmcmc(new Sgld(context.Tempering, h["step_size"]), Schedule(context, h))),
        new("csghmc", "Cyclical SGHMC: cosine step-size cycles, noise-free exploration then sampling (Zhang et al. 2020)",
            [
                new("step_size", "initial step size η₀ of each cycle (--lr)", 1e-4),
                new("momentum", "momentum 1 − α (friction α)", 0.9),
                new("cycles", "number of cycles M over the run's steps", 4),
                new("beta", "fraction β of each cycle spent exploring (no noise, no draws)", 0.8),
            ],
            (context, h) => new CyclicalSgmcmc(new Sghmc(context.Tempering, h["step_size"], h["momentum"]), Schedule(context, h))),
        new("hmc", "Full-batch Hamiltonian Monte Carlo with Metropolis correction, the reference sampler (Neal 2011)",
            [new("step_size", "leapfrog step size ε in θ units, identity mass matrix (--lr)", 1e-3),
             new("n_steps", "leapfrog steps L per transition (a whole number ≥ 1; trajectory length εL)", 20)],
            (context, h) => new Hmc(context.Tempering, h["step_size"], WholeNumber("hmc", "n_steps", h["n_steps"]))),
        new("mfvi", "Mean-field VI / Bayes-by-backprop with local reparameterisation (Blundell et al. 2015); fitted, then drawn",
            [
                new("step_size", "Adam learning rate on the per-datum ELBO", 1e-3),
                new("init_std", "initial posterior sd σ (μ starts at θ₀)", 1e-3),
                new("final_step_fraction", "cosine-decay the step size to step_size·this over the run's steps (1 = constant)", 1.0),
            ],
            (context, h) => new MeanFieldVi(context.Tempering, h["step_size"], h["init_std"], context.TotalSteps, h["final_step_fraction"])),
        new("elrg", "Low-rank + diagonal Gaussian VI with local reparameterisation (paper's BNN; Tomczak et al. 2020); fitted, then drawn",
            [
                new("step_size", "Adam learning rate on the per-datum ELBO", 1e-3),
                new("init_std", "initial posterior sd σ (learned σ); initial factor sd of pieces without the reference rule (Linear weight 0.5·sd(W₀)/√r, bias 0.01, conv 0)", 1e-3),
                new("rank", "r, low-rank factors per layer: covariance diag(σ²) + (1/r) Σ v_k v_kᵀ", 4),
                new("fixed_log_var", "log σ² held fixed (paper's MLP: -10; only μ and V learned); NaN = σ learned", double.NaN),
                new("final_step_fraction", "cosine-decay the step size to step_size·this over the run's steps (1 = constant)", 1.0),
            ],
            (context, h) => new Elrg(context.Tempering, h["step_size"], h["init_std"], WholeNumber("elrg", "rank", h["rank"]),
                h["fixed_log_var"], context.TotalSteps, h["final_step_fraction"])),
        new("swag", "SWA-Gaussian: SGD with momentum on the MAP objective, then a diagonal + rank-K Gaussian of its iterates (Maddox et al. 2019)",
            [new("step_size", "SGD step size η of v ← μv + ∇ℓ̃, θ ← θ + ηv (--lr)", 1e-2),
             new("momentum", "SGD momentum μ", 0.9),
             new("rank", "K: deviations kept for the low-rank part (last K snapshots)", 20),
             new("collect_every", "steps between snapshots; 0 = one epoch ⌈N/B⌉, shortened so the window holds ≥ K snapshots", 0),
             new("start", "fraction of the run before collecting starts", 0.5)],
            (context, h) => new Swag(context.Tempering, context.TotalSteps, h["step_size"], h["momentum"],
                WholeNumber("swag", "rank", h["rank"]), WholeNumber("swag", "collect_every", h["collect_every"], minimum: 0), h["start"])),
        new("ensemble", "Deep ensemble: each chain an independently initialised member trained by Adam to the MAP; a member is one draw (Lakshminarayanan et al. 2017)",
            [new("step_size", "Adam step size η (--lr)", 1e-3),
             new("beta1", "Adam β₁ (first-moment decay)", 0.9),
             new("beta2", "Adam β₂ (second-moment decay)", 0.999)],
            (context, h) => new Ensemble(context.Tempering, h["step_size"], h["beta1"], h["beta2"])),
    ];

    private static CyclicalSchedule Schedule(SamplerContext context, IReadOnlyDictionary<string, double> h)
    {
        return new CyclicalSchedule(h["step_size"], context.TotalSteps, WholeNumber("cyclical", "cycles", h["cycles"]), h["beta"]);
    }

    /// <summary>A hyperparameter that counts something (steps, a rank, cycles): a whole number, not a fraction.</summary>
    private static int WholeNumber(string sampler, string name, double value, int minimum = 1) =>
        value == Math.Floor(value) && value >= minimum && value <= int.MaxValue ? (int)value
            : throw new ArgumentException($"sampler '{sampler}': {name} must be a whole number ≥ {minimum}, got {value}");

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
