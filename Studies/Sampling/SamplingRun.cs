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

/// <summary>A chain that diverged (non-finite loss, gradient or parameters) and was stopped at that iteration.</summary>
public sealed record Divergence(int Chain, long Iteration);

/// <summary>What a finished run left behind. Final metrics are per chain (NaN for a chain that diverged).</summary>
public sealed record RunResult(string Folder, string Status, double Seconds, double StepsPerSecond,
    IReadOnlyList<double> FinalTestBmaAccuracy, IReadOnlyList<double> FinalTestBmaNll, IReadOnlyList<Divergence> Diverged,
    IReadOnlyDictionary<string, long> Tables);

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
        int inputs = (int)data.SampleShape.Aggregate(1L, (a, b) => a * b);
        var modelOptions = o.Model with { Inputs = inputs, Outputs = o.IsRegression ? 1 : data.NumClasses };
        using var network = ModelCatalog.Create(modelOptions);
        var dtype = o.Dtype == "float64" ? ScalarType.Float64 : ScalarType.Float32;
        network.To(device, dtype);

        // Everything that can be wrong with the request is checked before the run folder is touched.
        var hyperparameters = new Dictionary<string, double>(o.SamplerParameters);
        if (o.StepSize is { } lr) hyperparameters.TryAdd("step_size", lr);
        ISampler Build(int batch)
        {
            var context = new SamplerContext(new Tempering(data.TrainX.shape[0], batch, o.Temperature, o.PriorStd), o.Steps);
            return o.SamplerFactory?.Invoke(context, hyperparameters) ?? SamplerRegistry.Create(o.Sampler, context, hyperparameters);
        }
        var sampler = Build(o.BatchSize);
        // Full-batch methods (HMC) use every example each step: the manifest's batch is N and --batch-size is unused.
        if (sampler.FullBatch) sampler = Build((int)data.TrainX.shape[0]);
        else if (o.BatchSize > data.TrainX.shape[0])
            throw new OptionException($"--batch-size {o.BatchSize} exceeds the {data.TrainX.shape[0]} training examples of {data.Name}");
        var tempering = sampler.Tempering;
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
        manifest.Set("sampler", new JsonObject
        {
            ["name"] = sampler.Name, ["kind"] = sampler.Kind.ToString(), ["full_batch"] = sampler.FullBatch,
            ["hyperparameters"] = JsonSerializerNode(sampler.Hyperparameters),
        });
        manifest.Set("model", ModelNode(network, likelihood, o));
        manifest.Set("data", JsonSerializerNode(data.Provenance.ToDictionary(kv => kv.Key, kv => (object)kv.Value)));

        try
        {
            using var chains = new ChainLoop(o, log, data, network, sampler, seeds, tracked, likelihood, folder, device, dtype);
            var result = chains.Run();
            foreach (var (table, rows) in result.Tables) manifest.SetTable(table, rows);
            if (chains.FinalTestBma() is { } final)
                manifest.SetTable("calibration", WriteCalibration(folder, o, final.LogMean, final.Chains, final.Labels));
            DrawTrace(folder, o, chains.TrackedNames);
            manifest.Set("timing", new JsonObject
            {
                ["seconds"] = result.Seconds, ["steps_per_second"] = result.StepsPerSecond,
                ["draws_per_second"] = result.Tables["draws"] / result.Seconds,
            });
            manifest.Set("divergences", new JsonArray(result.Diverged.Select(d => (JsonNode)new JsonObject
            {
                ["chain"] = d.Chain, ["iteration"] = d.Iteration,
            }).ToArray()));
            manifest.Finish(result.Diverged.Count == 0 ? RunStatus.Finished : RunStatus.FinishedWithDivergences);
            // Every run folder gets its convergence table (derived data: `workbench diagnose` rebuilds it).
            try
            {
                Diagnostics.Diagnose.Execute(new Diagnostics.DiagnoseOptions(folder.Path), log);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                log.WriteLine($"warning: the run finished, but its diagnostics table could not be written ({e.Message}); run 'workbench diagnose {folder.Path}'");
            }
            return result with { Folder = folder.Path };
        }
        catch (Exception e)
        {
            manifest.Fail(e);
            throw;
        }
    }

    /// <summary>
    /// calibration.parquet (per chain and pooled) and reliability.png/svg of the final test BMA pooled over chains:
    /// p̄ = (1/K) Σ_k p̄_k, every chain having the same number of evaluated draws.
    /// </summary>
    private static long WriteCalibration(RunFolder folder, SampleOptions o, Tensor logMean, int[] chainIds, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var perChain = Metrics.Calibration.ComputePerChain(logMean, labels);
        var pooledLog = logMean.logsumexp(0, keepdim: false).sub(Math.Log(chainIds.Length));
        var pooled = Metrics.Calibration.Compute(pooledLog, labels);
        long rows = Metrics.CalibrationTable.Write(folder.File(Metrics.CalibrationTable.FileName),
            [(Metrics.CalibrationTable.Pooled, pooled), .. chainIds.Select((c, i) => (c, perChain[i]))]);
        new ReliabilityFigure($"Reliability of the final BMA on the test split — {o.Study}")
            .Add($"{chainIds.Length} chain(s) pooled", pooled)
            .Save(folder.File("reliability"));
        return rows;
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
                if (rows.Length == 0) continue; // a chain that diverged before its first draw
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
        ["draws"] = o.Draws,
        ["chain_mode"] = o.ChainMode,
        ["dtype"] = o.Dtype,
        ["function_points"] = o.FunctionPoints,
        ["canonical"] = o.Canonical,
        ["sampler_parameters"] = JsonSerializerNode(o.SamplerParameters),
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
