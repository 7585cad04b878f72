using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using Workbench.Studies.ScaleOut;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Studies.Benchmarks;

/// <param name="Threads">torch threads of this process (0: libtorch's default); the PyTorch reference gets as many BLAS threads.</param>
/// <param name="Rounds">rounds of the interleaved PyTorch comparison, each one reference run then one Workbench run per cell.</param>
/// <param name="Python">the interpreter to try first for the PyTorch reference (then python3, then /usr/bin/python3).</param>
/// <param name="ReferenceScript">bench/pytorch_reference.py; null: the copy next to the workbench assembly.</param>
/// <param name="Launcher">how to start another workbench (the shared-machine section); null: that section is skipped.</param>
public sealed record BenchmarkOptions(string Out, int Threads = 0, double SecondsPerMethod = 3.0, int MemorySteps = 20_000,
    IReadOnlyList<string>? Sections = null, int Rounds = 3, string? Python = null, string? ReferenceScript = null, int LoopSteps = 600,
    WorkbenchLauncher? Launcher = null);

/// <summary>A target of issue #14 and what this machine measured: Measured ≥ Target (or ≤ where <see cref="AtMost"/>).</summary>
public sealed record BenchmarkTarget(string Name, double Measured, double Target, bool AtMost = false)
{
    public bool Pass => AtMost ? Measured <= Target : Measured >= Target;
    public string Condition => string.Create(CultureInfo.InvariantCulture, $"{(AtMost ? "≤" : "≥")} {Target:0.##}");
}

/// <summary>
/// `make bench`: speed and memory of the samplers, measured (never asserted in tests). Writes one JSON file per
/// section into the output folder, prints a table per section and, at the end, every target with its measured value.
/// Timings exclude the first steps (warm-up of the allocator and the JIT).
/// </summary>
public static partial class Benchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The sections in the order they run; each writes &lt;name&gt;.json. sgld-single runs only when asked for:
    /// it is what shared-machine starts in its child processes.</summary>
    public static IReadOnlyList<string> SectionNames { get; } =
        ["methods", "sgld-vs-sgd", "pytorch", "flops", "loop", "batched-chains", "shared-machine", "memory", "convnets", "sgld-single"];

    private static readonly string[] OnlyWhenAsked = ["sgld-single"];

    /// <summary>The paper's MNIST MLP (mlp-mnist-lmc): the model of every MNIST step measured here.</summary>
    private static readonly int[] MnistMlpWidths = [784, 512, 512, 512, 10];
    private const int BatchSize = 128;

    public static void Run(BenchmarkOptions options, TextWriter log)
    {
        if (options.Sections?.FirstOrDefault(s => !SectionNames.Contains(s)) is { } unknown)
            throw new ArgumentException($"unknown benchmark section '{unknown}' (sections: {string.Join(", ", SectionNames)})");
        TorchThreads.Apply(options.Threads);
        Directory.CreateDirectory(options.Out);
        using var data = DataSource.Load(new DataOptions(DataOptions.EmbeddedMnistSubset, TaskKind.Classification));
        var machine = new JsonObject
        {
            ["torch_threads"] = get_num_threads(),
            ["processor_count"] = Environment.ProcessorCount,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["framework"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            ["utc"] = DateTimeOffset.UtcNow.ToString("o", Inv),
        };
        log.WriteLine($"Workbench benchmark — {get_num_threads()} torch threads, {Environment.ProcessorCount} cores, {machine["os"]}");

        var session = new Session(data, options, log);
        var sections = new (string Name, Func<JsonNode> Measure)[]
        {
            ("methods", () => MethodSpeeds(data, options, log)),
            ("sgld-vs-sgd", () => SgldOverSgd(data, options, log, session.Targets)),
            ("pytorch", session.PytorchComparison),
            ("flops", session.AchievedFlops),
            ("loop", session.LoopCost),
            ("batched-chains", () => BatchedVersusSequential(data, options, log, session.Targets)),
            ("shared-machine", session.SharedMachine),
            ("memory", () => Memory(data, options, log, session.Targets)),
            ("convnets", () => ConvnetSpeeds(options, log)),
            ("sgld-single", () => SgldSingle(data, options, log)),
        };
        foreach (var (name, measure) in sections)
            if (options.Sections?.Contains(name) ?? !OnlyWhenAsked.Contains(name)) Save(options.Out, name, machine, measure());
        if (session.Targets.Count > 0)
        {
            PrintTargets(session.Targets, log);
            Save(options.Out, "summary", machine, new JsonObject
            {
                ["targets"] = new JsonArray(session.Targets.Select(t => (JsonNode)new JsonObject
                {
                    ["name"] = t.Name, ["measured"] = t.Measured, ["condition"] = t.Condition, ["pass"] = t.Pass,
                }).ToArray()),
            });
        }
        log.WriteLine($"results: {options.Out}/*.json");
    }

    private static void PrintTargets(IReadOnlyList<BenchmarkTarget> targets, TextWriter log)
    {
        int width = Math.Max(6, targets.Max(t => t.Name.Length));
        log.WriteLine();
        log.WriteLine($"Targets (issue #14) — {targets.Count(t => t.Pass)} of {targets.Count} met");
        log.WriteLine($"  {"target".PadRight(width)} {"measured",9} {"wanted",8}  result");
        foreach (var t in targets)
            log.WriteLine(string.Create(Inv, $"  {t.Name.PadRight(width)} {t.Measured,9:F2} {t.Condition,8}  {(t.Pass ? "pass" : "FAIL")}"));
    }

    /// <summary>Steps per second of every registered method on the paper's MNIST MLP, batch 128, one chain.</summary>
    private static JsonNode MethodSpeeds(Dataset data, BenchmarkOptions options, TextWriter log)
    {
        var rows = new JsonArray();
        log.WriteLine();
        log.WriteLine("Steps per second, mlp-mnist-lmc (935,434 / 834,570 trainable), batch 128, 1 chain");
        log.WriteLine($"  {"method",-10} {"standard",12} {"w-asym",12}");
        foreach (var info in SamplerRegistry.All)
        {
            var speeds = new Dictionary<Variant, double>();
            foreach (var variant in new[] { Variant.Standard, Variant.WAsym })
            {
                using var network = ModelCatalog.Create(new ModelOptions("mlp-mnist-lmc", variant));
                var tempering = new Tempering(data.TrainCount, 128, 1.0, 1.0);
                var sampler = SamplerRegistry.Create(info.Name, new SamplerContext(tempering, 1_000), new Dictionary<string, double>());
                speeds[variant] = StepsPerSecond(network, sampler, data, chains: 1, options.SecondsPerMethod);
            }
            log.WriteLine(string.Create(Inv, $"  {info.Name,-10} {speeds[Variant.Standard],12:F1} {speeds[Variant.WAsym],12:F1}"));
            rows.Add(new JsonObject { ["method"] = info.Name, ["standard_steps_per_s"] = speeds[Variant.Standard], ["w_asym_steps_per_s"] = speeds[Variant.WAsym] });
        }
        return new JsonObject { ["model"] = "mlp-mnist-lmc", ["batch_size"] = 128, ["chains"] = 1, ["methods"] = rows };
    }

    /// <summary>SGLD step time over a plain SGD step (gradient + one in-place update) on the same model.</summary>
    private static JsonNode SgldOverSgd(Dataset data, BenchmarkOptions options, TextWriter log, List<BenchmarkTarget> targets)
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp-mnist-lmc"));
        var tempering = new Tempering(data.TrainCount, 128, 1.0, 1.0);
        // Interleaved rounds (SGLD then SGD), the median of the per-round ratios: a machine whose speed drifts between
        // two long measurements would otherwise decide the ratio.
        var (sgld, sgd, ratio) = InterleavedRatio(options,
            () => StepsPerSecond(network, new Sgld(tempering, 1e-3), data, 1, options.SecondsPerMethod),
            () => StepsPerSecond(network, new PlainSgd(tempering, 1e-3), data, 1, options.SecondsPerMethod),
            (sgldSpeed, sgdSpeed) => sgdSpeed / sgldSpeed); // time per SGLD step over time per SGD step
        log.WriteLine();
        log.WriteLine(string.Create(Inv, $"SGLD step time / SGD step time (mlp-mnist-lmc, batch 128): {ratio:F3}, median of {Math.Max(3, options.Rounds)} interleaved rounds  (SGLD {sgld:F1}, SGD {sgd:F1} steps/s, medians; target ≤ 1.15)"));
        targets.Add(new("SGLD step time / SGD step time", ratio, 1.15, AtMost: true));
        return new JsonObject { ["model"] = "mlp-mnist-lmc", ["sgld_steps_per_s"] = sgld, ["sgd_steps_per_s"] = sgd, ["sgld_over_sgd_time"] = ratio, ["target"] = 1.15 };
    }

    /// <summary>
    /// Chain-steps per second of 8 chains run as one batch over the same 8 chains run one after another, on a small MLP
    /// (784-32-32-10, LayerNorm + GELU as the paper's): where one chain leaves the cores idle, batching should pay.
    /// </summary>
    /// <summary>At least 3 rounds of (first, second) measured back to back; the medians of each and of the per-round ratio.</summary>
    private static (double First, double Second, double Ratio) InterleavedRatio(BenchmarkOptions options, Func<double> first, Func<double> second,
        Func<double, double, double> ratio)
    {
        var a = new List<double>(); var b = new List<double>(); var r = new List<double>();
        for (int round = 0; round < Math.Max(3, options.Rounds); round++)
        {
            double x = first(), y = second();
            a.Add(x); b.Add(y); r.Add(ratio(x, y));
        }
        return (Median(a), Median(b), Median(r));
    }

    private static JsonNode BatchedVersusSequential(Dataset data, BenchmarkOptions options, TextWriter log, List<BenchmarkTarget> targets)
    {
        const int chains = 8;
        using var network = ModelCatalog.Create(new ModelOptions("mlp", Widths: [32, 32], Activation: Activation.Gelu, LayerNorm: true));
        var tempering = new Tempering(data.TrainCount, BatchSize, 1.0, 1.0);
        // One after another: each chain alone has the speed of one chain, so 8 sequential chains make that many chain-steps
        // per second. Interleaved rounds, median of the per-round ratios.
        var (batched, sequential, ratio) = InterleavedRatio(options,
            () => chains * StepsPerSecond(network, new Sgld(tempering, 1e-3), data, chains, options.SecondsPerMethod),
            () => StepsPerSecond(network, new Sgld(tempering, 1e-3), data, 1, options.SecondsPerMethod),
            (b, q) => b / q);
        log.WriteLine();
        log.WriteLine(string.Create(Inv, $"{chains} batched / {chains} sequential chains, chain-steps per second (mlp 784-32-32-10, LayerNorm+GELU, SGLD, batch 128): {ratio:F2}, median of {Math.Max(3, options.Rounds)} interleaved rounds  ({batched:F0} vs {sequential:F0}, medians; target ≥ 4)"));
        targets.Add(new($"{chains} chains batched / sequential (mlp 32-32)", ratio, 4));
        return new JsonObject
        {
            ["model"] = "mlp 784-32-32-10, LayerNorm, GELU", ["chains"] = chains, ["batched_chain_steps_per_s"] = batched,
            ["sequential_chain_steps_per_s"] = sequential, ["ratio"] = ratio, ["target"] = 4,
        };
    }

    /// <summary>
    /// Steps per second of the convolutional models on CIFAR-shaped [3, 32, 32] inputs (random values from a fixed seed:
    /// the time of a step does not depend on them), batch 128: SGLD and ELRG with one chain, and SGLD with two chains
    /// batched (chain-steps per second).
    /// </summary>
    private static JsonNode ConvnetSpeeds(BenchmarkOptions options, TextWriter log)
    {
        using var generator = new Generator(0);
        using var x = randn([1024, 3, 32, 32], generator: generator);
        using var y = randint(10, [1024], generator: generator);
        var rows = new JsonArray();
        log.WriteLine();
        log.WriteLine("Steps per second on CIFAR-shaped [3,32,32] inputs, batch 128");
        log.WriteLine($"  {"model",-10} {"variant",-11} {"trainable",10} {"sgld",8} {"elrg",8} {"sgld ×2 chains",15}");
        foreach (var model in ModelCatalog.Names.Where(n => n is "cnn" or "resnet8" or "resnet20"))
        foreach (var variant in new[] { Variant.Standard, Variant.WAsym, Variant.SigmaAsym })
        {
            using var network = ModelCatalog.Create(new ModelOptions(model, variant, InputShape: [3, 32, 32]));
            // N = 50,000 (CIFAR-10's training set) and a step size small enough that the chain stays finite: a diverged chain
            // computes on inf/NaN, whose timing is not a real step's (Steps refuses one).
            var tempering = new Tempering(50_000, 128, 1.0, 1.0);
            const double stepSize = 1e-7;
            double sgld = StepsPerSecond(network, new Sgld(tempering, stepSize), x, y, chains: 1, options.SecondsPerMethod);
            var elrgSampler = SamplerRegistry.Create("elrg", new SamplerContext(tempering, 1_000), new Dictionary<string, double>());
            double elrg = StepsPerSecond(network, elrgSampler, x, y, chains: 1, options.SecondsPerMethod);
            double twoChains = 2 * StepsPerSecond(network, new Sgld(tempering, stepSize), x, y, chains: 2, options.SecondsPerMethod);
            log.WriteLine(string.Create(Inv, $"  {model,-10} {variant.ToName(),-11} {network.TrainableCount,10:N0} {sgld,8:F2} {elrg,8:F2} {twoChains,15:F2}"));
            rows.Add(new JsonObject
            {
                ["model"] = model, ["variant"] = variant.ToName(), ["trainable"] = network.TrainableCount,
                ["sgld_steps_per_s"] = sgld, ["elrg_steps_per_s"] = elrg, ["sgld_two_chains_chain_steps_per_s"] = twoChains,
            });
        }
        return new JsonObject { ["input_shape"] = new JsonArray(3, 32, 32), ["batch_size"] = 128, ["models"] = rows };
    }

    /// <summary>Resident memory after 1,000 and after N SGLD steps (a leak grows linearly with steps).</summary>
    private static JsonNode Memory(Dataset data, BenchmarkOptions options, TextWriter log, List<BenchmarkTarget> targets)
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp", Widths: [128, 128]));
        var tempering = new Tempering(data.TrainCount, 128, 1.0, 1.0);
        var sampler = new Sgld(tempering, 1e-3);
        long after1000 = 0, afterAll = 0;
        Steps(network, sampler, data, chains: 2, steps: options.MemorySteps, onStep: t =>
        {
            if (t == 1_000) after1000 = ResidentBytes();
            if (t == options.MemorySteps) afterAll = ResidentBytes();
        });
        double growth = (double)afterAll / after1000 - 1;
        log.WriteLine();
        log.WriteLine(string.Create(Inv, $"Resident memory, SGLD on mlp 784-128-128-10, 2 chains: {after1000 / 1048576.0:F0} MiB after 1,000 steps, {afterAll / 1048576.0:F0} MiB after {options.MemorySteps:N0} ({growth:P1}; target ≤ 10 %)"));
        targets.Add(new($"memory growth, 1,000 → {options.MemorySteps:N0} steps", growth, 0.10, AtMost: true));
        return new JsonObject { ["model"] = "mlp 784-128-128-10", ["chains"] = 2, ["rss_bytes_after_1000"] = after1000, ["steps"] = options.MemorySteps, ["rss_bytes_after_steps"] = afterAll, ["growth"] = growth, ["target"] = 0.10 };
    }

    /// <summary>SGLD steps per second on mlp-mnist-lmc with this process's threads: what shared-machine's child processes measure.</summary>
    private static JsonNode SgldSingle(Dataset data, BenchmarkOptions options, TextWriter log)
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp-mnist-lmc"));
        double sgld = StepsPerSecond(network, new Sgld(new Tempering(data.TrainCount, BatchSize, 1.0, 1.0), 1e-3), data, 1, options.SecondsPerMethod);
        log.WriteLine();
        log.WriteLine(string.Create(Inv, $"SGLD steps per second (mlp-mnist-lmc, batch 128, {get_num_threads()} torch threads): {sgld:F1}"));
        return new JsonObject { ["model"] = "mlp-mnist-lmc", ["torch_threads"] = get_num_threads(), ["sgld_steps_per_s"] = sgld };
    }

    private static double StepsPerSecond(INetwork network, ISampler sampler, Dataset data, int chains, double seconds) =>
        StepsPerSecond(network, sampler, data.TrainX, data.TrainY, chains, seconds);

    private static double StepsPerSecond(INetwork network, ISampler sampler, Tensor trainX, Tensor trainY, int chains, double seconds)
    {
        // Full-batch methods (HMC) take seconds per step on this model: one warm-up step and two timed ones.
        int warmup = sampler.FullBatch ? 1 : 5, minimum = sampler.FullBatch ? 2 : 3;
        var clock = new Stopwatch();
        int timed = 0;
        Steps(network, sampler, trainX, trainY, chains, steps: int.MaxValue, onStep: t =>
        {
            if (t == warmup) clock.Start();
            else if (t > warmup) timed++;
        }, stop: () => clock.Elapsed.TotalSeconds >= seconds && timed >= minimum);
        return timed / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Runs the sampler on minibatches (or the full set when it needs it); every step in a dispose scope.</summary>
    private static void Steps(INetwork network, ISampler sampler, Dataset data, int chains, int steps, Action<int> onStep, Func<bool>? stop = null) =>
        Steps(network, sampler, data.TrainX, data.TrainY, chains, steps, onStep, stop);

    private static void Steps(INetwork network, ISampler sampler, Tensor trainX, Tensor trainY, int chains, int steps, Action<int> onStep, Func<bool>? stop = null)
    {
        long count = trainX.shape[0];
        long[] sampleShape = trainX.shape[1..];
        var seeds = Enumerable.Range(0, chains).Select(k => ChainSeeds.For(0, k)).ToArray();
        var generators = seeds.Select(s => new Generator(s.Noise)).ToArray();
        int batch = sampler.FullBatch ? (int)count : 128;
        using var batches = new MinibatchStream(count, batch, seeds.Select(s => s.DataOrder).ToArray());
        var target = new MinibatchLogLikelihood(network, new CategoricalLikelihood());
        using var initial = stack(seeds.Select(s => { using var g = new Generator(s.Init); return network.InitialPosition(g); }).ToArray());
        using var state = sampler.Init(initial.clone());
        try
        {
            for (int t = 1; t <= steps && !(stop?.Invoke() ?? false); t++)
            {
                using var scope = NewDisposeScope();
                var flat = batches.Next().view(-1);
                target.SetBatch(trainX.index_select(0, flat).view([chains, batch, .. sampleShape]), trainY.index_select(0, flat).view(chains, batch));
                sampler.Step(state, target, generators);
                onStep(t);
            }
            using var finite = state.Position.isfinite().all();
            if (!finite.item<bool>())
                throw new InvalidOperationException($"benchmark of {sampler.GetType().Name} on {network.Name}: the chain diverged (non-finite θ), so its timing is not a real step's; lower its step size");
        }
        finally
        {
            foreach (var g in generators) g.Dispose();
        }
    }

    private static long ResidentBytes()
    {
        // /proc/self/statm: resident pages in the second field (Linux); elsewhere the working set.
        const string statm = "/proc/self/statm";
        if (File.Exists(statm))
            return long.Parse(File.ReadAllText(statm).Split(' ')[1], Inv) * Environment.SystemPageSize;
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    private static void Save(string folder, string name, JsonNode machine, JsonNode result)
    {
        var document = new JsonObject
        {
            ["benchmark"] = name,
            ["workbench_version"] = Provenance.WorkbenchVersion(),
            ["git_commit"] = Provenance.GitCommit(),
            ["machine"] = machine.DeepClone(),
            ["result"] = result,
        };
        File.WriteAllText(Path.Combine(folder, $"{name}.json"), document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Plain SGD on the same objective (θ ← θ + η∇ℓ̃_B): the reference for SGLD's overhead.</summary>
    private sealed class PlainSgd(Tempering tempering, double stepSize) : ISampler
    {
        public string Name => "sgd";
        public Tempering Tempering => tempering;
        public IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object> { ["step_size"] = stepSize };
        public SamplerState Init(Tensor position) => new(position);

        public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators)
        {
            var (value, gradient) = target.Evaluate(state.Position);
            using (no_grad())
                state.Position.mul_(HeldScalars.Of(1 - stepSize * tempering.WeightDecay)).add_(gradient, alpha: HeldScalars.Of(stepSize));
            int k = (int)state.Position.shape[0];
            var zeros = new double[k];
            value.Dispose(); gradient.Dispose();
            return new StepInfo(zeros, zeros, zeros, stepSize, new bool[k]);
        }
    }
}
