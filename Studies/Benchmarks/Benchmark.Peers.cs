using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchSharp;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using Workbench.Studies.ScaleOut;
using static TorchSharp.torch;

namespace Workbench.Studies.Benchmarks;

/// <summary>
/// The sections that measure Workbench against something else (issue #14): the PyTorch reference, the machine's sgemm
/// peak, `workbench sample`'s whole loop, and a second workbench process on the same machine.
/// </summary>
public static partial class Benchmark
{
    /// <summary>Where the build puts bench/pytorch_reference.py: next to the workbench assembly.</summary>
    public static string DefaultReferenceScript => Path.Combine(AppContext.BaseDirectory, "bench", "pytorch_reference.py");

    /// <summary>What the sections of one `workbench bench` share: the targets, the PyTorch reference (looked for once)
    /// and the SGLD speeds the pytorch section measured (the flops section reuses them).</summary>
    private sealed class Session(Dataset data, BenchmarkOptions options, TextWriter log)
    {
        public List<BenchmarkTarget> Targets { get; } = new();
        private (PytorchReference? Found, string Line)? _reference;
        private double? _sgldWorkbench, _sgldReference;
        private const int Warmup = 5;

        private PytorchReference? Reference
        {
            get
            {
                if (_reference is null)
                {
                    _reference = PytorchReference.Discover(PytorchReference.Candidates(options.Python), options.ReferenceScript ?? DefaultReferenceScript);
                    log.WriteLine(_reference.Value.Line);
                }
                return _reference.Value.Found;
            }
        }

        /// <summary>
        /// SGLD, pSGLD and SGHMC on mlp-mnist-lmc, standard and W-Asym: per cell, rounds of one reference run (a child
        /// process) then one Workbench run of the same step, so that both see the same load; medians over rounds.
        /// </summary>
        public JsonNode PytorchComparison()
        {
            log.WriteLine();
            var reference = Reference;
            int threads = get_num_threads();
            log.WriteLine($"Workbench vs PyTorch, steps/s, median of {options.Rounds} interleaved rounds (mlp-mnist-lmc, batch 128, 1 chain; " +
                $"Workbench {threads} torch threads, PyTorch 1 torch thread + OpenBLAS {threads})");
            log.WriteLine($"  {"method",-7} {"variant",-9} {"workbench",10} {"pytorch",10} {"ratio",7}  target ≥ 1.5");
            var cells = new JsonArray();
            foreach (string method in new[] { "sgld", "psgld", "sghmc" })
            {
                var medians = new Dictionary<Variant, double>();
                foreach (var variant in new[] { Variant.Standard, Variant.WAsym })
                {
                    using var network = ModelCatalog.Create(new ModelOptions("mlp-mnist-lmc", variant));
                    var context = new SamplerContext(new Tempering(data.TrainCount, BatchSize, 1.0, 1.0), 1_000);
                    ISampler Sampler() => SamplerRegistry.Create(method, context, new Dictionary<string, double>());
                    double stepSize = Convert.ToDouble(Sampler().Hyperparameters["step_size"], Inv);
                    var ours = new List<double>();
                    var theirs = new List<ReferenceMeasurement>();
                    for (int round = 0; round < options.Rounds; round++)
                    {
                        if (reference is not null)
                            theirs.Add(reference.Measure(method, variant.ToName(), options.SecondsPerMethod, Warmup, data.TrainCount, stepSize, threads));
                        ours.Add(StepsPerSecond(network, Sampler(), data, 1, options.SecondsPerMethod));
                    }
                    double our = Median(ours);
                    double? their = theirs.Count > 0 ? Median(theirs.Select(t => t.StepsPerSecond).ToList()) : null;
                    medians[variant] = our;
                    if (method == "sgld" && variant == Variant.Standard) (_sgldWorkbench, _sgldReference) = (our, their);
                    string ratioText = their is { } t ? string.Create(Inv, $"{our / t,7:F2}  {(our / t >= 1.5 ? "pass" : "FAIL")}") : $"{"–",7}";
                    log.WriteLine(string.Create(Inv, $"  {method,-7} {variant.ToName(),-9} {our,10:F1} {(their is { } v ? v.ToString("F1", Inv) : "–"),10} {ratioText}"));
                    if (their is { } theirMedian) Targets.Add(new($"{method} {variant.ToName()}: Workbench / PyTorch", our / theirMedian, 1.5));
                    var cell = new JsonObject
                    {
                        ["method"] = method, ["variant"] = variant.ToName(), ["step_size"] = stepSize,
                        ["workbench_steps_per_s"] = new JsonArray(ours.Select(x => (JsonNode)x).ToArray()), ["workbench_median"] = our,
                        ["pytorch_steps_per_s"] = new JsonArray(theirs.Select(x => (JsonNode)x.StepsPerSecond).ToArray()),
                        ["pytorch_median"] = their, ["ratio_of_medians"] = their is { } d ? our / d : null, ["target"] = 1.5,
                    };
                    if (theirs.Count > 0)
                    {
                        cell["pytorch_trainable"] = theirs[0].Trainable;
                        cell["pytorch_threads"] = new JsonObject { ["torch"] = theirs[0].TorchThreads, ["openblas"] = theirs[0].BlasThreads };
                    }
                    cells.Add(cell);
                }
                double wasymOverStandard = medians[Variant.WAsym] / medians[Variant.Standard];
                log.WriteLine(string.Create(Inv, $"  {method,-7} W-Asym / standard (Workbench): {wasymOverStandard:F2}  (target ≥ 1: {(wasymOverStandard >= 1 ? "pass" : "FAIL")})"));
                Targets.Add(new($"{method} W-Asym / standard (Workbench)", wasymOverStandard, 1.0));
            }
            return new JsonObject
            {
                ["model"] = "mlp-mnist-lmc", ["batch_size"] = BatchSize, ["chains"] = 1, ["rounds"] = options.Rounds,
                ["seconds_per_measurement"] = options.SecondsPerMethod, ["workbench_torch_threads"] = threads,
                ["pytorch"] = reference is null ? null : new JsonObject { ["interpreter"] = reference.Interpreter, ["torch"] = reference.TorchVersion, ["script"] = reference.Script },
                ["pytorch_skipped"] = reference is null ? _reference!.Value.Line : null,
                ["cells"] = cells,
            };
        }

        /// <summary>
        /// FLOP/s of the standard SGLD step (matrix products counted analytically, <see cref="StepFlops"/>) of Workbench and
        /// of the reference, each over the machine's sgemm peak at the same thread count.
        /// </summary>
        public JsonNode AchievedFlops()
        {
            int threads = get_num_threads();
            const int n = 2048;
            double peak = SgemmPeak(n);
            double flops = StepFlops.Mlp(BatchSize, MnistMlpWidths);
            double ours = _sgldWorkbench ?? MeasureSgld();
            double? theirs = _sgldReference ?? Reference?.Measure("sgld", "standard", options.SecondsPerMethod, Warmup, data.TrainCount, 1e-3, threads).StepsPerSecond;
            log.WriteLine();
            log.WriteLine(string.Create(Inv, $"Achieved FLOP/s of the SGLD step (mlp-mnist-lmc, batch 128: {flops / 1e9:F3} GFLOP in matrix products per step) over the sgemm peak " +
                $"({n}×{n} float32 torch.mm, best of 5, {threads} threads): {peak / 1e9:F1} GFLOP/s"));
            log.WriteLine(string.Create(Inv, $"  Workbench {ours,7:F1} steps/s = {ours * flops / 1e9,6:F1} GFLOP/s = {ours * flops / peak,6:P1} of peak"));
            if (theirs is { } t)
                log.WriteLine(string.Create(Inv, $"  PyTorch   {t,7:F1} steps/s = {t * flops / 1e9,6:F1} GFLOP/s = {t * flops / peak,6:P1} of peak"));
            else
                log.WriteLine("  PyTorch   not measured (no reference: see its line above)");
            return new JsonObject
            {
                ["model"] = "mlp-mnist-lmc", ["batch_size"] = BatchSize, ["step_flops"] = flops, ["sgemm_n"] = n, ["sgemm_peak_flop_per_s"] = peak,
                ["torch_threads"] = threads,
                ["workbench_sgld_steps_per_s"] = ours, ["workbench_flop_per_s"] = ours * flops, ["workbench_fraction_of_peak"] = ours * flops / peak,
                ["pytorch_sgld_steps_per_s"] = theirs, ["pytorch_flop_per_s"] = theirs * flops, ["pytorch_fraction_of_peak"] = theirs * flops / peak,
            };
        }

        /// <summary>
        /// `workbench sample`'s own loop (SamplingRun.Execute: minibatches, statistics, draws, evaluations, checkpoints,
        /// Parquet) with SGLD on mlp-mnist-lmc, 1 chain, the default thinning and evaluation cadence (test split only, every
        /// n-th draw: <see cref="SampleOptions.AutoEvalEvery"/>) and the default
        /// share of warm-up (a quarter), over the bare step's speed measured just before and just after it.
        /// RunResult.StepsPerSecond is steps over the loop's wall time, from opening its tables (data already loaded, model
        /// built) to the last evaluation of the last draw; the first steps' warm-up is inside it, as in every real run.
        /// </summary>
        public JsonNode LoopCost()
        {
            double before = MeasureSgld();
            RunResult Loop(bool canonical)
            {
                string folder = Path.Combine(Path.GetTempPath(), $"workbench-bench-loop-{Environment.ProcessId}-{Guid.NewGuid():N}");
                try
                {
                    return SamplingRun.Execute(new SampleOptions
                    {
                        Model = new ModelOptions("mlp-mnist-lmc"), Sampler = "sgld", Chains = 1, Steps = options.LoopSteps,
                        Warmup = options.LoopSteps / 4, Threads = options.Threads, Out = folder, PrintDiagnostics = false, Canonical = canonical,
                    }, TextWriter.Null);
                }
                finally
                {
                    if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
                }
            }
            var result = Loop(canonical: true);
            // The same run without the canonical view (weight matching of every draw of a standard network): how much of
            // the loop's cost is that view.
            var withoutCanonical = Loop(canonical: false);
            double after = MeasureSgld();
            double bare = (before + after) / 2, ratio = result.StepsPerSecond / bare, ratioWithout = withoutCanonical.StepsPerSecond / bare;
            log.WriteLine();
            log.WriteLine(string.Create(Inv, $"workbench sample's loop over the bare SGLD step (mlp-mnist-lmc, 1 chain, {options.LoopSteps} steps, " +
                $"{result.Tables["draws"]} draws, {result.Tables["eval"]} of them evaluated at the default cadence): {ratio:F2}  ({result.StepsPerSecond:F1} vs {bare:F1} steps/s; target ≥ 0.90); " +
                $"without the canonical view (weight matching of each draw): {ratioWithout:F2} ({withoutCanonical.StepsPerSecond:F1} steps/s)"));
            Targets.Add(new("sample loop / bare SGLD step", ratio, 0.90));
            return new JsonObject
            {
                ["model"] = "mlp-mnist-lmc", ["sampler"] = "sgld", ["chains"] = 1, ["steps"] = options.LoopSteps, ["warmup"] = options.LoopSteps / 4,
                ["tables"] = new JsonObject(result.Tables.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)t.Value))),
                ["run_seconds"] = result.Seconds, ["run_steps_per_s"] = result.StepsPerSecond,
                ["bare_steps_per_s_before"] = before, ["bare_steps_per_s_after"] = after, ["ratio"] = ratio, ["target"] = 0.90,
                ["without_canonical_steps_per_s"] = withoutCanonical.StepsPerSecond, ["ratio_without_canonical"] = ratioWithout,
            };
        }

        /// <summary>
        /// Two workbench processes sampling at once with their default threads, against one alone: on a machine shared
        /// with another job, the two together should still do about the work of one (each child runs the sgld-single section).
        /// </summary>
        public JsonNode SharedMachine()
        {
            log.WriteLine();
            if (options.Launcher is not { } launcher)
            {
                log.WriteLine("Two processes at once: skipped (no way to start another workbench from this process)");
                return new JsonObject { ["skipped"] = "no launcher" };
            }
            double seconds = 2 * options.SecondsPerMethod; // longer than one measurement: the children start at slightly different times
            double alone = SgldInChildren(launcher, 1, seconds)[0];
            var together = SgldInChildren(launcher, 2, seconds);
            double ratio = together.Sum() / alone;
            log.WriteLine(string.Create(Inv, $"Two processes at once, SGLD steps/s with default threads (mlp-mnist-lmc): alone {alone:F1}; " +
                $"together {together[0]:F1} + {together[1]:F1}; sum / alone {ratio:F2}  (target ≥ 0.90)"));
            Targets.Add(new("two processes at once: sum / alone", ratio, 0.90));
            return new JsonObject
            {
                ["model"] = "mlp-mnist-lmc", ["seconds"] = seconds, ["alone_steps_per_s"] = alone,
                ["together_steps_per_s"] = new JsonArray(together.Select(x => (JsonNode)x).ToArray()), ["ratio"] = ratio, ["target"] = 0.90,
            };
        }

        /// <summary>Starts <paramref name="count"/> `workbench bench --only sgld-single` at once and returns each one's steps/s.</summary>
        private double[] SgldInChildren(WorkbenchLauncher launcher, int count, double seconds)
        {
            var folders = Enumerable.Range(0, count)
                .Select(i => Path.Combine(Path.GetTempPath(), $"workbench-bench-child-{Environment.ProcessId}-{Guid.NewGuid():N}")).ToArray();
            var children = new List<ChildProcess>();
            try
            {
                foreach (string folder in folders)
                    children.Add(ChildProcess.TryStart(launcher.Executable,
                        [.. launcher.Arguments, "bench", "--only", "sgld-single", "--out", folder, "--seconds", seconds.ToString("R", Inv)])
                        ?? throw new InvalidOperationException($"cannot start another workbench ({launcher.Executable})"));
                var speeds = new double[count];
                for (int i = 0; i < count; i++)
                {
                    var (code, _, error) = children[i].Wait(TimeSpan.FromSeconds(seconds + 300));
                    if (code != 0) throw new InvalidOperationException($"a child workbench failed (exit {code}): {ChildProcess.LastLine(error)} — command: {children[i].CommandLine}");
                    var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folders[i], "sgld-single.json")))!;
                    speeds[i] = (double)json["result"]!["sgld_steps_per_s"]!;
                }
                return speeds;
            }
            finally
            {
                foreach (var child in children) child.Dispose();
                foreach (string folder in folders.Where(Directory.Exists)) Directory.Delete(folder, recursive: true);
            }
        }

        private double MeasureSgld()
        {
            using var network = ModelCatalog.Create(new ModelOptions("mlp-mnist-lmc"));
            return StepsPerSecond(network, new Sgld(new Tempering(data.TrainCount, BatchSize, 1.0, 1.0), 1e-3), data, 1, options.SecondsPerMethod);
        }
    }

    /// <summary>The best FLOP/s of a few [n, n] float32 products with this process's torch threads.</summary>
    private static double SgemmPeak(int n, int repetitions = 5)
    {
        using var generator = new Generator(0);
        using var a = randn([n, n], generator: generator);
        using var b = randn([n, n], generator: generator);
        using (a.mm(b)) { } // warm-up: the BLAS's buffers and threads
        double best = double.PositiveInfinity;
        for (int i = 0; i < repetitions; i++)
        {
            var clock = Stopwatch.StartNew();
            using (a.mm(b)) { }
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return StepFlops.SquareMatmul(n) / best;
    }

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }
}
