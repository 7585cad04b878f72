using System.Globalization;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Studies.ModeConnectivity;

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

    /// <summary>For each variant: builds the options' model, trains <paramref name="chains"/> of the run seed on the training
    /// set (logging each epoch), records the model and seeds under the manifest's "variants" (<paramref name="extra"/> adds
    /// entries per network) and hands the network and its trained θ to <paramref name="body"/>; both are disposed afterwards.</summary>
    public static void TrainEach(TrainingStudyOptions o, Dataset data, IEnumerable<Variant> variants, IReadOnlyList<int> chains, Manifest manifest,
        TextWriter log, Action<INetwork, TrainedNetworks> body, Action<JsonObject, ChainSeeds>? extra = null)
    {
        var (x, y) = TrainingSet(o, data);
        var variantsNode = new JsonObject();
        foreach (var variant in variants)
        {
            using var network = ModelCatalog.Create(o.Model.ForData(data.SampleShape, data.NumClasses) with { Variant = variant });
            log.WriteLine($"{variant.ToName()}: training {chains.Count} networks ({network.TrainableCount:N0} trainable parameters, {o.Training.Epochs} epochs)");
            using var trained = NetworkTrainer.Train(network, x, y, o.Training, o.Seed, chains,
                (epoch, loss) => log.WriteLine($"  epoch {epoch + 1}/{o.Training.Epochs}: mean train loss {loss.Average():F4}"));
            variantsNode[variant.ToName()] = VariantNode(network, trained, data, extra);
            body(network, trained);
        }
        manifest.Set("variants", variantsNode);
    }

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


    /// <summary>A variant's model description and, per network, its seeds and final-epoch training loss
    /// (<paramref name="extra"/> adds study-specific entries, e.g. the pair).</summary>
    private static JsonObject VariantNode(INetwork network, TrainedNetworks trained, Dataset data, Action<JsonObject, ChainSeeds>? extra = null)
    {
        var node = ModelDescription.Of(network);
        // With a validation split, each network's final loss and error on it (the reference code's per-epoch check).
        var (valLoss, valError) = data.ValCount > 0 ? InterpolationPath.EvaluateMany(network, trained.Theta, data.ValX, data.ValY) : ([], []);
        node["networks"] = new JsonArray(trained.Seeds.Select((s, i) =>
        {
            var entry = new JsonObject { ["network"] = s.Chain, ["init_seed"] = s.Init, ["data_order_seed"] = s.DataOrder, ["final_epoch_train_loss"] = trained.EpochLoss[^1][i] };
            if (valLoss.Length > 0) { entry["val_loss"] = valLoss[i]; entry["val_error"] = valError[i]; }
            extra?.Invoke(entry, s);
            return (JsonNode)entry;
        }).ToArray());
        return node;
    }

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
