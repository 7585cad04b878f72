using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Cli;

/// <summary>The `workbench` command: parses options and calls a study. Exit codes: 0 ok, 1 run failed, 2 bad input.</summary>
public static class WorkbenchCli
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("Workbench: Bayesian sampling of standard and symmetry-reduced (W-Asym, σ-Asym) neural networks.\n" +
                                   "Runs write Parquet tables, figures and a manifest into a run folder (--out; default results/<command>).\n" +
                                   "Exit codes: 0 finished, 1 the run failed, 2 a mistake in the options or input files, 3 finished but some chains diverged.");
        root.Subcommands.Add(SampleCommand(output, error));
        root.Subcommands.Add(CompareCommand(output, error));
        root.Subcommands.Add(DescribeCommand(output, error));
        root.Subcommands.Add(SamplersCommand(output));
        root.Subcommands.Add(BenchCommand(output, error));
        root.Subcommands.Add(PlotCommand(output, error));
        root.Subcommands.Add(DiagnoseCommand(output, error));
        root.Subcommands.Add(ResumeCommand(output, error));
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !args.Any(a => a is "--help" or "-h" or "-?"))
        {
            // One line naming the problem (System.CommandLine would print usage too), and the exit code for bad input.
            string command = parsed.CommandResult.Command == root ? "workbench" : $"workbench {parsed.CommandResult.Command.Name}";
            error.WriteLine($"error: {string.Join("; ", parsed.Errors.Select(e => Readable(e.Message)))} (see '{command} --help')");
            return 2;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    // ---- shared options -------------------------------------------------------------------------------------

    private sealed class RunOptions
    {
        public readonly Option<string?> Model = new("--model") { Description = $"model: {string.Join(", ", ModelCatalog.Names)} (default mlp)" };
        public readonly Option<string?> Widths = new("--widths") { Description = "hidden widths of --model mlp, comma-separated (default 128,128)" };
        public readonly Option<int?> Depth = new("--depth") { Description = "number of hidden layers (mlp: width 128 each; mlp-bnn: 8 or 16)" };
        public readonly Option<string?> Activation = new("--activation") { Description = "relu or gelu (default: the model's)" };
        public readonly Option<bool?> LayerNorm = new("--layer-norm") { Description = "LayerNorm after each hidden Linear: --layer-norm true|false (default: the model's)" };
        public readonly Option<int?> NFix = new("--n-fix") { Description = "W-Asym: fixed entries per row, every layer (default: the model's)" };
        public readonly Option<double?> Kappa = new("--kappa") { Description = "W-Asym: sd κ of the fixed values, every layer (default: the model's)" };
        public readonly Option<double?> FiGluStd = new("--figlu-std") { Description = "σ-Asym: sd of FiGLU's fixed matrix (default 1.0)" };
        public readonly Option<ulong?> MaskSeed = new("--mask-seed") { Description = "seed of W-Asym masks and fixed values and of FiGLU matrices (default 0)" };
        public readonly Option<string?> Data = new("--data") { Description = "mnist-subset (embedded; default), an IDX or CIFAR-10 folder, or a CSV file" };
        public readonly Option<string?> Target = new("--target") { Description = "CSV: name of the target column" };
        public readonly Option<double?> TestFraction = new("--test-fraction") { Description = "CSV: share of rows held out for testing (default 0.2)" };
        public readonly Option<int?> SplitSeed = new("--split-seed") { Description = "CSV: seed of the train/test split (default 0)" };
        public readonly Option<string?> Sampler = new("--sampler") { Description = $"posterior method: {string.Join(", ", Workbench.Samplers.SamplerRegistry.Names)} (default sgld; see 'workbench samplers')" };
        public readonly Option<double?> Lr = new("--lr") { Description = "step size η: the sampler's step_size (default: the sampler's own; see 'workbench samplers')" };
        public readonly Option<string[]> Param = new("--param") { Description = "a sampler hyperparameter NAME=VALUE, repeatable (see 'workbench samplers')", AllowMultipleArgumentsPerToken = false };
        public readonly Option<int?> Draws = new("--draws") { Description = "fitted methods (mfvi, elrg, swag, ensemble): draws per chain from the fitted distribution (default 20)" };
        public readonly Option<string?> ChainMode = new("--chain-mode") { Description = "batched (chains as one batched computation) or sequential; same draws either way (default batched)" };
        public readonly Option<string?> Dtype = new("--dtype") { Description = "float32 or float64 (for small models, e.g. HMC references) (default float32)" };
        public readonly Option<int?> Chains = new("--chains") { Description = "number of chains K, run as one batched computation (default 2)" };
        public readonly Option<int?> Steps = new("--steps") { Description = "iterations per chain, warm-up included (default 2000)" };
        public readonly Option<int?> Warmup = new("--warmup") { Description = "iterations discarded before the first draw (default 500)" };
        public readonly Option<int?> Thin = new("--thin") { Description = "keep every n-th iteration after warm-up as a draw (default 10)" };
        public readonly Option<int?> BatchSize = new("--batch-size") { Description = "minibatch size |B| (default 128)" };
        public readonly Option<double?> Temperature = new("--temperature") { Description = "posterior temperature T; 1 is the Bayes posterior (default 1)" };
        public readonly Option<double?> PriorStd = new("--prior-std") { Description = "sd σ of the Gaussian prior N(0, σ²I) on trainable entries (default 1)" };
        public readonly Option<double?> NoiseStd = new("--noise-std") { Description = "linreg: known observation noise sd (default 1)" };
        public readonly Option<ulong?> Seed = new("--seed") { Description = "run seed: initial positions, sampler noise, batch order (default 0)" };
        public readonly Option<int?> Track = new("--track") { Description = "networks: how many parameters draws.parquet records, spread over the layers' weights (default 8; linreg: all)" };
        public readonly Option<bool?> EvalTrain = new("--eval-train") { Description = "also evaluate draws on the training set: --eval-train true|false (default true)" };
        public readonly Option<int?> EvalEvery = new("--eval-every") { Description = "evaluate every n-th draw and the last; the running BMA uses evaluated draws (default 1)" };
        public readonly Option<string?> Device = new("--device") { Description = "auto (CUDA when available), cpu or cuda (default auto)" };
        public readonly Option<int?> Threads = new("--threads") { Description = "CPU threads for torch; 0 = all cores (default 0)" };
        public readonly Option<int?> CheckpointEvery = new("--checkpoint-every") { Description = "steps between checkpoints that 'workbench resume' continues from; 0 = none (default max(100, steps/20))" };
        public readonly Option<double?> MaxEpochs = new("--max-epochs") { Description = "budget: stop each chain group after the step at which its epoch counter reaches this (--steps stays the cap)" };
        public readonly Option<long?> MaxGradEvals = new("--max-grad-evals") { Description = "budget: stop each chain group once its per-chain gradient evaluations (grad_evals) reach this" };
        public readonly Option<double?> MaxWallTime = new("--max-wall-time") { Description = "budget: stop each chain group once its wall time reaches this many seconds (sequential chains: each gets it)" };
        public readonly Option<int?> ProgressEvery = new("--progress-every") { Description = "fitted methods: steps between progress evaluations written to progress.parquet; 0 = none (default max(1, steps/20))" };
        public readonly Option<int?> ProgressDraws = new("--progress-draws") { Description = "fitted methods: draws from the current fit per progress evaluation (default 8)" };
        public readonly Option<string?> Out = new("--out") { Description = "output folder (default results/<command>)" };
        public readonly Option<bool> Force = new("--force") { Description = "replace an existing run folder at --out" };

        public void AddTo(Command command)
        {
            foreach (var o in new Option[] { Model, Widths, Depth, Activation, LayerNorm, NFix, Kappa, FiGluStd, MaskSeed, Data, Target, TestFraction, SplitSeed,
                         Sampler, Lr, Param, Draws, ChainMode, Dtype, Chains, Steps, Warmup, Thin, BatchSize, Temperature, PriorStd, NoiseStd, Seed, Track, EvalTrain, EvalEvery,
                         Device, Threads, CheckpointEvery, MaxEpochs, MaxGradEvals, MaxWallTime, ProgressEvery, ProgressDraws, Out, Force })
                command.Options.Add(o);
        }

        /// <summary>Options the user gave override <paramref name="defaults"/> (a preset or the built-in defaults).</summary>
        public SampleOptions Apply(ParseResult r, SampleOptions defaults, Variant variant, string study)
        {
            var m = defaults.Model;
            // Another model than the preset's starts from that model's own shape.
            if (r.GetValue(Model) is { } name && name != m.Model) m = new ModelOptions(name, MaskSeed: m.MaskSeed);
            var model = m with
            {
                Variant = variant,
                Widths = r.GetValue(Widths) is { } w ? ParseWidths(w) : m.Widths,
                Depth = r.GetValue(Depth) ?? m.Depth,
                Activation = r.GetValue(Activation) is { } a ? ParseActivation(a) : m.Activation,
                LayerNorm = r.GetValue(LayerNorm) ?? m.LayerNorm,
                NFix = r.GetValue(NFix) ?? m.NFix,
                Kappa = r.GetValue(Kappa) ?? m.Kappa,
                FiGluStd = r.GetValue(FiGluStd) ?? m.FiGluStd,
                MaskSeed = r.GetValue(MaskSeed) ?? m.MaskSeed,
            };
            return defaults with
            {
                Model = model,
                Data = r.GetValue(Data) ?? defaults.Data,
                Target = r.GetValue(Target) ?? defaults.Target,
                TestFraction = r.GetValue(TestFraction) ?? defaults.TestFraction,
                SplitSeed = r.GetValue(SplitSeed) ?? defaults.SplitSeed,
                Sampler = r.GetValue(Sampler) ?? defaults.Sampler,
                StepSize = r.GetValue(Lr) ?? defaults.StepSize,
                SamplerParameters = r.GetValue(Param) is { Length: > 0 } p ? ParseParameters(p) : defaults.SamplerParameters,
                Draws = r.GetValue(Draws) ?? defaults.Draws,
                ChainMode = r.GetValue(ChainMode) ?? defaults.ChainMode,
                Dtype = r.GetValue(Dtype) ?? defaults.Dtype,
                Chains = r.GetValue(Chains) ?? defaults.Chains,
                Steps = r.GetValue(Steps) ?? defaults.Steps,
                Warmup = r.GetValue(Warmup) ?? defaults.Warmup,
                Thin = r.GetValue(Thin) ?? defaults.Thin,
                BatchSize = r.GetValue(BatchSize) ?? defaults.BatchSize,
                Temperature = r.GetValue(Temperature) ?? defaults.Temperature,
                PriorStd = r.GetValue(PriorStd) ?? defaults.PriorStd,
                NoiseStd = r.GetValue(NoiseStd) ?? defaults.NoiseStd,
                Seed = r.GetValue(Seed) ?? defaults.Seed,
                Track = r.GetValue(Track) ?? defaults.Track,
                EvalTrain = r.GetValue(EvalTrain) ?? defaults.EvalTrain,
                EvalEvery = r.GetValue(EvalEvery) ?? defaults.EvalEvery,
                Device = r.GetValue(Device) ?? defaults.Device,
                Threads = r.GetValue(Threads) ?? defaults.Threads,
                CheckpointEvery = r.GetValue(CheckpointEvery) ?? defaults.CheckpointEvery,
                MaxEpochs = r.GetValue(MaxEpochs) ?? defaults.MaxEpochs,
                MaxGradEvals = r.GetValue(MaxGradEvals) ?? defaults.MaxGradEvals,
                MaxWallSeconds = r.GetValue(MaxWallTime) ?? defaults.MaxWallSeconds,
                ProgressEvery = r.GetValue(ProgressEvery) ?? defaults.ProgressEvery,
                ProgressDraws = r.GetValue(ProgressDraws) ?? defaults.ProgressDraws,
                Out = r.GetValue(Out) ?? defaults.Out,
                Force = r.GetValue(Force),
                Study = study,
                CommandLine = ["workbench", .. r.Tokens.Select(t => t.Value)],
            };
        }
    }

    private static Dictionary<string, double> ParseParameters(string[] items)
    {
        var values = new Dictionary<string, double>();
        foreach (var item in items)
        {
            int eq = item.IndexOf('=');
            if (eq <= 0 || !double.TryParse(item[(eq + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value))
                throw new OptionException($"--param must be NAME=NUMBER, got '{item}'");
            if (!values.TryAdd(item[..eq], value)) throw new OptionException($"--param {item[..eq]} is given twice");
        }
        return values;
    }

    private static int[] ParseWidths(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out widths[i]) || widths[i] <= 0)
                throw new OptionException($"--widths must be positive integers separated by commas, got '{text}'");
        if (widths.Length == 0) throw new OptionException("--widths is empty");
        return widths;
    }

    private static Activation ParseActivation(string text) => text switch
    {
        "relu" => Architectures.Layers.Activation.Relu,
        "gelu" => Architectures.Layers.Activation.Gelu,
        _ => throw new OptionException($"--activation must be relu or gelu, got '{text}'"),
    };

    private static Variant ParseVariant(string text) =>
        VariantNames.All.Contains(text) ? VariantNames.Parse(text) : throw new OptionException($"--variant must be one of {string.Join(", ", VariantNames.All)}, got '{text}'");

    /// <summary>Runs an action, turning a user's mistake into one line and exit 2, a failed run into one line and exit 1.</summary>
    private static int Guarded(TextWriter error, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is OptionException or DataFormatException or RunFolderException or ArgumentException or FileNotFoundException or DirectoryNotFoundException)
        {
            error.WriteLine($"error: {OneLine(e.Message)}");
            return 2;
        }
        catch (Exception e)
        {
            // WORKBENCH_DEBUG=1 prints the whole exception for bug reports; users get one line.
            if (Environment.GetEnvironmentVariable("WORKBENCH_DEBUG") is "1" or "true") error.WriteLine(e);
            error.WriteLine($"error: the run failed: {OneLine(e.Message)} ({e.GetType().Name}; the run folder's manifest says status \"failed\")");
            return 1;
        }
    }

    /// <summary>Exit 3 when a run finished but some chains diverged, naming them; 0 otherwise.</summary>
    private static int DivergenceExit(RunResult result, TextWriter error)
    {
        if (result.Diverged.Count == 0) return 0;
        error.WriteLine($"warning: {result.Folder}: chain(s) {string.Join(", ", result.Diverged.Select(d => $"{d.Chain} (iteration {d.Iteration})"))} diverged and were stopped; status 'finished_with_divergences'");
        return 3;
    }

    private static string OneLine(string message) => message.Split('\n')[0].Trim();

    /// <summary>System.CommandLine names CLR types in its messages; say what a user types instead.</summary>
    private static string Readable(string message) => OneLine(message)
        .Replace("'System.Nullable`1[System.Int32]'", "integer").Replace("'System.Int32'", "integer")
        .Replace("'System.Nullable`1[System.Double]'", "number").Replace("'System.Double'", "number")
        .Replace("'System.Nullable`1[System.Int64]'", "integer").Replace("'System.Int64'", "integer")
        .Replace("'System.Nullable`1[System.UInt64]'", "non-negative integer").Replace("'System.UInt64'", "non-negative integer")
        .Replace("'System.Nullable`1[System.Boolean]'", "true or false").Replace("'System.Boolean'", "true or false");

    // ---- commands -------------------------------------------------------------------------------------------

    private static Command SampleCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("sample", "Run K chains of a posterior sampler on one model and data set.\n" +
            "Example: workbench sample --model linreg --data FILE.csv --target y --noise-std 0.5 --prior-std 1 --sampler sgld --chains 4 --steps 20000 --warmup 2000 --seed 1 --out DIR");
        var variant = new Option<string>("--variant") { Description = "standard, w-asym or sigma-asym", DefaultValueFactory = _ => "standard" };
        var options = new RunOptions();
        command.Options.Add(variant);
        options.AddTo(command);
        command.SetAction(r => Guarded(error, () =>
        {
            var o = options.Apply(r, new SampleOptions { Model = new ModelOptions("mlp"), Out = Path.Combine("results", "sample") },
                ParseVariant(r.GetValue(variant)!), "sample");
            var result = SamplingRun.Execute(o, output);
            output.WriteLine($"finished: {result.Folder} ({result.Seconds:F1} s, {result.StepsPerSecond:F1} steps/s)");
            return DivergenceExit(result, error);
        }));
        return command;
    }

    private static Command CompareCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("compare", "Run the same sampler on the standard, W-Asym and σ-Asym versions of one MLP and draw the comparison.\n" +
            "Writes <out>/<variant>/ run folders, figures <out>/bma-test-accuracy, bma-test-nll, training-loss and reliability (.png and .svg) and <out>/summary.md.");
        var preset = new Option<string?>("--preset") { Description = $"start from named settings ({string.Join(", ", ComparePresets.All.Select(p => p.Name))}); other options override them" };
        var variants = new Option<string?>("--variants") { Description = "comma-separated variants to compare (default standard,w-asym,sigma-asym)" };
        var options = new RunOptions();
        command.Options.Add(preset);
        command.Options.Add(variants);
        options.AddTo(command);
        command.SetAction(r => Guarded(error, () =>
        {
            var defaults = r.GetValue(preset) is { } name ? ComparePresets.Get(name).Options
                : new SampleOptions { Model = new ModelOptions("mlp"), Out = Path.Combine("results", "compare") };
            var o = options.Apply(r, defaults, Variant.Standard, "compare");
            var list = r.GetValue(variants) is { } v
                ? v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(ParseVariant).ToList()
                : Comparison.DefaultVariants.ToList();
            var results = Comparison.Execute(o, list, output);
            int code = results.Select(r => DivergenceExit(r, error)).DefaultIfEmpty(0).Max();
            output.WriteLine();
            output.WriteLine($"finished: {results.Count} runs in {o.Out}");
            output.WriteLine($"  figures: {Path.Combine(o.Out, "bma-test-accuracy.png")}, {Path.Combine(o.Out, "bma-test-nll.png")}, {Path.Combine(o.Out, "training-loss.png")}, {Path.Combine(o.Out, "reliability.png")} (and .svg)");
            output.WriteLine($"  summary: {Path.Combine(o.Out, "summary.md")}");
            return code;
        }));
        return command;
    }

    private static Command SamplersCommand(TextWriter output)
    {
        var command = new Command("samplers", "List the posterior methods with their hyperparameters and defaults (set them with --param NAME=VALUE; --lr sets step_size).");
        command.SetAction(_ =>
        {
            foreach (var info in Workbench.Samplers.SamplerRegistry.All)
            {
                output.WriteLine($"{info.Name,-10} {info.Description}");
                foreach (var h in info.Hyperparameters)
                    output.WriteLine($"    {h.Name,-20} default {h.Default.ToString("G", System.Globalization.CultureInfo.InvariantCulture),-10} {h.Description}");
            }
            return 0;
        });
        return command;
    }

    private static Command PlotCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("plot", "Redraw a comparison's figures (bma-test-accuracy, bma-test-nll, training-loss, reliability) from its run folders' Parquet files, without sampling.\n" +
            "Only finished runs are drawn; interrupted, running or failed ones are named and left out.");
        var study = new Argument<string>("STUDY_DIR") { Description = "the folder 'workbench compare --out' wrote" };
        command.Arguments.Add(study);
        command.SetAction(r => Guarded(error, () =>
        {
            var drawn = Comparison.Redraw(r.GetValue(study)!, output);
            output.WriteLine($"redrew the figures of {r.GetValue(study)} for {string.Join(", ", drawn)}");
            return 0;
        }));
        return command;
    }

    private static Command BenchCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("bench", "Measure steps per second of every method, SGLD's overhead over SGD, batched vs sequential chains and memory over a long run (what `make bench` runs).");
        var outOption = new Option<string>("--out") { Description = "folder for the JSON results", DefaultValueFactory = _ => Path.Combine("results", "bench") };
        var threads = new Option<int>("--threads") { Description = "torch threads; 0 = all cores", DefaultValueFactory = _ => 0 };
        var seconds = new Option<double>("--seconds") { Description = "timed seconds per measurement", DefaultValueFactory = _ => 3.0 };
        var memorySteps = new Option<int>("--memory-steps") { Description = "SGLD steps of the memory measurement (≥ 1000)", DefaultValueFactory = _ => 20_000 };
        foreach (var o in new Option[] { outOption, threads, seconds, memorySteps }) command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            if (r.GetValue(seconds) <= 0) throw new OptionException($"--seconds must be positive, got {r.GetValue(seconds)}");
            if (r.GetValue(memorySteps) < 1000) throw new OptionException($"--memory-steps must be at least 1000, got {r.GetValue(memorySteps)}");
            if (r.GetValue(threads) < 0) throw new OptionException($"--threads must be ≥ 0, got {r.GetValue(threads)}");
            Workbench.Studies.Benchmarks.Benchmark.Run(new(r.GetValue(outOption)!, r.GetValue(threads), r.GetValue(seconds), r.GetValue(memorySteps)), output);
            return 0;
        }));
        return command;
    }

    private static Command ResumeCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("resume", "Continue an interrupted run (manifest 'running', its process gone) from its last checkpoint and finish it;\n" +
            "the draws equal those of an uninterrupted run (bit for bit with --threads 1). A live, finished or failed run is refused.");
        var path = new Argument<string>("RUN_DIR") { Description = "the run folder to continue" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for torch; 0 = all cores (default: the run's)" };
        command.Arguments.Add(path);
        command.Options.Add(threads);
        command.SetAction(r => Guarded(error, () =>
        {
            var result = SamplingRun.Resume(r.GetValue(path)!, r.GetValue(threads), output);
            output.WriteLine($"finished: {result.Folder} ({result.Seconds:F1} s, {result.StepsPerSecond:F1} steps/s)");
            return DivergenceExit(result, error);
        }));
        return command;
    }

    private static Command DiagnoseCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("diagnose", "Convergence diagnostics of sampled draws: rank-normalised split R̂ (with classic and within-chain R̂), bulk- and tail-ESS, MCSE of the mean (Vehtari et al. 2021, as ArviZ).\n" +
            "PATH is a run folder (its draws.parquet, or the parts of an unfinished run) or a Parquet or CSV file with chain and draw columns; every other numeric column but iteration is a variable.\n" +
            "Writes diagnostics.parquet into the run folder (next to a file: FILE.diagnostics.parquet) or --out. A NaN comes with a flag saying why.");
        var path = new Argument<string>("PATH") { Description = "run folder, or .parquet/.csv file of draws" };
        var outOption = new Option<string?>("--out") { Description = "where to write the diagnostics table (default: next to the input)" };
        var space = new Option<string>("--space") { Description = "which view: all (default: every view the run has), raw (tracked parameters), canonical (standard MLPs aligned by weight matching), function (probability of the true class per test point)", DefaultValueFactory = _ => "all" };
        command.Arguments.Add(path);
        command.Options.Add(outOption);
        command.Options.Add(space);
        command.SetAction(r => Guarded(error, () =>
        {
            Workbench.Studies.Diagnostics.Diagnose.Execute(new(r.GetValue(path)!, r.GetValue(outOption), r.GetValue(space)!), output);
            return 0;
        }));
        return command;
    }

    private static Command DescribeCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("describe", "Print a model's parameter counts and fixed-tensor hashes as JSON.");
        var model = new Option<string>("--model") { Description = $"model: {string.Join(", ", ModelCatalog.Names)}", Required = true };
        var variant = new Option<string>("--variant") { Description = "standard, w-asym or sigma-asym", DefaultValueFactory = _ => "standard" };
        var inputs = new Option<int?>("--inputs") { Description = "input features (default 784; linreg: required)" };
        var outputs = new Option<int?>("--outputs") { Description = "outputs (default 10)" };
        var widths = new Option<string?>("--widths") { Description = "hidden widths of --model mlp, comma-separated" };
        var depth = new Option<int?>("--depth") { Description = "hidden layers (mlp, mlp-bnn)" };
        var maskSeed = new Option<ulong>("--mask-seed") { Description = "seed of masks and fixed matrices", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { model, variant, inputs, outputs, widths, depth, maskSeed }) command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            var options = new ModelOptions(r.GetValue(model)!, ParseVariant(r.GetValue(variant)!), r.GetValue(inputs), r.GetValue(outputs),
                r.GetValue(widths) is { } w ? ParseWidths(w) : null, r.GetValue(depth), MaskSeed: r.GetValue(maskSeed));
            using var network = ModelCatalog.Create(options);
            var json = Workbench.Studies.ModelDescription.Of(network);
            json["mask_seed"] = options.MaskSeed;
            output.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }));
        return command;
    }
}
