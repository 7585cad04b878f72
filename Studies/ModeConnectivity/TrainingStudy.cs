using System.Globalization;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Architectures.Masks;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>An arm of a training study: the networks of one variant and, for σ-Asym, one FiGLU sd (null: the model's).
/// <paramref name="Name"/> keys the manifest's "variants" and the tables; <paramref name="Label"/> is what reports show.</summary>
public sealed record TrainingArm(string Name, Variant Variant, FiGluScale? FiGluStd = null)
{
    public string Label => Variant switch
    {
        Variant.Standard => "standard",
        Variant.WAsym => "W-Asym",
        _ => FiGluStd is { } f ? $"σ-Asym (sd {FiGluLabel(f)})" : "σ-Asym",
    };

    /// <summary>"1", "0.0625", "1/√d", "0.5/√d".</summary>
    public static string FiGluLabel(FiGluScale f) => f.OverSqrtWidth
        ? (f.Factor == 1 ? "1/√d" : f.Factor.ToString("R", CultureInfo.InvariantCulture) + "/√d")
        : f.Factor.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// The pieces the training studies (lmc, merge, mli) share: loading the data into a run folder with a manifest, the
/// training and evaluation splits, training one variant's networks with progress lines, and the manifest's config and
/// per-variant nodes.
/// </summary>
public static class TrainingStudy
{
    /// <summary>Validates <paramref name="o"/>, loads the data, creates the run folder and manifest, and calls
    /// <paramref name="run"/>; the manifest is finished, or marked failed if <paramref name="run"/> throws. Also returns the seconds it all took.</summary>
    public static (T Result, double Seconds) Execute<T>(TrainingStudyOptions o, JsonObject config, Func<Dataset, RunFolder, Manifest, T> run)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        o.Validate();
        TorchThreads.Apply(o.Threads);
        using var data = DataSource.Load(new DataOptions(o.Data, TaskKind.Classification, SplitSeed: o.SplitSeed, ValFraction: o.ValFraction));
        if (o.Training.Augment && ImageAugmentation.Refusal(data) is { } refusal) throw new Sampling.OptionException($"--augment {refusal}");
        // Everything that can be wrong with the settings on this data is refused before the folder exists.
        long examples = TrainingSet(o, data).X.shape[0];
        if (o.Training.BatchSize > examples)
            throw new Sampling.OptionException($"--batch-size {o.Training.BatchSize} exceeds the {examples} training examples (see --train-examples)");
        try
        {
            using var network = ModelCatalog.Create(o.Model.ForData(data.SampleShape, data.NumClasses));
        }
        catch (ArgumentException e)
        {
            throw new Sampling.OptionException($"--model {o.Model.Model}: {e.Message}");
        }
        var folder = RunFolder.Create(o.Out, o.Force);
        var manifest = Manifest.Start(folder.Path, o.Command, config, o.CommandLine, get_num_threads());
        manifest.Set("data", new JsonObject(data.Provenance.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))));
        try
        {
            // The rows the networks trained on (the first --train-examples of the training split), held out and tested.
            manifest.SetTable("splits", SplitsTable.Write(folder.Path, data, examples));
            var result = run(data, folder, manifest);
            manifest.Finish();
            return (result, clock.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            manifest.Fail(e);
            throw;
        }
    }

    /// <summary>The training examples networks are trained on (the first <see cref="TrainingStudyOptions.TrainExamples"/>, or all).</summary>
    public static (Tensor X, Tensor Y) TrainingSet(TrainingStudyOptions o, Dataset data) => First(data.TrainX, data.TrainY, o.TrainExamples);

    /// <summary>The "train" and "test" splits networks are evaluated on (the first <see cref="TrainingStudyOptions.EvalExamples"/> of each, or all).</summary>
    public static Dictionary<string, (Tensor X, Tensor Y)> EvaluationSplits(TrainingStudyOptions o, Dataset data) => new()
    {
        ["train"] = First(data.TrainX, data.TrainY, o.EvalExamples),
        ["test"] = First(data.TestX, data.TestY, o.EvalExamples),
    };

    private static (Tensor, Tensor) First(Tensor x, Tensor y, int count) =>
        count > 0 && count < x.shape[0] ? (x.narrow(0, 0, count), y.narrow(0, 0, count)) : (x, y);

    /// <summary>
    /// For each arm: builds its network and trains the networks of every group in <paramref name="groups"/> (chain indices
    /// of the run seed's <see cref="ChainSeeds"/>) on the training set, logging each epoch, and hands each group's network
    /// and trained θ to <paramref name="body"/> (group index as its last argument). A group of a W-Asym or σ-Asym arm gets
    /// its own masks and FiGLU matrices, mask seed <see cref="MaskSeeds.ForGroup"/>(mask seed, group), unless
    /// <see cref="TrainingStudyOptions.SharedMasks"/>: then every group shares the mask seed's. Records each arm's model,
    /// its mask groups (seed and fixed-tensor hashes) and every network's seeds under the manifest's "variants"
    /// (<paramref name="extra"/> adds entries per network). Networks and θ are disposed after <paramref name="body"/>.
    /// </summary>
    public static void TrainEach(TrainingStudyOptions o, Dataset data, IReadOnlyList<TrainingArm> arms, IReadOnlyList<IReadOnlyList<int>> groups,
        Manifest manifest, TextWriter log, Action<TrainingArm, INetwork, TrainedNetworks, int> body, Action<JsonObject, ChainSeeds>? extra = null)
    {
        var (x, y) = TrainingSet(o, data);
        string groupName = o.MaskGroup;
        var variantsNode = new JsonObject();
        // Every training step of the study (arms × mask sets × epochs × batches), for a progress line every ~10 s.
        long steps = arms.Sum(arm => arm.Variant != Variant.Standard && !o.SharedMasks ? groups.Count : 1)
                     * (long)o.Training.Epochs * (x.shape[0] / o.Training.BatchSize);
        var progress = new ProgressTicker(log, "training", steps);
        foreach (var arm in arms)
        {
            var model = o.Model.ForData(data.SampleShape, data.NumClasses) with { Variant = arm.Variant, FiGluStd = arm.FiGluStd ?? o.Model.FiGluStd };
            // A standard network has no masks: its groups are trained together, as are all groups with shared masks.
            bool perGroup = arm.Variant != Variant.Standard && !o.SharedMasks;
            var sets = perGroup
                ? groups.Select((g, i) => (Groups: new[] { i }, MaskSeed: MaskSeeds.ForGroup(o.Model.MaskSeed, i))).ToList()
                : [(Groups: Enumerable.Range(0, groups.Count).ToArray(), MaskSeed: o.Model.MaskSeed)];
            JsonObject? description = null;
            var maskGroups = new JsonArray();
            var networks = new JsonArray();
            foreach (var (setGroups, maskSeed) in sets)
            {
                var chains = setGroups.SelectMany(g => groups[g]).ToList();
                using var network = ModelCatalog.Create(model with { MaskSeed = maskSeed });
                string which = perGroup ? $", {groupName} {setGroups[0]} (mask seed {maskSeed})" : "";
                log.WriteLine($"{arm.Label}{which}: training {chains.Count} networks ({network.TrainableCount:N0} trainable parameters, {o.Training.Epochs} epochs)");
                using var trained = NetworkTrainer.Train(network, x, y, o.Training, o.Seed, chains,
                    (epoch, loss) => log.WriteLine($"  epoch {epoch + 1}/{o.Training.Epochs}: mean train loss {loss.Average():F4}"), progress);
                description ??= ModelDescription.Of(network);
                if (arm.Variant != Variant.Standard)
                    maskGroups.Add(new JsonObject
                    {
                        ["group"] = perGroup ? setGroups[0] : null,
                        ["networks"] = new JsonArray(chains.Select(c => (JsonNode)c).ToArray()),
                        ["mask_seed"] = maskSeed,
                        ["fixed_tensors"] = ModelDescription.Of(network)["fixed_tensors"]!.DeepClone(),
                    });
                // With a validation split, each network's final loss and error on it (the reference code's per-epoch check).
                var (valLoss, valError) = data.ValCount > 0 ? InterpolationPath.EvaluateMany(network, trained.Theta, data.ValX, data.ValY) : ([], []);
                for (int i = 0; i < trained.Seeds.Count; i++)
                {
                    var s = trained.Seeds[i];
                    var entry = new JsonObject { ["network"] = s.Chain, ["init_seed"] = s.Init, ["data_order_seed"] = s.DataOrder, ["final_epoch_train_loss"] = trained.EpochLoss[^1][i] };
                    if (valLoss.Length > 0) { entry["val_loss"] = valLoss[i]; entry["val_error"] = valError[i]; }
                    if (arm.Variant != Variant.Standard) entry["mask_seed"] = maskSeed;
                    extra?.Invoke(entry, s);
                    networks.Add(entry);
                }
                int offset = 0;
                foreach (int g in setGroups)
                {
                    using var part = trained.Slice(offset, groups[g].Count);
                    body(arm, network, part, g);
                    offset += groups[g].Count;
                }
            }
            var node = description!;
            if (arm.Variant != Variant.Standard)
            {
                // Each group's fixed tensors are under "mask_groups"; the model's own list would name only the first group's.
                node.Remove("fixed_tensors");
                node["masks"] = perGroup ? $"per {groupName}" : "shared";
                node["mask_groups"] = maskGroups;
            }
            node["networks"] = networks;
            variantsNode[arm.Name] = node;
        }
        manifest.Set("variants", variantsNode);
    }

    /// <summary>The arms of a study that trains each variant once, with the model's FiGLU sd.</summary>
    public static IReadOnlyList<TrainingArm> ArmsOf(IEnumerable<Variant> variants) => variants.Select(v => new TrainingArm(v.ToName(), v)).ToList();

    /// <summary>The report's sentence on σ-Asym's FiGLU sd, or "" when no σ-Asym networks are trained.</summary>
    public static string FiGluSentence(TrainingStudyOptions o, IEnumerable<Variant> variants) => !variants.Contains(Variant.SigmaAsym) ? ""
        : $"σ-Asym's FiGLU F has sd {TrainingArm.FiGluLabel(ModelCatalog.FiGluStdOf(o.Model))}" +
          (o.Model.FiGluStd is null ? $" (the default for `{o.Model.Model}`; `--figlu-std` sets it, see the README). " : " (--figlu-std). ");

    /// <summary>How the report names the masks: one sentence part, after "the same init and data-order seeds…".</summary>
    public static string MasksSentence(TrainingStudyOptions o) => o.SharedMasks
        ? FormattableString.Invariant($"one set of W-Asym masks and FiGLU matrices for every {o.MaskGroup}, from mask seed {o.Model.MaskSeed} (--shared-masks)")
        : FormattableString.Invariant($"each {o.MaskGroup} its own W-Asym masks and FiGLU matrices, drawn from mask seed {o.Model.MaskSeed} and the {o.MaskGroup}'s index by SplitMix64 (the seeds are in the manifest), as the paper's reference code draws them anew for every training run");

    /// <summary>The manifest's config entries every training study has; a study adds its own.</summary>
    public static JsonObject ConfigNode(TrainingStudyOptions o)
    {
        var node = new JsonObject
        {
            ["preset"] = o.Preset,
            ["full_size"] = o.FullSize,
            ["model"] = o.Model.Model,
            ["mask_seed"] = o.Model.MaskSeed,
            ["data"] = o.Data,
            ["epochs"] = o.Training.Epochs,
            ["batch_size"] = o.Training.BatchSize,
            ["augment"] = o.Training.Augment,
            ["lr"] = o.Training.LearningRate,
            ["weight_decay"] = o.Training.WeightDecay,
            ["label_smoothing"] = o.Training.LabelSmoothing,
            ["schedule"] = o.Training.Schedule.ToString().ToLowerInvariant(),
            ["adam_betas"] = new JsonArray(o.Training.Beta1, o.Training.Beta2),
            ["adam_epsilon"] = o.Training.Epsilon,
            ["seed"] = o.Seed,
            ["eval_examples"] = o.EvalExamples,
            ["train_examples"] = o.TrainExamples,
            ["val_fraction"] = o.ValFraction,
            ["split_seed"] = o.SplitSeed,
            ["threads"] = o.Threads,
            ["figlu_std"] = FiGluStdJson.Write(o.Model.FiGluStd),
            ["masks"] = o.SharedMasks ? "shared" : $"per {o.MaskGroup}",
        };
        if (o is VariantStudyOptions v)
        {
            node["variants"] = new JsonArray(v.Variants.Select(x => (JsonNode)x.ToName()).ToArray());
            node["networks"] = v.Networks;
        }
        return node;
    }

    /// <summary>The report's sentence on how the networks were trained, from "with minibatch AdamW" to the training examples.</summary>
    public static string TrainingSentence(TrainingStudyOptions o)
    {
        var t = o.Training;
        return FormattableString.Invariant($"with minibatch AdamW (lr {t.LearningRate}, decoupled weight decay {t.WeightDecay} on trainable entries only, batch {t.BatchSize}{(t.Augment ? ", each example randomly mirrored and cropped from a 4-pixel zero padding" : "")}{(t.LabelSmoothing > 0 ? ", label smoothing " + t.LabelSmoothing.ToString(CultureInfo.InvariantCulture) : "")}, {t.Epochs} epoch(s), schedule {t.Schedule.ToString().ToLowerInvariant()}) ") +
            FormattableString.Invariant($"on {(o.TrainExamples > 0 ? $"the first {o.TrainExamples} training examples" : "the whole training split")}") +
            (o.ValFraction > 0 ? FormattableString.Invariant($" after {o.ValFraction:P0} of it was held out for validation (split seed {o.SplitSeed}; each network's validation loss is in the manifest)") : "") +
            ". The rows of every split are in `splits.parquet`. ";
    }

    /// <summary>"the first N examples of" or "all of", for the report's evaluation sentence.</summary>
    public static string EvaluatedOn(TrainingStudyOptions o) => o.EvalExamples > 0 ? FormattableString.Invariant($"the first {o.EvalExamples} examples of") : "all of";


    /// <summary>Mean and sample sd (NaN for one value).</summary>
    public static (double Mean, double Sd) MeanSd(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        double sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : double.NaN;
        return (mean, sd);
    }

    /// <summary>"mean ± sd" for a Markdown table, or the mean alone when the sd is undefined.</summary>
    public static string Cell((double Mean, double Sd) s, string format = "F4") =>
        double.IsFinite(s.Sd) ? $"{s.Mean.ToString(format, CultureInfo.InvariantCulture)} ± {s.Sd.ToString(format, CultureInfo.InvariantCulture)}"
            : s.Mean.ToString(format, CultureInfo.InvariantCulture);
}
