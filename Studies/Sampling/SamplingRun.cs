using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchSharp;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Figures;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Studies.Sampling;

/// <summary>What a finished (or failed) run left behind.</summary>
public sealed record RunResult(string Folder, string Status, double Seconds, double StepsPerSecond, IReadOnlyList<double> FinalTestBmaAccuracy, IReadOnlyList<double> FinalTestBmaNll);

/// <summary>
/// One sampling run: K chains of one sampler on one model and data set, streaming draws, per-step statistics and
/// per-draw evaluations to Parquet in a run folder whose manifest says whether it finished.
/// </summary>
public static class SamplingRun
{
    public static RunResult Execute(SampleOptions o, TextWriter log)
    {
        o.Validate();
        var device = ResolveDevice(o.Device);
        if (o.Threads > 0) set_num_threads(o.Threads);

        using var data = DataSource.Load(new DataOptions(o.Data, o.Task, o.Target, o.TestFraction, SplitSeed: o.SplitSeed));
        if (o.BatchSize > data.TrainX.shape[0])
            throw new OptionException($"--batch-size {o.BatchSize} exceeds the {data.TrainX.shape[0]} training examples of {data.Name}");
        int inputs = (int)data.SampleShape.Aggregate(1L, (a, b) => a * b);
        var modelOptions = o.Model with { Inputs = inputs, Outputs = o.IsRegression ? 1 : data.NumClasses };
        using var network = ModelCatalog.Create(modelOptions);
        network.To(device, ScalarType.Float32);

        // Everything that can be wrong with the request is checked before the run folder is touched.
        var tempering = new Tempering(data.TrainX.shape[0], o.BatchSize, o.Temperature, o.PriorStd);
        var sampler = SamplerRegistry.Create(o.Sampler, new SamplerContext(tempering, o.Steps), new Dictionary<string, double> { ["step_size"] = o.StepSize });
        var seeds = Enumerable.Range(0, o.Chains).Select(k => ChainSeeds.For(o.Seed, k)).ToArray();
        long[] tracked = TrackedIndices(network, o);
        Likelihood likelihood = o.IsRegression ? new GaussianLikelihood(o.NoiseStd) : new CategoricalLikelihood();
        var folder = RunFolder.Create(o.Out, o.Force);
        var manifest = Manifest.Start(folder.Path, o.Study, commandLine: o.CommandLine, torchThreads: get_num_threads());

        manifest.Set("config", ConfigNode(o, modelOptions, device));
        manifest.Set("seeds", new JsonObject
        {
            ["run_seed"] = o.Seed,
            ["mask_seed"] = modelOptions.MaskSeed,
            ["chains"] = new JsonArray(seeds.Select(s => (JsonNode)new JsonObject
            {
                ["chain"] = s.Chain, ["init"] = s.Init, ["noise"] = s.Noise, ["data_order"] = s.DataOrder,
            }).ToArray()),
        });
        manifest.Set("tempering", JsonSerializerNode(tempering.ToManifest()));
        manifest.Set("sampler", new JsonObject { ["name"] = sampler.Name, ["hyperparameters"] = JsonSerializerNode(sampler.Hyperparameters) });
        manifest.Set("model", ModelNode(network, likelihood, o));
        manifest.Set("data", JsonSerializerNode(data.Provenance.ToDictionary(kv => kv.Key, kv => (object)kv.Value)));

        var clock = Stopwatch.StartNew();
        try
        {
            var result = Loop(o, log, data, network, sampler, seeds, tracked, likelihood, folder, manifest, device, clock);
            manifest.Finish();
            return result;
        }
        catch (Exception e)
        {
            manifest.Fail(e);
            throw;
        }
    }

    private static RunResult Loop(SampleOptions o, TextWriter log, Dataset data, INetwork network, ISampler sampler,
        ChainSeeds[] seeds, long[] tracked, Likelihood likelihood, RunFolder folder, Manifest manifest, Device device, Stopwatch clock)
    {
        long n = data.TrainX.shape[0];
        var trainX = data.TrainX.to(device);
        var trainY = data.TrainY.to(device);
        var testX = data.TestX.to(device);
        var testY = data.TestY.to(device);
        var noise = seeds.Select(s => new Generator(s.Noise, device)).ToArray();
        var evaluators = new List<(string Split, PredictiveEvaluator Evaluator)>();
        try
        {
            using var batches = new MinibatchStream(n, o.BatchSize, seeds.Select(s => s.DataOrder).ToArray());
            var target = new MinibatchLogLikelihood(network, likelihood);
            evaluators.Add(("test", new PredictiveEvaluator(network, testX, testY, !o.IsRegression, o.NoiseStd)));
            if (o.EvalTrain) evaluators.Add(("train", new PredictiveEvaluator(network, trainX, trainY, !o.IsRegression, o.NoiseStd)));

            // Parquet reads '.' in a column name as a nested path, so fc1.weight[3,17] is stored as fc1_weight[3,17].
            var trackedNames = tracked.Select(i => network.Layout.EntryName(i).Replace('.', '_')).ToArray();
            using var draws = new ParquetTableWriter(Path.Combine(folder.Path, "draws.parquet"),
                [TableColumn.Int("chain"), TableColumn.Int("draw"), TableColumn.Long("iteration"),
                 .. trackedNames.Select(name => TableColumn.Double(name))]);
            using var stats = new ParquetTableWriter(Path.Combine(folder.Path, "stats.parquet"),
                [TableColumn.Int("chain"), TableColumn.Long("iteration"), TableColumn.Double("epoch"), TableColumn.Double("loss"),
                 TableColumn.Double("lp"), TableColumn.Double("step_size"), TableColumn.Double("grad_norm"),
                 TableColumn.Int("diverging"), TableColumn.Double("wall_time_s")]);
            string[] metricNames = o.IsRegression ? ["nll", "rmse", "bma_nll", "bma_rmse"] : ["nll", "accuracy", "bma_nll", "bma_accuracy"];
            using var eval = new ParquetTableWriter(Path.Combine(folder.Path, "eval.parquet"),
                [TableColumn.Int("chain"), TableColumn.Int("draw"), TableColumn.Long("iteration"), TableColumn.Double("epoch"),
                 TableColumn.String("split"), .. metricNames.Select(m => TableColumn.Double(m))]);

            using var trackedIndex = tensor(tracked, device: device);
            using var state = sampler.Init(InitialPositions(network, seeds, device));
            int draw = 0, totalDraws = (o.Steps - o.Warmup) / o.Thin;
            var lastTest = new DrawMetrics[o.Chains];
            int reportEvery = Math.Max(1, o.Steps / 10);
            double lastLoss = double.NaN;

            for (int iteration = 1; iteration <= o.Steps; iteration++)
            {
                using var scope = NewDisposeScope();
                var index = batches.Next().to(device);
                var flat = index.view(-1);
                var x = trainX.index_select(0, flat).view([o.Chains, o.BatchSize, .. data.SampleShape]);
                var y = trainY.index_select(0, flat).view(o.Chains, o.BatchSize);
                target.SetBatch(x, y);
                var info = sampler.Step(state, target, noise);
                double epoch = (double)iteration * o.BatchSize / n, wall = clock.Elapsed.TotalSeconds;
                for (int k = 0; k < o.Chains; k++)
                    stats.Append(k, (long)iteration, epoch, -info.LogLikelihood[k], info.Lp[k], info.StepSize, info.GradNorm[k], info.Diverging[k] ? 1 : 0, wall);
                lastLoss = -info.LogLikelihood.Average();
                if (info.Diverging.All(d => d))
                    throw new InvalidOperationException($"every chain diverged at iteration {iteration} (non-finite loss or gradient): lower --lr");

                if (iteration > o.Warmup && (iteration - o.Warmup) % o.Thin == 0)
                {
                    var values = state.Position.index_select(1, trackedIndex).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
                    for (int k = 0; k < o.Chains; k++)
                    {
                        var row = new object[3 + tracked.Length];
                        row[0] = k; row[1] = draw; row[2] = (long)iteration;
                        for (int j = 0; j < tracked.Length; j++) row[3 + j] = values[k * tracked.Length + j];
                        draws.Append(row);
                    }
                    bool evaluate = draw % o.EvalEvery == 0 || draw == totalDraws - 1;
                    foreach (var (split, evaluator) in evaluate ? evaluators : [])
                    {
                        var metrics = evaluator.Add(state.Position);
                        for (int k = 0; k < o.Chains; k++)
                        {
                            var m = metrics[k];
                            double[] v = o.IsRegression ? [m.Nll, m.Rmse, m.BmaNll, m.BmaRmse] : [m.Nll, m.Accuracy, m.BmaNll, m.BmaAccuracy];
                            eval.Append(k, draw, (long)iteration, epoch, split, v[0], v[1], v[2], v[3]);
                        }
                        if (split == "test") lastTest = metrics;
                    }
                    draw++;
                }

                if (iteration % reportEvery == 0 || iteration == o.Steps)
                {
                    double elapsed = clock.Elapsed.TotalSeconds, eta = elapsed / iteration * (o.Steps - iteration);
                    string quality = draw == 0 ? "warm-up"
                        : o.IsRegression ? $"test BMA rmse {lastTest.Average(m => m.BmaRmse):F4}"
                        : $"test BMA acc {lastTest.Average(m => m.BmaAccuracy):P1}";
                    log.WriteLine($"  [{o.Study}] step {iteration,6}/{o.Steps}  loss {lastLoss:F4}  {quality}  draws {draw}/{totalDraws}  {elapsed:F1}s elapsed, ETA {eta:F0}s");
                }
            }

            double seconds = clock.Elapsed.TotalSeconds;
            manifest.SetTable("draws", draws.Complete());
            manifest.SetTable("stats", stats.Complete());
            manifest.SetTable("eval", eval.Complete());

            DrawTrace(folder, o, trackedNames);
            manifest.Set("timing", new JsonObject { ["seconds"] = seconds, ["steps_per_second"] = o.Steps / seconds });
            return new RunResult(folder.Path, "finished", seconds, o.Steps / seconds,
                lastTest.Select(m => o.IsRegression ? m.BmaRmse : m.BmaAccuracy).ToArray(), lastTest.Select(m => m.BmaNll).ToArray());
        }
        finally
        {
            foreach (var (_, e) in evaluators) e.Dispose();
            foreach (var g in noise) g.Dispose();
        }
    }

    /// <summary>θ₀ [K, P]: chain k starts from the network's initialisation drawn with its own init seed.</summary>
    private static Tensor InitialPositions(INetwork network, ChainSeeds[] seeds, Device device)
    {
        using var scope = NewDisposeScope();
        var rows = seeds.Select(s =>
        {
            using var g = new Generator(s.Init);
            return network.InitialPosition(g);
        }).ToArray();
        return stack(rows).to(device).MoveToOuterDisposeScope();
    }

    /// <summary>Trace plots of up to 6 tracked parameters, one line per chain, read back from draws.parquet.</summary>
    private static void DrawTrace(RunFolder folder, SampleOptions o, string[] trackedNames)
    {
        if (trackedNames.Length == 0) return;
        var table = ParquetTable.Read(Path.Combine(folder.Path, "draws.parquet"));
        var chain = table.Column<int>("chain");
        var iteration = table.Column<long>("iteration");
        var figure = new TraceFigure($"Trace of tracked parameters — {o.Study}");
        foreach (var name in trackedNames.Take(6))
        {
            var values = table.Column<double>(name);
            for (int k = 0; k < o.Chains; k++)
            {
                var rows = Enumerable.Range(0, chain.Length).Where(r => chain[r] == k).ToArray();
                figure.Add(name, $"chain {k}", rows.Select(r => (double)iteration[r]).ToArray(), rows.Select(r => values[r]).ToArray());
            }
        }
        figure.Save(Path.Combine(folder.Path, "trace"));
    }

    /// <summary>
    /// Tracked parameters: all of linreg; for networks --track entries spread over the weight matrices of every
    /// layer in turn, at positions spread by the golden-ratio sequence (so not all in one row or input column).
    /// </summary>
    private static long[] TrackedIndices(INetwork network, SampleOptions o)
    {
        long p = network.TrainableCount;
        if (o.IsRegression || o.Track >= p) return Enumerable.Range(0, (int)Math.Min(p, int.MaxValue)).Select(i => (long)i).ToArray();
        var weights = network.Layout.Segments.Where(s => s.Name.EndsWith(".weight") && s.Shape.Length == 2 && s.Count > 0).ToList();
        if (weights.Count == 0) weights = network.Layout.Segments.Where(s => s.Count > 0).ToList();
        var picked = new List<long>();
        for (int j = 0; j < weights.Count; j++)
        {
            int share = o.Track / weights.Count + (j < o.Track % weights.Count ? 1 : 0);
            var s = weights[j];
            for (int i = 0; i < share; i++)
            {
                double u = (i + j + 1) * 0.6180339887498949 % 1.0;
                picked.Add(s.Offset + Math.Min(s.Count - 1, (long)(u * s.Count)));
            }
        }
        return picked.Distinct().Order().ToArray();
    }

    public static Device ResolveDevice(string name) => name switch
    {
        "cpu" => CPU,
        "cuda" => cuda.is_available() ? CUDA : throw new OptionException("--device cuda: no CUDA device is available (this build or machine is CPU-only; build with -p:TorchBackend=cuda on a GPU machine)"),
        "auto" => cuda.is_available() ? CUDA : CPU,
        _ => throw new OptionException($"--device must be auto, cpu or cuda, got '{name}'"),
    };

    private static JsonNode ConfigNode(SampleOptions o, ModelOptions model, Device device) => new JsonObject
    {
        ["model"] = model.Model,
        ["variant"] = model.Variant.ToName(),
        ["widths"] = model.Widths is null ? null : new JsonArray(model.Widths.Select(w => (JsonNode)w).ToArray()),
        ["depth"] = model.Depth,
        ["n_fix"] = model.NFix,
        ["kappa"] = model.Kappa,
        ["data"] = o.Data,
        ["target"] = o.Target,
        ["sampler"] = o.Sampler,
        ["lr"] = o.StepSize,
        ["chains"] = o.Chains,
        ["steps"] = o.Steps,
        ["warmup"] = o.Warmup,
        ["thin"] = o.Thin,
        ["batch_size"] = o.BatchSize,
        ["temperature"] = o.Temperature,
        ["prior_std"] = o.PriorStd,
        ["noise_std"] = o.IsRegression ? o.NoiseStd : null,
        ["seed"] = o.Seed,
        ["track"] = o.Track,
        ["eval_train"] = o.EvalTrain,
        ["eval_every"] = o.EvalEvery,
        ["split_seed"] = o.SplitSeed,
        ["test_fraction"] = o.TestFraction,
        ["device"] = device.type.ToString().ToLowerInvariant(),
        ["threads"] = get_num_threads(),
    };

    private static JsonNode ModelNode(INetwork network, Likelihood likelihood, SampleOptions o)
    {
        var node = new JsonObject
        {
            ["name"] = network.Name,
            ["variant"] = network.Variant.ToName(),
            ["likelihood"] = likelihood.Name,
            ["trainable_parameters"] = network.TrainableCount,
            ["fixed_parameters"] = network.FixedCount,
            ["fixed_tensors"] = new JsonArray(network.FixedTensors.Select(f => (JsonNode)new JsonObject
            {
                ["layer"] = f.Layer, ["kind"] = f.Kind, ["shape"] = new JsonArray(f.Shape.Select(s => (JsonNode)s).ToArray()),
                ["fixed_entries"] = f.FixedEntries, ["sha256"] = f.Sha256, ["settings"] = JsonSerializerNode(f.Settings.ToDictionary(kv => kv.Key, kv => (object)kv.Value)),
            }).ToArray()),
        };
        if (network is Mlp mlp)
            node["hidden"] = new JsonArray(mlp.Spec.Hidden.Select(h => (JsonNode)h).ToArray());
        return node;
    }

    private static JsonNode JsonSerializerNode<T>(IReadOnlyDictionary<string, T> values) =>
        System.Text.Json.JsonSerializer.SerializeToNode(values.ToDictionary(kv => kv.Key, kv => (object?)kv.Value))!;
}
