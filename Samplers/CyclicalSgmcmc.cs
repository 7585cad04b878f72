using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// Cyclical SG-MCMC (Zhang et al. 2020): an SG-MCMC kernel driven by a <see cref="CyclicalSchedule"/>. Each step uses
/// η_k; in the exploration phase the kernel runs without noise (SGD, or SGD with momentum for SGHMC) and the step
/// yields no draw (<see cref="StepInfo.Collect"/> = false); in the sampling phase the noise is on and draws are
/// collected. The kernel's own step size is η₀. Per-chain extra statistics: <c>cycle</c> (1-based) and <c>phase</c>
/// (0 = exploration, 1 = sampling).
/// </summary>
public sealed class CyclicalSgmcmc : ISampler
{
    private static readonly string[] Stats = ["cycle", "phase"];

    public CyclicalSgmcmc(ISgmcmcKernel kernel, CyclicalSchedule schedule)
    {
        Kernel = kernel;
        Schedule = schedule;
    }

    public ISgmcmcKernel Kernel { get; }
    public CyclicalSchedule Schedule { get; }
    public string Name => "c" + Kernel.Name;
    public Tempering Tempering => Kernel.Tempering;
    public IReadOnlyList<string> ExtraStats => Stats;
    public string NoiseGenerator => Kernel.NoiseGenerator;

    public IReadOnlyDictionary<string, object> Hyperparameters
    {
        get
        {
            var all = new Dictionary<string, object>(Kernel.Hyperparameters);
            foreach (var (key, value) in Schedule.ToManifest()) all[key] = value;
            return all;
        }
    }

    public SamplerState Init(Tensor position) => Kernel.Init(position);

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators)
    {
        long k = state.Iteration + 1;
        bool sampling = Schedule.Phase(k) == CyclicalPhase.Sampling;
        var info = SgmcmcStep.Take(Kernel, state, target, generators, Schedule.StepSize(k), noise: sampling);
        int chains = generators.Count;
        return info with
        {
            Collect = sampling,
            Extra = new Dictionary<string, double[]>
            {
                ["cycle"] = Enumerable.Repeat((double)Schedule.Cycle(k), chains).ToArray(),
                ["phase"] = Enumerable.Repeat(sampling ? 1.0 : 0.0, chains).ToArray(),
            },
        };
    }
}
