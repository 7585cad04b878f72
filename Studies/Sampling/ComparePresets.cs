using Workbench.Architectures;

namespace Workbench.Studies.Sampling;

/// <summary>Named comparison settings; command-line options given alongside a preset override it.</summary>
public static class ComparePresets
{
    public sealed record Preset(string Name, string Description, SampleOptions Options);

    public static IReadOnlyList<Preset> All { get; } =
    [
        new("make-run",
            "what `make run` runs: the paper's Bayesian MLP (mlp-bnn: width 256, depth 8, LayerNorm, ReLU; W-Asym n_fix 8, κ 0.5) " +
            "under SGLD, 2 chains, 3,000 steps (48 epochs) on the embedded MNIST subset",
            new SampleOptions
            {
                Model = new ModelOptions("mlp-bnn"),
                Sampler = "sgld", StepSize = 0.05, Chains = 2, Steps = 3000, Warmup = 1000, Thin = 50, BatchSize = 128,
                Temperature = 1.0, PriorStd = 1.0, Seed = 0, Track = 8, Out = "results/make-run",
            }),
    ];

    public static Preset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new OptionException($"unknown preset '{name}' (available: {string.Join(", ", All.Select(p => p.Name))})");
}
