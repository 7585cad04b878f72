using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Studies.Figures;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Sampling;

/// <summary>
/// The same sampler on the standard, W-Asym and σ-Asym versions of one network: one run folder per variant
/// (&lt;out&gt;/&lt;variant&gt;/), then a comparison figure and table built only from their Parquet files.
/// </summary>
public static class Comparison
{
    public static readonly IReadOnlyList<Variant> DefaultVariants = [Variant.Standard, Variant.WAsym, Variant.SigmaAsym];

    public static IReadOnlyList<RunResult> Execute(SampleOptions baseOptions, IReadOnlyList<Variant> variants, TextWriter log)
    {
        baseOptions.Validate();
        if (baseOptions.IsRegression) throw new OptionException("compare needs a network model: linreg has no symmetry-reduced variants");
        if (variants.Count == 0) throw new OptionException("--variants is empty");
        var study = RunFolder.Create(baseOptions.Out, baseOptions.Force);
        var manifest = Manifest.Start(study.Path, "compare", commandLine: baseOptions.CommandLine);
        manifest.Set("config", new JsonObject
        {
            ["variants"] = new JsonArray(variants.Select(v => (JsonNode)v.ToName()).ToArray()),
            ["runs"] = new JsonArray(variants.Select(v => (JsonNode)v.ToName()).ToArray()),
        });
        var results = new List<RunResult>();
        try
        {
            foreach (var variant in variants)
            {
                log.WriteLine($"{variant.ToName()}: {baseOptions.Sampler} with {baseOptions.Chains} chains, {baseOptions.Steps} steps");
                var options = baseOptions with
                {
                    Model = baseOptions.Model with { Variant = variant },
                    Out = Path.Combine(study.Path, variant.ToName()),
                    Force = false,
                    Study = $"compare/{variant.ToName()}",
                };
                results.Add(SamplingRun.Execute(options, log));
            }
            Draw(study.Path, variants.Select(v => v.ToName()).ToList(), baseOptions);
            File.WriteAllText(Path.Combine(study.Path, "summary.md"), Summary(study.Path, variants, results, baseOptions));
            manifest.Finish();
            return results;
        }
        catch (Exception e)
        {
            manifest.Fail(e);
            throw;
        }
    }

    /// <summary>
    /// `workbench plot`: redraws a comparison's figures from its run folders' Parquet files, without sampling again.
    /// Only finished runs are drawn; an interrupted, running or failed one is named and left out, never read as a
    /// result. Returns the variants drawn.
    /// </summary>
    public static IReadOnlyList<string> Redraw(string studyFolder, TextWriter log)
    {
        if (!Directory.Exists(studyFolder)) throw new OptionException($"{studyFolder}: no such folder");
        Manifest study;
        try
        {
            study = Manifest.Load(studyFolder);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new OptionException($"{studyFolder}: not a Workbench study folder (no readable manifest.json): {e.Message}");
        }
        if (study.Study != "compare" || study.Get("config")?["variants"] is not JsonArray listed)
            throw new OptionException($"{studyFolder}: not a comparison study (its manifest's study is '{study.Study}'); give the folder 'workbench compare --out' wrote");
        var drawn = new List<string>();
        foreach (var variant in listed.Select(v => v!.GetValue<string>()))
        {
            string run = Path.Combine(studyFolder, variant);
            var condition = RunFolder.Condition(run);
            if (condition == RunCondition.Finished) { drawn.Add(variant); continue; }
            log.WriteLine(condition switch
            {
                RunCondition.Interrupted => $"  {variant}: interrupted (its process is gone) — left out; 'workbench resume {run}' continues it",
                RunCondition.Running => $"  {variant}: still running — left out",
                RunCondition.Failed => $"  {variant}: failed — left out (see its manifest's error)",
                _ => $"  {variant}: no run folder — left out",
            });
        }
        if (drawn.Count == 0) throw new OptionException($"{studyFolder}: none of its runs ({string.Join(", ", listed)}) has finished; nothing to draw");
        var config = Manifest.Load(Path.Combine(studyFolder, drawn[0])).Get("config")!;
        var options = new SampleOptions
        {
            Model = new ModelOptions(config["model"]!.GetValue<string>()),
            Sampler = config["sampler"]!.GetValue<string>(),
            Chains = config["chains"]!.GetValue<int>(),
            Out = studyFolder,
        };
        Draw(studyFolder, drawn, options);
        return drawn;
    }

    /// <summary>Redraws the comparison figures of a study folder from its runs' eval.parquet and stats.parquet files.</summary>
    public static void Draw(string studyFolder, IReadOnlyList<string> variants, SampleOptions o)
    {
        string what = $"{o.Model.Model}, {o.Sampler}, {o.Chains} chains; band: ± sd over chains";
        var accuracy = new LineFigure($"Running BMA test accuracy ({what})", "epoch", "test accuracy of the Bayesian model average");
        var nll = new LineFigure($"Running BMA test NLL ({what})", "epoch", "test NLL of the Bayesian model average");
        foreach (var variant in variants)
        {
            var (epochs, acc, accSd, testNll, testNllSd) = MeanOverChains(Path.Combine(studyFolder, variant, "eval.parquet"));
            accuracy.Add(variant, epochs, acc, Subtract(acc, accSd), Add(acc, accSd));
            nll.Add(variant, epochs, testNll, Subtract(testNll, testNllSd), Add(testNll, testNllSd));
        }
        accuracy.Save(Path.Combine(studyFolder, "bma-test-accuracy"));
        nll.Save(Path.Combine(studyFolder, "bma-test-nll"));

        // The paper's Fig. 4 view: minibatch training loss per epoch (warm-up included), mean over chains.
        var loss = new LineFigure($"Training loss ({o.Model.Model}, {o.Sampler}, {o.Chains} chains; band: ± sd over chains)", "epoch", "mean minibatch NLL over the epoch");
        foreach (var variant in variants)
        {
            var (epochs, mean, sd) = LossPerEpoch(Path.Combine(studyFolder, variant, "stats.parquet"));
            loss.Add(variant, epochs, mean, Subtract(mean, sd), Add(mean, sd));
        }
        loss.Save(Path.Combine(studyFolder, "training-loss"));

        // Calibration side by side: each variant's final test BMA, pooled over its chains.
        var reliability = new ReliabilityFigure($"Reliability of the final BMA on the test split ({o.Model.Model}, {o.Sampler})");
        foreach (var variant in variants)
        {
            string table = Path.Combine(studyFolder, variant, Metrics.CalibrationTable.FileName);
            if (File.Exists(table)) reliability.Add(variant, Metrics.CalibrationTable.Read(table));
        }
        if (reliability.Panels.Count > 0) reliability.Save(Path.Combine(studyFolder, "reliability"));
    }

    /// <summary>Per draw: epoch, mean and sd over chains of the running-BMA test accuracy and NLL.</summary>
    private static (double[] Epochs, double[] Acc, double[] AccSd, double[] Nll, double[] NllSd) MeanOverChains(string evalPath)
    {
        var table = ParquetTable.Read(evalPath);
        var split = table.Column<string>("split");
        var draw = table.Column<int>("draw");
        var epoch = table.Column<double>("epoch");
        var acc = table.Column<double>("bma_accuracy");
        var nll = table.Column<double>("bma_nll");
        var groups = Enumerable.Range(0, split.Length).Where(r => split[r] == "test").GroupBy(r => draw[r]).OrderBy(g => g.Key).ToList();
        return (groups.Select(g => epoch[g.First()]).ToArray(),
            groups.Select(g => g.Average(r => acc[r])).ToArray(), groups.Select(g => Sd(g.Select(r => acc[r]))).ToArray(),
            groups.Select(g => g.Average(r => nll[r])).ToArray(), groups.Select(g => Sd(g.Select(r => nll[r]))).ToArray());
    }

    /// <summary>Per epoch (1, 2, …): mean over chains of each chain's mean minibatch loss in that epoch, and its sd.</summary>
    internal static (double[] Epochs, double[] Mean, double[] Sd) LossPerEpoch(string statsPath)
    {
        var table = ParquetTable.Read(statsPath);
        var chain = table.Column<int>("chain");
        var epoch = table.Column<double>("epoch");
        var loss = table.Column<double>("loss");
        var perEpoch = Enumerable.Range(0, chain.Length)
            .GroupBy(r => (int)Math.Ceiling(epoch[r]))
            .OrderBy(g => g.Key)
            .Select(g => (Epoch: (double)g.Key, Chains: g.GroupBy(r => chain[r]).Select(c => c.Average(r => loss[r])).ToArray()))
            .ToList();
        return (perEpoch.Select(e => e.Epoch).ToArray(), perEpoch.Select(e => e.Chains.Average()).ToArray(), perEpoch.Select(e => Sd(e.Chains)).ToArray());
    }

    private static string Summary(string studyFolder, IReadOnlyList<Variant> variants, IReadOnlyList<RunResult> results, SampleOptions o)
    {
        var inv = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine($"# Comparison: {o.Model.Model} under {o.Sampler}");
        s.AppendLine();
        s.AppendLine($"Data `{o.Data}`, {o.Chains} chains per variant, {o.Steps} steps ({o.Warmup} warm-up, thin {o.Thin}), batch {o.BatchSize}, " +
                     $"lr {o.StepSize?.ToString(inv) ?? "(sampler default)"}, temperature {o.Temperature.ToString(inv)}, prior sd {o.PriorStd.ToString(inv)}, seed {o.Seed}.");
        s.AppendLine();
        s.AppendLine("| variant | trainable params | training loss, epoch 1 | training loss, last epoch | final BMA test accuracy (mean over chains) | final BMA test NLL | wall time (s) | steps/s |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (int i = 0; i < variants.Count; i++)
        {
            var r = results[i];
            var model = Manifest.Load(Path.Combine(r.Folder, "manifest.json"));
            string trainable = model.Get("model")?["trainable_parameters"]?.ToString() ?? "?";
            var (_, loss, _) = LossPerEpoch(Path.Combine(r.Folder, "stats.parquet"));
            s.AppendLine(string.Create(inv, $"| {variants[i].ToName()} | {trainable} | {loss[0]:F4} | {loss[^1]:F4} | {r.FinalTestBmaAccuracy.Average():F4} | {r.FinalTestBmaNll.Average():F4} | {r.Seconds:F1} | {r.StepsPerSecond:F1} |"));
        }
        s.AppendLine();
        s.AppendLine("Training loss is the mean minibatch NLL per datum over an epoch (first and last epoch shown), averaged over chains.");
        s.AppendLine();
        s.AppendLine("Figures: `bma-test-accuracy.png`, `bma-test-nll.png`, `training-loss.png`, `reliability.png` (and `.svg`); per run `<variant>/trace.png` and `<variant>/reliability.png`.");
        s.AppendLine("Tables per run: `draws.parquet`, `stats.parquet`, `eval.parquet` (schema in the README).");
        return s.ToString();
    }

    private static double Sd(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length < 2) return 0;
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
    }

    private static double[] Add(double[] a, double[] b) => a.Select((x, i) => x + b[i]).ToArray();
    private static double[] Subtract(double[] a, double[] b) => a.Select((x, i) => x - b[i]).ToArray();
}
