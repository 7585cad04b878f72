using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.ModeConnectivity;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Studies.Metanetworks;

/// <summary>What a zoo run did: where the zoo is, how many networks it holds and how many this run trained.</summary>
public sealed record ZooResult(string Folder, int Members, int Trained, double Seconds, IReadOnlyDictionary<string, (double Min, double Max)> TestAccuracy);

/// <summary>
/// A model zoo (issue #8; PAPER 2.3's data sets of trained networks): for each variant, networks 0 … N − 1, network i
/// trained by <see cref="NetworkTrainer"/> from <see cref="ChainSeeds"/> i of the zoo seed with the settings
/// <see cref="HyperparameterLaw.Draw"/> gives i (the same settings and seeds for member i of every variant), all
/// members sharing the model's one mask seed; then evaluated on the first eval-examples of each split. Each network's
/// row is written as its own closed part as soon as it is trained, so a killed run loses at most the network in
/// training, and <c>--resume</c> trains only the missing (variant, id) pairs: the finished table is the same as an
/// uninterrupted run's (bit for bit at the same thread count).
/// </summary>
public static class ModelZoo
{
    /// <summary>The manifest's study name.</summary>
    public const string Study = "zoo";

    public static ZooResult Execute(ZooOptions o, TextWriter log)
    {
        var clock = Stopwatch.StartNew();
        o.Validate();
        TorchThreads.Apply(o.Threads);
        using var data = DataSource.Load(new DataOptions(o.Data, TaskKind.Classification));
        if (o.Training.Augment && ImageAugmentation.Refusal(data) is { } refusal) throw new OptionException($"--augment {refusal}");
        var (trainX, trainY) = TrainingStudy.TrainingSet(o, data);
        if (o.Training.BatchSize > trainX.shape[0])
            throw new OptionException($"--batch-size {o.Training.BatchSize} exceeds the {trainX.shape[0]} training examples (see --train-examples)");
        var networks = new Dictionary<Variant, INetwork>();
        try
        {
            foreach (var variant in o.Variants)
            {
                try
                {
                    networks[variant] = ModelCatalog.Create(o.Model.ForData(data.SampleShape, data.NumClasses) with { Variant = variant });
                }
                catch (ArgumentException e)
                {
                    throw new OptionException($"--model {o.Model.Model}: {e.Message}");
                }
            }
            var config = ConfigNode(o);
            // Everything that can be wrong is refused before a folder is created or taken over.
            var (folder, manifest) = o.Resume ? Reopen(o, config) : Start(o, config, data, networks);
            try
            {
                var result = Train(o, data, networks, folder, manifest, log);
                manifest.Finish();
                return result with { Seconds = clock.Elapsed.TotalSeconds };
            }
            catch (Exception e) when (e is not SimulatedCrashException)
            {
                manifest.Fail(e);
                throw;
            }
        }
        finally
        {
            foreach (var network in networks.Values) network.Dispose();
        }
    }

    private static (RunFolder, Manifest) Start(ZooOptions o, JsonObject config, Dataset data, Dictionary<Variant, INetwork> networks)
    {
        var folder = RunFolder.Create(o.Out, o.Force);
        var manifest = Manifest.Start(folder.Path, Study, config, o.CommandLine, get_num_threads());
        manifest.Set("data", new JsonObject(data.Provenance.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))));
        // The mask hashes: every member of a variant shares these fixed tensors (one mask seed for the whole zoo).
        manifest.Set("variants", new JsonObject(networks.Select(p =>
        {
            var node = ModelDescription.Of(p.Value);
            node["layout"] = ZooTable.SegmentsJson(ZooSegment.Of(p.Value.Layout));
            return KeyValuePair.Create(p.Key.ToName(), (JsonNode?)node);
        })));
        manifest.Set("seeds", new JsonObject
        {
            ["zoo_seed"] = o.Seed, ["mask_seed"] = o.Model.MaskSeed,
            ["network_seeds"] = "network i: ChainSeeds.For(zoo_seed, i) (init_seed, data_order_seed in the table); the same for every variant",
            ["hyperparameters"] = "network i: HyperparameterLaw.Draw(zoo_seed, i), a SplitMix64 stream of (zoo_seed, i); the same for every variant",
        });
        return (folder, manifest);
    }

    /// <summary>Takes over an interrupted zoo at --out, after checking it was started with these settings.</summary>
    private static (RunFolder, Manifest) Reopen(ZooOptions o, JsonObject config)
    {
        Manifest before;
        try
        {
            before = Manifest.Load(o.Out);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new RunFolderException($"'{o.Out}' holds no zoo to resume ({e.Message.Split('\n')[0]}); start one without --resume.");
        }
        if (before.Study != Study) throw new RunFolderException($"'{o.Out}' holds a '{before.Study}' run, not a zoo; nothing to resume.");
        var recorded = before.Get("config") as JsonObject ?? new JsonObject();
        foreach (var (key, value) in config)
        {
            if (key is "threads") continue;
            if (!JsonNode.DeepEquals(recorded[key], value))
                throw new OptionException($"--resume: the zoo at '{o.Out}' was started with {key} = {recorded[key]?.ToJsonString() ?? "nothing"}, not {value?.ToJsonString()}; resume it with its own settings ('workbench resume {o.Out}')");
        }
        var folder = RunFolder.Reclaim(o.Out);
        var manifest = Manifest.Load(folder.Path);
        manifest.Reclaim(get_num_threads());
        return (folder, manifest);
    }

    private static ZooResult Train(ZooOptions o, Dataset data, Dictionary<Variant, INetwork> networks, RunFolder folder, Manifest manifest, TextWriter log)
    {
        string path = folder.TablePath(ZooTable.Name);
        var layouts = networks.ToDictionary(p => p.Key.ToName(), p => ZooSegment.Of(p.Value.Layout));
        var done = new HashSet<(string, int)>();
        int trained = 0;
        if (!File.Exists(path))
        {
            var (trainX, trainY) = TrainingStudy.TrainingSet(o, data);
            var splits = TrainingStudy.EvaluationSplits(o, data);
            if (Directory.Exists(path + ParquetTableWriter.PartsSuffix))
                foreach (var m in ZooTable.Members(ParquetTable.Read(path))) done.Add((m.Variant, m.Id));
            int total = o.Variants.Count * o.Networks, remaining = total - done.Count;
            if (done.Count > 0) log.WriteLine($"resuming: {done.Count} of {total} networks already in the zoo, {remaining} to train");
            var clock = Stopwatch.StartNew();
            // Every training step still to run (each network's drawn epochs × batches), for a progress line every ~10 s.
            long stepsPerEpoch = trainX.shape[0] / o.Training.BatchSize;
            long steps = o.Variants.Sum(v => Enumerable.Range(0, o.Networks).Where(id => !done.Contains((v.ToName(), id)))
                .Sum(id => (long)o.Law.Draw(o.Seed, id).Epochs)) * stepsPerEpoch;
            var progress = new ProgressTicker(log, "zoo training", steps);
            using var writer = new ParquetTableWriter(path, ZooTable.Columns, new ParquetTableWriterOptions
            {
                FlushEvery = 1, Metadata = ZooTable.Metadata(o.Model.Model, layouts), ResumeExistingParts = o.Resume,
            });
            foreach (var variant in o.Variants)
            {
                var network = networks[variant];
                log.WriteLine($"{variant.ToName()}: {o.Networks} networks of {network.Name} ({network.TrainableCount:N0} trainable parameters)");
                for (int id = 0; id < o.Networks; id++)
                {
                    if (done.Contains((variant.ToName(), id))) continue;
                    var start = clock.Elapsed;
                    var member = TrainOne(o, network, id, trainX, trainY, splits, progress);
                    writer.Append(ZooTable.Row(member));
                    trained++;
                    double seconds = (clock.Elapsed - start).TotalSeconds;
                    double eta = clock.Elapsed.TotalSeconds / trained * (remaining - trained);
                    log.WriteLine(FormattableString.Invariant(
                        $"  {variant.ToName()} {id + 1}/{o.Networks}: lr {member.LearningRate:0.###e+0}, wd {member.WeightDecay:0.###e+0}, ls {member.LabelSmoothing:F3}, {member.Epochs} epoch(s) → test accuracy {member.TestAccuracy:F4} ({seconds:F1} s); overall {done.Count + trained}/{total}, ETA {ProgressTicker.Duration(eta)}"));
                    if (o.CrashAfterNetworks == trained) throw new SimulatedCrashException(trained);
                }
            }
            manifest.SetTable(ZooTable.Name, writer.Complete());
        }
        else
        {
            // A run killed after the table was merged but before the manifest said so: only the bookkeeping is left.
            manifest.SetTable(ZooTable.Name, ParquetTable.ReadRowCount(path));
        }
        var members = ZooTable.Members(ParquetTable.Read(path));
        var accuracy = members.GroupBy(m => m.Variant).ToDictionary(g => g.Key, g => (g.Min(m => m.TestAccuracy), g.Max(m => m.TestAccuracy)));
        manifest.Set("summary", new JsonObject(accuracy.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)new JsonObject
        {
            ["networks"] = members.Count(m => m.Variant == p.Key), ["test_accuracy_min"] = p.Value.Item1, ["test_accuracy_max"] = p.Value.Item2,
            ["test_accuracy_mean"] = members.Where(m => m.Variant == p.Key).Average(m => m.TestAccuracy),
        }))));
        return new ZooResult(folder.Path, members.Count, trained, 0, accuracy);
    }

    /// <summary>Trains and evaluates network <paramref name="id"/> of a variant: its drawn settings, its seeds.</summary>
    public static ZooMember TrainOne(ZooOptions o, INetwork network, int id, Tensor trainX, Tensor trainY, IReadOnlyDictionary<string, (Tensor X, Tensor Y)> splits,
        ProgressTicker? progress = null)
    {
        using var scope = NewDisposeScope();
        var h = o.Law.Draw(o.Seed, id);
        var training = o.Training with { Epochs = h.Epochs, LearningRate = h.LearningRate, WeightDecay = h.WeightDecay, LabelSmoothing = h.LabelSmoothing };
        using var result = NetworkTrainer.Train(network, trainX, trainY, training, o.Seed, [id], progress: progress);
        var (trainLoss, trainError) = InterpolationPath.EvaluateMany(network, result.Theta, splits["train"].X, splits["train"].Y);
        var (testLoss, testError) = InterpolationPath.EvaluateMany(network, result.Theta, splits["test"].X, splits["test"].Y);
        var weights = result.Theta[0].to_type(ScalarType.Float32).cpu().data<float>().ToArray();
        var seeds = result.Seeds[0];
        return new ZooMember(id, network.Variant.ToName(), h.LearningRate, h.WeightDecay, h.LabelSmoothing, h.Epochs, seeds.Init, seeds.DataOrder,
            1 - trainError[0], trainLoss[0], 1 - testError[0], testLoss[0], weights);
    }

    /// <summary>The manifest's config: everything that decides the zoo's table (a resume must match all but threads).</summary>
    public static JsonObject ConfigNode(ZooOptions o)
    {
        var t = o.Training;
        return new JsonObject
        {
            ["preset"] = o.Preset,
            ["full_size"] = o.FullSize,
            ["model"] = o.Model.Model,
            ["widths"] = o.Model.Widths is { } w ? new JsonArray(w.Select(x => (JsonNode)x).ToArray()) : null,
            ["mask_seed"] = o.Model.MaskSeed,
            // Only when given, so that zoos started before --figlu-std existed resume (the default is unchanged).
            ["figlu_std"] = FiGluStdJson.Write(o.Model.FiGluStd),
            ["data"] = o.Data,
            ["variants"] = new JsonArray(o.Variants.Select(v => (JsonNode)v.ToName()).ToArray()),
            ["networks"] = o.Networks,
            ["law"] = o.Law.ToJson(),
            ["batch_size"] = t.BatchSize,
            ["augment"] = t.Augment,
            ["schedule"] = t.Schedule.ToString().ToLowerInvariant(),
            ["adam_betas"] = new JsonArray(t.Beta1, t.Beta2),
            ["adam_epsilon"] = t.Epsilon,
            ["seed"] = o.Seed,
            ["eval_examples"] = o.EvalExamples,
            ["train_examples"] = o.TrainExamples,
            ["threads"] = o.Threads,
        };
    }
}
