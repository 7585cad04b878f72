using System.Globalization;
using Workbench.Architectures;
using Workbench.Samplers;

namespace Workbench.Studies.Sampling;

/// <summary>
/// What a sampling run will need, estimated before anything is allocated, so that a request no machine can serve
/// (<c>--chains 100000000</c>, a huge <c>--track</c>) is refused in one line instead of being OOM-killed or running for
/// days. Both figures are deliberately rough lower bounds (README, "Resource limits"):
/// <list type="bullet">
/// <item>memory: K·P·(6 + 3r) values for positions, gradients, noise and the sampler's state (r = a low-rank method's
/// rank: each factor column with its two Adam moments), K·B·D·4 values for inputs and activations, the training data,
/// and 2·K·draws·tracked doubles for the draws the diagnostics hold;</item>
/// <item>time: 6·P·B floating-point operations per chain and gradient (forward and backward of a dense network) at
/// <see cref="AssumedFlops"/>, more than this machine's measured peak for the whole step (issue #14: 45 GFLOP/s).</item>
/// </list>
/// </summary>
public sealed record ResourceEstimate(long Bytes, double Seconds)
{
    /// <summary>Floating-point operations per second assumed for the time bound: above the 2-core machine's measured rate.</summary>
    public const double AssumedFlops = 100e9;

    /// <summary>Above this share of the memory the process may use, a run is refused.</summary>
    public const double MemoryShare = 0.8;

    /// <summary>Runs estimated to take longer than this are refused.</summary>
    public static readonly TimeSpan MaxTime = TimeSpan.FromDays(1);

    public static ResourceEstimate Of(SampleOptions o, INetwork network, ISampler sampler, long trainExamples, long inputFeatures, int tracked)
    {
        double k = o.Chains, p = network.TrainableCount, elem = o.Dtype == "float64" ? 8 : 4;
        double rank = sampler.Hyperparameters.TryGetValue("rank", out var r) ? Convert.ToDouble(r, CultureInfo.InvariantCulture) : 0;
        double batch = sampler.FullBatch ? trainExamples : Math.Min(o.BatchSize, trainExamples);
        double gradientsPerStep = sampler.Hyperparameters.TryGetValue("n_steps", out var leapfrog) ? Convert.ToDouble(leapfrog, CultureInfo.InvariantCulture) : 1;
        double draws = sampler.Kind == SamplerKind.MarkovChain ? Math.Max(1, (o.Steps - o.Warmup) / o.Thin) : o.Draws;
        double bytes = k * p * (6 + 3 * rank) * elem
                       + k * batch * inputFeatures * 4 * elem
                       + trainExamples * inputFeatures * elem
                       + 2 * k * draws * tracked * 8;
        double seconds = k * o.Steps * gradientsPerStep * 6 * p * batch / AssumedFlops;
        return new ResourceEstimate((long)Math.Min(bytes, long.MaxValue), seconds);
    }

    /// <summary>The memory this process may use: the machine's, or its cgroup limit where one is set.</summary>
    public static long AvailableBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>One line saying what is over the limits, or null when the run fits.</summary>
    public string? Refusal(SampleOptions o, long availableBytes)
    {
        var over = new List<string>();
        if (Bytes > MemoryShare * availableBytes)
            over.Add($"needs at least ~{Gib(Bytes)} of memory ({o.Chains:N0} chains, --track {o.Track:N0}) and this process may use {Gib(availableBytes)}");
        if (Seconds > MaxTime.TotalSeconds)
            over.Add($"needs at least ~{ProgressTicker.Duration(Seconds)} ({o.Chains:N0} chains × {o.Steps:N0} steps)");
        return over.Count == 0 ? null
            : $"this run {string.Join(" and ", over)}; use fewer chains, steps or tracked parameters, or pass --yes-i-know to run it anyway";
    }

    private static string Gib(double bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1L << 30):0.#} GiB");
}
