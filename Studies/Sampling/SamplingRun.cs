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
    IReadOnlyDictionary<string, long> Tables)
{
    /// <summary>Why and after how many iterations each chain group stopped (one group when batched, one per chain when
    /// sequential).</summary>
    public IReadOnlyList<GroupStop> Stops { get; init; } = [];
}

/// <summary>
/// One sampling run: K chains of one sampler on one model and data set, streaming draws, per-step statistics and
/// per-draw evaluations to Parquet in a run folder whose manifest says whether it finished.
/// </summary>
public static class SamplingRun
{
    public static RunResult Execute(SampleOptions o, TextWriter log)
    {
        o.Validate();
        // Everything that can be wrong with the request is checked before the run folder is touched.
        using var setup = RunSetup.Build(o);
        if (o.ChainMode == "auto")
        {
            bool batched = o.Chains == 1 || setup.Network.BatchesChainsWell(setup.Device);
            o = o with { ChainMode = batched ? "batched" : "sequential" };
            if (!batched) log.WriteLine($"chains run one after another: {setup.Network.Name} computes them faster one at a time on the {setup.Device.type.ToString().ToLowerInvariant()} than batched (--chain-mode batched to change)");
        }
        bool autoEvalEvery = o.EvalEvery == SampleOptions.EvalEveryAuto;
        if (autoEvalEvery)
        {
            o = o with { EvalEvery = AutoEvalEvery(o, setup) };
            if (o.EvalEvery > 1)
                log.WriteLine($"evaluating one draw in {o.EvalEvery} and the last (the default keeps evaluation within {SampleOptions.AutoEvaluationShare:P0} of the sampling's arithmetic; --eval-every 1 evaluates every draw)");
        }
        var folder = RunFolder.Create(o.Out, o.Force);
        var manifest = Manifest.Start(folder.Path, o.Study, commandLine: o.CommandLine, torchThreads: get_num_threads());

        var config = (JsonObject)ConfigNode(o, setup.ModelOptions, setup.Device);
        config["eval_every_auto"] = autoEvalEvery;
        manifest.Set("config", config);
        manifest.Set("seeds", new JsonObject
        {
            ["run_seed"] = o.Seed,
            ["mask_seed"] = setup.ModelOptions.MaskSeed,
            ["chains"] = new JsonArray(setup.Seeds.Select(s =>
            {
                var chain = new JsonObject { ["chain"] = s.Chain, ["init"] = s.Init, ["noise"] = s.Noise, ["data_order"] = s.DataOrder };
                // --augment: the seed of the chain's augmentation generator, derived from its data-order seed.
                if (o.Augment) chain["augment"] = ImageAugmentation.SeedFor(s.DataOrder);
                return (JsonNode)chain;
            }).ToArray()),
        });
        manifest.Set("tempering", JsonSerializerNode(setup.Sampler.Tempering.ToManifest()));
        manifest.Set("sampler", new JsonObject
        {
            ["name"] = setup.Sampler.Name, ["kind"] = setup.Sampler.Kind.ToString(), ["full_batch"] = setup.Sampler.FullBatch,
            ["noise_generator"] = setup.Sampler.NoiseGenerator,
            ["hyperparameters"] = JsonSerializerNode(setup.Sampler.Hyperparameters),
        });
        manifest.Set("model", ModelNode(setup.Network, setup.Likelihood, o));
        manifest.Set("data", DataNode(setup.Data));
        return RunChains(o, log, setup, folder, manifest, resume: null);
    }

    /// <summary>The default --eval-every (<see cref="SampleOptions.AutoEvalEvery"/>) for this run's splits, minibatch and sampler.</summary>
    private static int AutoEvalEvery(SampleOptions o, RunSetup setup)
    {
        long batch = setup.Sampler.FullBatch ? setup.Data.TrainCount : o.BatchSize;
        return SampleOptions.AutoEvalEvery(ChainLoop.RowsEvaluatedPerDraw(setup.Data, o.EvalTrain), batch, o.Thin,
            fitted: setup.Sampler.Kind == SamplerKind.Fitted);
    }

    /// <summary>
    /// `workbench resume`: continues an interrupted run (<see cref="RunCondition.Interrupted"/>) from its last
    /// checkpoint — the options from the manifest's <c>config</c>, data, network and sampler rebuilt as the run built
    /// them, the tables cut back to what the checkpoint recorded — and finishes it as an uninterrupted run would.
    /// Without a checkpoint it starts again from the first iteration. <paramref name="threads"/> overrides the run's.
    /// </summary>
    public static RunResult Resume(string runFolder, int? threads, TextWriter log)
    {
        if (threads is { } requested) ThreadChoice.For(requested, CpuBudget.Current);
        var folder = RunFolder.Reclaim(runFolder);
        var manifest = Manifest.Load(folder.Path);
        var o = ReadOptions(manifest, folder.Path, threads);
        if (threads is null && o.Threads > CpuBudget.Current.Cpus)
        {
            // The run's own count came from another machine (or a larger allocation): here it would oversubscribe.
            log.WriteLine($"the run used {o.Threads} threads; this process may use {CpuBudget.Current.Cpus} ({CpuBudget.Current.Source}), so it continues with {CpuBudget.Current.Cpus}");
            o = o with { Threads = 0 };
        }
        // The run passed the resource check (or was let through with --yes-i-know) when it started.
        o = o with { YesIKnow = true };
        o.Validate();
        using var setup = RunSetup.Build(o);
        if (manifest.Get("data") is JsonObject recorded && !SameData(recorded, DataNode(setup.Data)))
            throw new OptionException($"the data of '{runFolder}' is not what the run read (its manifest's data section differs); it cannot be resumed");
        manifest.Reclaim(get_num_threads());

        var checkpoint = folder.File(ChainLoop.CheckpointFileName);
        bool completedTable = new[] { "draws", "stats", "eval" }.Any(t => File.Exists(folder.TablePath(t)));
        StateReader? resume = null;
        try
        {
            // Completed tables with a checkpoint from before the end of sampling cannot be continued (their parts are gone).
            if (File.Exists(checkpoint) && CheckpointFile.Read(checkpoint) is var read && (!completedTable || ChainLoop.SamplingDone(read, o)))
                resume = read;
        }
        catch (InvalidDataException e)
        {
            // Written atomically, so a damaged checkpoint is damage from outside: say so, and start over rather than guess.
            log.WriteLine($"warning: {e.Message}; the checkpoint is not used");
        }
        if (resume is null)
        {
            folder.ClearOutputs();
            manifest.Set("checkpoint", null);
            log.WriteLine($"resuming {folder.Path}: no usable checkpoint, starting again from iteration 1");
        }
        else if (ChainLoop.SamplingDone(resume, o))
        {
            // Sampling was over: what follows it (calibration, figures, diagnostics) is made again from the tables.
            foreach (var derived in new[] { Metrics.CalibrationTable.FileName, Diagnostics.Diagnose.TableName })
                if (File.Exists(folder.File(derived))) File.Delete(folder.File(derived));
            log.WriteLine($"resuming {folder.Path}: sampling was done; completing its tables, figures and diagnostics");
        }
        else
            log.WriteLine($"resuming {folder.Path} from its checkpoint ({manifest.Get("checkpoint")?.ToJsonString()})");
        return RunChains(o, log, setup, folder, manifest, resume);
    }

    /// <summary>The run loop and everything after it, shared by a new run and a resumed one.</summary>
    private static RunResult RunChains(SampleOptions o, TextWriter log, RunSetup setup, RunFolder folder, Manifest manifest, StateReader? resume)
    {
        try
        {
            manifest.SetTable("splits", SplitsTable.Write(folder.Path, setup.Data));
            if (o.TrainsOnEveryRow) log.WriteLine("--test-fraction 0: every row trains and there is no test split; draws are evaluated on the training rows only");
            using var chains = new ChainLoop(o, log, setup.Data, setup.Network, setup.Sampler, setup.Seeds, setup.Tracked, setup.Likelihood,
                folder, setup.Device, setup.Dtype, resume, p => manifest.Set("checkpoint", new JsonObject
                {
                    ["file"] = ChainLoop.CheckpointFileName,
                    ["groups_done"] = p.GroupsDone,
                    ["iteration"] = p.Iteration,
                    ["wall_time_s"] = p.WallSeconds,
                    ["written_utc"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
                }));
            var result = chains.Run();
            SimulateCrash(o, "tables");
            foreach (var (table, rows) in result.Tables) manifest.SetTable(table, rows);
            if (chains.FinalTestBma() is { } final)
                manifest.SetTable("calibration", WriteCalibration(folder, o, final.LogMean, final.Chains, final.Labels));
            DrawTrace(folder, o, chains.TrackedNames);
            SimulateCrash(o, "figures");
            manifest.Set("timing", new JsonObject
            {
                ["seconds"] = result.Seconds, ["steps_per_second"] = result.StepsPerSecond,
                ["draws_per_second"] = result.Tables["draws"] / result.Seconds,
            });
            manifest.Set("stop", StopNode(result.Stops, o));
            manifest.Set("divergences", new JsonArray(result.Diverged.Select(d => (JsonNode)new JsonObject
            {
                ["chain"] = d.Chain, ["iteration"] = d.Iteration,
            }).ToArray()));
            // Every run folder gets its convergence table and figures; they are part of a finished run.
            Diagnostics.Diagnose.Execute(new Diagnostics.DiagnoseOptions(folder.Path, RunFinishing: true), o.PrintDiagnostics ? log : TextWriter.Null);
            SimulateCrash(o, "diagnostics");
            // `finished` is the last thing written: every file above is complete (each written to a temporary name and
            // renamed), so a run killed before this line is resumed, never mistaken for a finished one.
            manifest.Finish(result.Diverged.Count == 0 ? RunStatus.Finished : RunStatus.FinishedWithDivergences);
            SimulateCrash(o, "finished");
            // The checkpoint served its purpose; a finished run is its tables.
            File.Delete(folder.File(ChainLoop.CheckpointFileName));
            return result with { Folder = folder.Path };
        }
        catch (Exception e) when (e is not SimulatedCrashException)
        {
            var failure = DiskSpace.Explain(e, folder.Path);
            manifest.Fail(failure);
            if (ReferenceEquals(failure, e)) throw;
            throw failure;
        }
    }

    /// <summary>The fault-injection variable: set to a phase name (tables, figures, diagnostics, finished), the process
    /// kills itself with SIGKILL right after that phase — a real kill -9, no cleanup, used by the tests.</summary>
    internal const string KillAfterPhaseVariable = "WORKBENCH_KILL_AFTER_PHASE";

    private static void SimulateCrash(SampleOptions o, string phase)
    {
        if (o.CrashAfterPhase == phase) throw new SimulatedCrashException(-1);
        if (Environment.GetEnvironmentVariable(KillAfterPhaseVariable) == phase)
        {
            Console.Out.Flush();
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
    }

    /// <summary>
    /// What a run is built from — data, network, sampler, seeds, tracked entries, likelihood — made the same way for a
    /// new run and a resumed one (so a resumed run continues the very computation it checkpointed).
    /// </summary>
    private sealed class RunSetup : IDisposable
    {
        public required Dataset Data { get; init; }
        public required ModelOptions ModelOptions { get; init; }
        public required INetwork Network { get; init; }
        public required ISampler Sampler { get; init; }
        public required ChainSeeds[] Seeds { get; init; }
        public required long[] Tracked { get; init; }
        public required Likelihood Likelihood { get; init; }
        public required Device Device { get; init; }
        public required ScalarType Dtype { get; init; }

        public static RunSetup Build(SampleOptions o)
        {
            var device = ResolveDevice(o.Device);
            TorchThreads.Apply(o.Threads);

            var data = DataSource.Load(o.DataOptions);
            INetwork? network = null;
            try
            {
                var modelOptions = ModelOptionsFor(o, data);
                network = ModelCatalog.Create(modelOptions);
                var dtype = DtypeOf(o);
                network.To(device, dtype);

                var hyperparameters = new Dictionary<string, double>(o.SamplerParameters);
                if (o.StepSize is { } lr) hyperparameters.TryAdd("step_size", lr);
                ISampler Build(int batch)
                {
                    var context = new SamplerContext(new Tempering(data.TrainX.shape[0], batch, o.Temperature, o.PriorStd) { PriorPrecision = o.PriorPrecision }, o.Steps);
                    return o.SamplerFactory?.Invoke(context, hyperparameters) ?? SamplerRegistry.Create(o.Sampler, context, hyperparameters);
                }
                if (o.Augment && ImageAugmentation.Refusal(data) is { } refusal) throw new OptionException($"--augment {refusal}");
                var sampler = Build(o.BatchSize);
                // Full-batch methods (HMC) use every example each step: the manifest's batch is N and --batch-size is unused.
                if (sampler.FullBatch && o.BatchSizeGiven)
                    throw new OptionException($"--batch-size does not apply to {sampler.Name}, which uses all {data.TrainX.shape[0]} training examples every step; drop --batch-size");
                if (sampler.FullBatch) sampler = Build((int)data.TrainX.shape[0]);
                else if (o.BatchSize > data.TrainX.shape[0])
                    throw new OptionException($"--batch-size {o.BatchSize} exceeds the {data.TrainX.shape[0]} training examples of {data.Name}");
                // An accept/reject step compares energies of one fixed target; a target redrawn at random every step has none.
                if (o.Augment && sampler.FullBatch)
                    throw new OptionException($"--augment applies to minibatch methods; {sampler.Name} uses the whole training set unaugmented every step (drop --augment)");
                if (!o.IsRegression && o.Track > network.TrainableCount)
                    throw new OptionException($"--track {o.Track:N0} exceeds the {network.TrainableCount:N0} trainable parameters of {network.Name}; give at most that many");
                var tracked = TrackedIndices(network, o);
                if (!o.YesIKnow)
                {
                    long features = data.SampleShape.Aggregate(1L, (a, b) => a * b);
                    var estimate = ResourceEstimate.Of(o, network, sampler, data.TrainX.shape[0], features, tracked.Length);
                    if (estimate.Refusal(o, ResourceEstimate.AvailableBytes()) is { } tooLarge) throw new OptionException(tooLarge);
                }
                return new RunSetup
                {
                    Data = data, ModelOptions = modelOptions, Network = network, Sampler = sampler,
                    Seeds = Enumerable.Range(0, o.Chains).Select(k => ChainSeeds.For(o.Seed, k)).ToArray(),
                    Tracked = tracked,
                    Likelihood = o.IsRegression ? new GaussianLikelihood(o.NoiseStd) : new CategoricalLikelihood(),
                    Device = device, Dtype = dtype,
                };
            }
            catch
            {
                network?.Dispose();
                data.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Network.Dispose();
            Data.Dispose();
        }
    }

    /// <summary>The run's model options completed by the data's input size and classes.</summary>
    private static ModelOptions ModelOptionsFor(SampleOptions o, Dataset data)
    {
        return o.Model.ForData(data.SampleShape, o.IsRegression ? 1 : data.NumClasses);
    }

    private static ScalarType DtypeOf(SampleOptions o) => o.Dtype == "float64" ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>
    /// A run folder's options, data and network, rebuilt from its manifest as the run built them (same mask seed, so
    /// the same fixed W-Asym/σ-Asym tensors), the network on <paramref name="device"/> in the run's dtype. For readers
    /// of a finished run that need to evaluate its draws (`workbench barriers`); the caller disposes both.
    /// </summary>
    internal static (SampleOptions Options, Dataset Data, INetwork Network) Rebuild(string runFolder, Device device)
    {
        var o = ReadOptions(Manifest.Load(runFolder), runFolder, threads: null);
        var data = DataSource.Load(o.DataOptions);
        try
        {
            var network = ModelCatalog.Create(ModelOptionsFor(o, data));
            network.To(device, DtypeOf(o));
            return (o, data, network);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>The same data (hashes, split, shapes), wherever it was read from: "name" is the path as given.</summary>
    private static bool SameData(JsonObject recorded, JsonNode current)
    {
        var a = (JsonObject)recorded.DeepClone();
        var b = (JsonObject)current.DeepClone();
        a.Remove("name");
        b.Remove("name");
        return JsonNode.DeepEquals(a, b);
    }

    private static JsonNode DataNode(Dataset data) => JsonSerializerNode(data.Provenance.ToDictionary(kv => kv.Key, kv => (object)kv.Value));

    /// <summary><see cref="OptionsFromManifest"/>, with a field of the wrong type or value (a hand-edited or damaged
    /// manifest) reported in one line that names the folder, before anything in the folder changes.</summary>
    private static SampleOptions ReadOptions(Manifest manifest, string folder, int? threads)
    {
        try
        {
            return OptionsFromManifest(manifest, folder, threads);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or OverflowException)
        {
            throw new RunFolderException($"'{folder}': its manifest's config cannot be read ({e.Message}); it cannot be resumed.");
        }
    }

    /// <summary>
    /// The options a run was started with, from its manifest's <c>config</c> (what <see cref="ConfigNode"/> wrote):
    /// the run folder is <paramref name="folder"/>, the device the one the run resolved, the threads the run's unless
    /// <paramref name="threads"/> is given.
    /// </summary>
    internal static SampleOptions OptionsFromManifest(Manifest manifest, string folder, int? threads)
    {
        var c = manifest.Get("config") as JsonObject
            ?? throw new RunFolderException($"'{folder}': its manifest has no config section; it is not a sampling run and cannot be resumed.");
        T Value<T>(string key) => c[key] is { } node ? node.GetValue<T>()
            : throw new RunFolderException($"'{folder}': its manifest's config has no '{key}' (written by an older Workbench?); it cannot be resumed.");
        T? Maybe<T>(string key) where T : struct => c[key] is { } node ? node.GetValue<T>() : null;
        var model = new ModelOptions(
            Value<string>("model"),
            VariantNames.Parse(Value<string>("variant")),
            Widths: c["widths"] is JsonArray w ? w.Select(x => x!.GetValue<int>()).ToArray() : null,
            Depth: Maybe<int>("depth"),
            Activation: c["activation"] is { } a ? Enum.Parse<Architectures.Layers.Activation>(a.GetValue<string>(), ignoreCase: true) : null,
            LayerNorm: Maybe<bool>("layer_norm"),
            NFix: Maybe<int>("n_fix"),
            Kappa: Maybe<double>("kappa"),
            FiGluStd: FiGluStdJson.Read(c["figlu_std"]),
            WidthMultiplier: Maybe<int>("width_multiplier"),
            MaskSeed: Maybe<ulong>("mask_seed") ?? manifest.Get("seeds")?["mask_seed"]?.GetValue<ulong>() ?? 0);
        return new SampleOptions
        {
            Model = model,
            Data = c["data_resolved"]?.GetValue<string>() ?? Value<string>("data"),
            Target = c["target"]?.GetValue<string>(),
            TestFraction = Value<double>("test_fraction"),
            TestData = c["test_data_resolved"]?.GetValue<string>(),
            ValFraction = Maybe<double>("val_fraction") ?? 0,
            SplitSeed = Value<int>("split_seed"),
            Sampler = Value<string>("sampler"),
            SamplerParameters = c["sampler_parameters"] is JsonObject p ? p.ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>()) : new Dictionary<string, double>(),
            Draws = Value<int>("draws"),
            ChainMode = Value<string>("chain_mode"),
            Dtype = Value<string>("dtype"),
            StepSize = Maybe<double>("lr"),
            Chains = Value<int>("chains"),
            Steps = Value<int>("steps"),
            Warmup = Value<int>("warmup"),
            Thin = Value<int>("thin"),
            BatchSize = Value<int>("batch_size"),
            // Runs from before --augment were not augmented.
            Augment = Maybe<bool>("augment") ?? false,
            Temperature = Value<double>("temperature"),
            PriorStd = Value<double>("prior_std"),
            PriorPrecision = Maybe<double>("prior_precision"),
            NoiseStd = Maybe<double>("noise_std") ?? 1.0,
            Seed = Value<ulong>("seed"),
            Track = Value<int>("track"),
            SavePositions = Maybe<int>("save_positions") ?? 0,
            EvalTrain = Value<bool>("eval_train"),
            EvalEvery = Value<int>("eval_every"),
            // Runs from before the divergence rule's factor counted only non-finite values.
            DivergenceFactor = Maybe<double>("divergence_factor") ?? 0,
            Device = Value<string>("device"),
            Threads = threads ?? Value<int>("threads"),
            CheckpointEvery = Maybe<int>("checkpoint_every"),
            MaxEpochs = Maybe<double>("max_epochs"),
            MaxGradEvals = Maybe<long>("max_grad_evals"),
            MaxWallSeconds = Maybe<double>("max_wall_seconds"),
            // A run from before progress evaluations has no progress table to continue.
            ProgressEvery = c.ContainsKey("progress_every") ? Maybe<int>("progress_every") : 0,
            ProgressDraws = Maybe<int>("progress_draws") ?? 8,
            Out = folder,
            Study = manifest.Study ?? "sample",
            CommandLine = manifest.Get("command_line") is JsonArray line ? line.Select(x => x!.GetValue<string>()).ToArray() : null,
        };
    }

    /// <summary>
    /// calibration.parquet (per chain and pooled) and reliability.png/svg of the final test BMA pooled over chains:
    /// p̄ = (1/K) Σ_k p̄_k, every chain having the same number of evaluated draws.
    /// </summary>
    private static long WriteCalibration(RunFolder folder, SampleOptions o, Tensor logMean, int[] chainIds, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var perChain = Metrics.Calibration.ComputePerChain(logMean, labels);
        var pooledLog = logMean.logsumexp(0, keepdim: false).sub(HeldScalars.Of(Math.Log(chainIds.Length)));
        var pooled = Metrics.Calibration.Compute(pooledLog, labels);
        long rows = Metrics.CalibrationTable.Write(folder.File(Metrics.CalibrationTable.FileName),
            [(Metrics.CalibrationTable.Pooled, pooled), .. chainIds.Select((c, i) => (c, perChain[i]))]);
        // One panel is narrow: a short title, the run named in the panel.
        new ReliabilityFigure("Reliability, final BMA (test)")
            .Add($"{o.Study}, {chainIds.Length} chain(s) pooled", pooled)
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
        ["activation"] = model.Activation?.ToString().ToLowerInvariant(),
        ["layer_norm"] = model.LayerNorm,
        ["figlu_std"] = FiGluStdJson.Write(model.FiGluStd),
        ["width_multiplier"] = model.WidthMultiplier,
        ["mask_seed"] = model.MaskSeed,
        ["data"] = o.Data,
        // Where the data was read from, so `workbench resume` finds it from any working folder.
        ["data_resolved"] = File.Exists(o.Data) || Directory.Exists(o.Data) ? Path.GetFullPath(o.Data) : o.Data,
        ["target"] = o.Target,
        ["sampler"] = o.Sampler,
        ["lr"] = o.StepSize,
        ["chains"] = o.Chains,
        ["steps"] = o.Steps,
        ["warmup"] = o.Warmup,
        ["thin"] = o.Thin,
        ["batch_size"] = o.BatchSize,
        ["augment"] = o.Augment,
        ["temperature"] = o.Temperature,
        ["prior_std"] = o.PriorStd,
        ["prior_precision"] = o.PriorPrecision,
        ["noise_std"] = o.IsRegression ? o.NoiseStd : null,
        ["seed"] = o.Seed,
        ["track"] = o.Track,
        ["save_positions"] = o.SavePositions,
        ["eval_train"] = o.EvalTrain,
        ["eval_every"] = o.EvalEvery,
        ["divergence_factor"] = o.DivergenceFactor,
        ["draws"] = o.Draws,
        ["chain_mode"] = o.ChainMode,
        ["dtype"] = o.Dtype,
        ["function_points"] = o.FunctionPoints,
        ["canonical"] = o.Canonical,
        ["sampler_parameters"] = JsonSerializerNode(o.SamplerParameters),
        ["split_seed"] = o.SplitSeed,
        ["test_fraction"] = o.TestFraction,
        ["test_data"] = o.TestData,
        ["test_data_resolved"] = o.TestData is null ? null : Path.GetFullPath(o.TestData),
        ["val_fraction"] = o.ValFraction,
        ["device"] = device.type.ToString().ToLowerInvariant(),
        ["threads"] = get_num_threads(),
        ["checkpoint_every"] = o.CheckpointInterval,
        ["max_epochs"] = o.MaxEpochs,
        ["max_grad_evals"] = o.MaxGradEvals,
        ["max_wall_seconds"] = o.MaxWallSeconds,
        ["progress_every"] = o.ProgressEvery,
        ["progress_draws"] = o.ProgressDraws,
    };

    /// <summary>
    /// The manifest's <c>stop</c>: <c>reason</c> (steps, epochs, grad_evals, wall_time, or diverged when every chain of
    /// a group diverged; "mixed" when sequential groups stopped for different reasons) and <c>iterations</c>, the
    /// iterations the group ran — a number for batched chains, one per chain (group) for sequential ones, with
    /// <c>reasons</c> then per group too.
    /// </summary>
    private static JsonNode StopNode(IReadOnlyList<GroupStop> stops, SampleOptions o)
    {
        var reasons = stops.Select(s => s.Reason).Distinct().ToArray();
        var node = new JsonObject { ["reason"] = reasons.Length == 1 ? reasons[0] : "mixed" };
        if (o.ChainMode == "sequential")
        {
            node["iterations"] = new JsonArray(stops.Select(s => (JsonNode)s.Iterations).ToArray());
            node["reasons"] = new JsonArray(stops.Select(s => (JsonNode)s.Reason).ToArray());
        }
        else node["iterations"] = stops.Count == 1 ? stops[0].Iterations : null;
        return node;
    }

    private static JsonNode ModelNode(INetwork network, Likelihood likelihood, SampleOptions o)
    {
        var node = ModelDescription.Of(network);
        node["likelihood"] = likelihood.Name;
        return node;
    }

    private static JsonNode JsonSerializerNode<T>(IReadOnlyDictionary<string, T> values) =>
        System.Text.Json.JsonSerializer.SerializeToNode(values.ToDictionary(kv => kv.Key, kv => (object?)kv.Value))!;
}
