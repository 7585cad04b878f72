using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Data;
using Workbench.Studies.Metanetworks;
using Workbench.Studies.ModeConnectivity;
using Workbench.Studies.Sampling;
using Workbench.Studies.ScaleOut;
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
        root.Subcommands.Add(PlanCommand(output, error));
        root.Subcommands.Add(RunCellCommand(output, error));
        root.Subcommands.Add(CollectCommand(output, error));
        root.Subcommands.Add(SubmitCommand(output, error));
        root.Subcommands.Add(StatusCommand(output, error));
        root.Subcommands.Add(DescribeCommand(output, error));
        root.Subcommands.Add(SamplersCommand(output));
        root.Subcommands.Add(BenchCommand(output, error));
        root.Subcommands.Add(PlotCommand(output, error));
        root.Subcommands.Add(DiagnoseCommand(output, error));
        root.Subcommands.Add(ResumeCommand(output, error));
        root.Subcommands.Add(LmcCommand(output, error));
        root.Subcommands.Add(MergeCommand(output, error));
        root.Subcommands.Add(MliCommand(output, error));
        root.Subcommands.Add(BarriersCommand(output, error));
        root.Subcommands.Add(ZooCommand(output, error));
        root.Subcommands.Add(MetanetCommand(output, error));
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
        public readonly Option<string?> Widths = new("--widths") { Description = "hidden widths of --model mlp (default 128,128) or stage channels of --model cnn (default 32,64), comma-separated" };
        public readonly Option<int?> Depth = new("--depth") { Description = "number of hidden layers (mlp: width 128 each; mlp-bnn: 8 or 16)" };
        public readonly Option<string?> Activation = new("--activation") { Description = "relu or gelu (default: the model's)" };
        public readonly Option<bool?> LayerNorm = new("--layer-norm") { Description = "LayerNorm after each hidden Linear: --layer-norm true|false (default: the model's)" };
        public readonly Option<int?> NFix = new("--n-fix") { Description = "W-Asym: fixed entries per row (per output channel for convolutions), every layer (default: the model's; ResNets keep the paper's per-layer values)" };
        public readonly Option<double?> Kappa = new("--kappa") { Description = "W-Asym: sd κ of the fixed values, every layer (default: the model's)" };
        public readonly Option<string?> FiGluStd = FiGluStdOption();
        public readonly Option<int?> WidthMultiplier = new("--width-multiplier") { Description = "ResNet20: width multiplier w, stage widths 16w/32w/64w (default 1)" };
        public readonly Option<ulong?> MaskSeed = new("--mask-seed") { Description = "seed of W-Asym masks and fixed values and of FiGLU matrices (default 0)" };
        public readonly Option<string?> Data = new("--data") { Description = "mnist-subset (embedded; default), an IDX or CIFAR-10 folder, or a CSV file" };
        public readonly Option<string?> Target = new("--target") { Description = "CSV: name of the target column" };
        public readonly Option<double?> TestFraction = new("--test-fraction") { Description = "CSV: share of rows held out for testing, in [0, 1); 0 = every row trains and draws are evaluated on the training rows only (default 0.2)" };
        public readonly Option<string?> TestData = new("--test-data") { Description = "CSV: a separate test set, a CSV file with the same columns; every row of --data then trains (not with --test-fraction)" };
        public readonly Option<double?> ValFraction = new("--val-fraction") { Description = "share of the training rows held out as a validation split (seeded by --split-seed), evaluated as split 'val' (default 0)" };
        public readonly Option<int?> SplitSeed = new("--split-seed") { Description = "seed of the CSV train/test split and of the validation split (default 0)" };
        public readonly Option<string?> Sampler = new("--sampler") { Description = $"posterior method: {string.Join(", ", Workbench.Samplers.SamplerRegistry.Names)} (default sgld; see 'workbench samplers')" };
        public readonly Option<double?> Lr = new("--lr") { Description = "step size η: the sampler's step_size (default: the sampler's own; see 'workbench samplers')" };
        public readonly Option<string[]> Param = new("--param") { Description = "a sampler hyperparameter NAME=VALUE, repeatable (see 'workbench samplers')", AllowMultipleArgumentsPerToken = false };
        public readonly Option<int?> Draws = new("--draws") { Description = "fitted methods (mfvi, elrg, swag, ensemble): draws per chain from the fitted distribution (default 20)" };
        public readonly Option<string?> ChainMode = new("--chain-mode") { Description = "auto (default: batched, but convnets on the CPU one chain after another, which is faster there), batched (chains as one batched computation) or sequential; same draws either way" };
        public readonly Option<string?> Dtype = new("--dtype") { Description = "float32 or float64 (for small models, e.g. HMC references) (default float32)" };
        public readonly Option<int?> Chains = new("--chains") { Description = "number of chains K (default 2; see --chain-mode)" };
        public readonly Option<int?> Steps = new("--steps") { Description = "iterations per chain, warm-up included (default 2000)" };
        public readonly Option<int?> Warmup = new("--warmup") { Description = "iterations discarded before the first draw (default 500)" };
        public readonly Option<int?> Thin = new("--thin") { Description = "keep every n-th iteration after warm-up as a draw (default 10)" };
        public readonly Option<int?> BatchSize = new("--batch-size") { Description = "minibatch size |B| (default 128)" };
        public readonly Option<bool?> Augment = new("--augment") { Description = "image data, minibatch methods: randomly mirror each training example and crop it from its 4-pixel zero padding, every batch (the usual CIFAR-10 augmentation; evaluation is never augmented)" };
        public readonly Option<double?> Temperature = new("--temperature") { Description = "posterior temperature T; 1 is the Bayes posterior (default 1)" };
        public readonly Option<double?> PriorStd = new("--prior-std") { Description = "sd σ of the Gaussian prior N(0, σ²I) on trainable entries (default 1)" };
        public readonly Option<double?> PriorPrecision = new("--prior-precision") { Description = "mfvi, elrg: the paper's per-layer prior N(0, 1/(λ·fan)) with this λ instead of N(0, σ²I); fan = out_features (Linear) or in_channels (conv); paper: 0.01 MLPs, 1 ResNet" };
        public readonly Option<double?> NoiseStd = new("--noise-std") { Description = "linreg: known observation noise sd (default 1)" };
        public readonly Option<ulong?> Seed = new("--seed") { Description = "run seed: initial positions, sampler noise, batch order (default 0)" };
        public readonly Option<int?> Track = new("--track") { Description = "networks: how many parameters draws.parquet records, spread over the layers' weights (default 8; linreg: all)" };
        public readonly Option<bool?> EvalTrain = new("--eval-train") { Description = "also evaluate draws on the training set: --eval-train true|false (default false; true where there is no test split)" };
        public readonly Option<double?> DivergenceFactor = new("--divergence-factor") { Description = $"stop a chain as diverged when its loss or gradient norm grows this many times beyond its first step's (0 = only non-finite values; default {Workbench.Studies.Sampling.DivergenceRule.DefaultFactor:G})" };
        public readonly Option<int?> EvalEvery = new("--eval-every") { Description = "evaluate every n-th draw and the last; the running BMA uses evaluated draws (default: the smallest n that keeps evaluation within 5 % of the sampling's arithmetic, said at the start and recorded in the manifest; fitted methods: 1)" };
        public readonly Option<string?> Device = new("--device") { Description = "auto (CUDA when available), cpu or cuda (default auto)" };
        public readonly Option<int?> Threads = new("--threads") { Description = "CPU threads for torch; 0 = the CPUs this process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS (default 0; more is refused)" };
        public readonly Option<int?> CheckpointEvery = new("--checkpoint-every") { Description = "steps between checkpoints that 'workbench resume' continues from; 0 = none (default max(100, steps/20))" };
        public readonly Option<double?> MaxEpochs = new("--max-epochs") { Description = "budget: stop each chain group after the step at which its epoch counter reaches this (--steps stays the cap)" };
        public readonly Option<long?> MaxGradEvals = new("--max-grad-evals") { Description = "budget: stop each chain group once its per-chain gradient evaluations (grad_evals) reach this" };
        public readonly Option<double?> MaxWallTime = new("--max-wall-time") { Description = "budget: stop each chain group once its wall time reaches this many seconds (sequential chains: each gets it)" };
        public readonly Option<int?> ProgressEvery = new("--progress-every") { Description = "fitted methods: steps between progress evaluations written to progress.parquet; 0 = none (default max(1, steps/20))" };
        public readonly Option<int?> ProgressDraws = new("--progress-draws") { Description = "fitted methods: draws from the current fit per progress evaluation (default 8)" };
        public readonly Option<string?> Out = new("--out") { Description = "output folder (default results/<command>)" };
        public readonly Option<bool> Force = new("--force") { Description = "replace an existing run folder at --out" };
        public readonly Option<bool> YesIKnow = new("--yes-i-know") { Description = "run even when the up-front estimate says the run needs more memory than this process may use, or more than a day (see README, 'Resource limits')" };

        public void AddTo(Command command)
        {
            foreach (var o in new Option[] { Model, Widths, Depth, Activation, LayerNorm, NFix, Kappa, FiGluStd, WidthMultiplier, MaskSeed, Data, Target, TestFraction, TestData, ValFraction, SplitSeed,
                         Sampler, Lr, Param, Draws, ChainMode, Dtype, Chains, Steps, Warmup, Thin, BatchSize, Augment, Temperature, PriorStd, PriorPrecision, NoiseStd, Seed, Track, EvalTrain, EvalEvery, DivergenceFactor,
                         Device, Threads, CheckpointEvery, MaxEpochs, MaxGradEvals, MaxWallTime, ProgressEvery, ProgressDraws, Out, Force, YesIKnow })
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
                FiGluStd = ParseFiGluStd(r.GetValue(FiGluStd)) ?? m.FiGluStd,
                WidthMultiplier = r.GetValue(WidthMultiplier) ?? m.WidthMultiplier,
                MaskSeed = r.GetValue(MaskSeed) ?? m.MaskSeed,
            };
            var options = defaults with
            {
                Model = model,
                Data = r.GetValue(Data) ?? defaults.Data,
                Target = r.GetValue(Target) ?? defaults.Target,
                TestFraction = r.GetValue(TestData) is not null && r.GetValue(TestFraction) is { } f
                    ? throw new OptionException($"--test-data FILE is the test set, so --test-fraction {f} does not apply: give one or the other")
                    : r.GetValue(TestFraction) ?? defaults.TestFraction,
                TestData = r.GetValue(TestData) ?? defaults.TestData,
                ValFraction = r.GetValue(ValFraction) ?? defaults.ValFraction,
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
                Augment = r.GetValue(Augment) ?? defaults.Augment,
                Temperature = r.GetValue(Temperature) ?? defaults.Temperature,
                PriorStd = r.GetValue(PriorStd) is { } sd && r.GetValue(PriorPrecision) is { } precision
                    ? throw new OptionException($"--prior-std {sd} (N(0, σ²I)) and --prior-precision {precision} (per-layer N(0, 1/(λ·fan))) are two priors: give one")
                    : r.GetValue(PriorStd) ?? defaults.PriorStd,
                PriorPrecision = r.GetValue(PriorPrecision) ?? defaults.PriorPrecision,
                NoiseStd = r.GetValue(NoiseStd) ?? defaults.NoiseStd,
                Seed = r.GetValue(Seed) ?? defaults.Seed,
                Track = r.GetValue(Track) ?? defaults.Track,
                EvalTrain = r.GetValue(EvalTrain) ?? defaults.EvalTrain,
                EvalEvery = r.GetValue(EvalEvery) is { } every && every < 1
                    ? throw new OptionException($"--eval-every must be at least 1, got {every} (leave it out for the default)")
                    : r.GetValue(EvalEvery) ?? defaults.EvalEvery,
                DivergenceFactor = r.GetValue(DivergenceFactor) ?? defaults.DivergenceFactor,
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
                YesIKnow = r.GetValue(YesIKnow),
                Study = study,
                CommandLine = ["workbench", .. r.Tokens.Select(t => t.Value)],
            };
            // Without a test split the draws are evaluated on the training rows, whatever the default says.
            return r.GetValue(EvalTrain) is null && options.TrainsOnEveryRow ? options with { EvalTrain = true } : options;
        }
    }

    /// <summary>--figlu-std, one meaning for every command that builds a σ-Asym network.</summary>
    private static Option<string?> FiGluStdOption() => new("--figlu-std")
    {
        Description = "σ-Asym: sd of the entries of FiGLU's fixed matrix F: a number (that sd in every layer) or C/sqrt(d) (sd C/√d, d = the layer's width " +
            "for MLPs, its channels for convnets). Default: 1 for MLPs (the paper's MNIST MLP code), 1/sqrt(d) for convnets (its ResNets); " +
            "with 1 a 512-wide layer's gate sigmoid(F x) is nearly binary",
    };

    private static FiGluScale? ParseFiGluStd(string? text) =>
        text is null ? null : FiGluScale.TryParse(text, out string problem) ?? throw new OptionException($"--figlu-std {problem}");

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

    /// <summary>
    /// The entries of a comma-separated option value. An empty entry ('32,,32', a trailing comma) is refused rather than
    /// dropped: it is most often a number that went missing.
    /// </summary>
    private static string[] CommaList(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.All(p => p.Length == 0)) throw new OptionException($"{option} is empty");
        if (parts.Any(p => p.Length == 0)) throw new OptionException($"{option} has an empty entry in '{text}'; separate the values by single commas");
        return parts;
    }

    private static int[] ParseWidths(string text)
    {
        var parts = CommaList(text, "--widths");
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out widths[i]) || widths[i] <= 0)
                throw new OptionException($"--widths must be positive integers separated by commas, got '{text}'");
        if (widths.Length == 0) throw new OptionException("--widths is empty");
        return widths;
    }

    private static int[] ParseInputShape(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var shape = new int[parts.Length];
        bool valid = parts.Length == 3;
        for (int i = 0; i < parts.Length && valid; i++) valid = int.TryParse(parts[i], out shape[i]) && shape[i] > 0;
        return valid ? shape : throw new OptionException($"--input-shape must be three positive integers C,H,W, got '{text}'");
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
            // Commands that write a run or study folder mark it failed before this line; read-only commands write nothing.
            error.WriteLine($"error: failed: {OneLine(e.Message)} ({e.GetType().Name}; a run or study folder being written is marked \"failed\" in its manifest)");
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
        var savePositions = new Option<int?>("--save-positions") { Description = $"store the full θ of every n-th draw of each chain (at most {SampleOptions.MaxSavedPositions} per chain) under positions/, for 'workbench barriers'; 0 = off (default 0)" };
        command.Options.Add(variant);
        options.AddTo(command);
        command.Options.Add(savePositions);
        command.SetAction(r => Guarded(error, () =>
        {
            var v = ParseVariant(r.GetValue(variant)!);
            // Options of another variant would be ignored silently: refuse them (compare applies them to its W-Asym arms).
            if (v != Variant.WAsym && (r.GetValue(options.NFix) is not null || r.GetValue(options.Kappa) is not null))
                throw new OptionException($"{(r.GetValue(options.NFix) is not null ? "--n-fix" : "--kappa")} applies to --variant w-asym; this run is --variant {r.GetValue(variant)}");
            var o = options.Apply(r, new SampleOptions { Model = new ModelOptions("mlp"), Out = Path.Combine("results", "sample") },
                v, "sample") with { SavePositions = r.GetValue(savePositions) ?? 0, BatchSizeGiven = r.GetValue(options.BatchSize) is not null,
                    TestFractionGiven = r.GetValue(options.TestFraction) is not null };
            var result = SamplingRun.Execute(o, output);
            output.WriteLine($"finished: {result.Folder} ({result.Seconds:F1} s, {result.StepsPerSecond:F1} steps/s)");
            return DivergenceExit(result, error);
        }));
        return command;
    }

    private static Command CompareCommand(TextWriter output, TextWriter error) => StudyCommand(new Command("compare",
            "Run a study: models × variants (standard, w-asym, sigma-asym) × samplers × seeds, K chains per run, then tables, figures and report.md.\n" +
            "From a config file (--config), a shipped preset (--preset; --list-presets), or flags (--model, --sampler sgld,elrg, --variants, --seeds, ...).\n" +
            "Budget per run: --steps, or --max-epochs / --max-grad-evals / --max-wall-time (with --steps as the cap).\n" +
            "Writes <out>/runs/<run>/ (one run folder each), <out>/study.json, summary.csv, summary.md, report.md and figures (.png and .svg).\n" +
            "Example: workbench compare --preset bnn-depth8   |   workbench compare --preset make-run --print-config > my-study.json"),
        output, error, (study, launch) => StudyExit(ComparisonStudy.Execute(study, launch, output), output, error), JobsOption());

    /// <summary>--jobs of compare and resume: cells at once, each a `run-cell` process with its share of the threads.</summary>
    private static Option<int> JobsOption() => new("--jobs")
    {
        Description = "cells run at once, each in its own 'run-cell' process with max(1, threads / N) torch threads (default 1: one after another in this process)",
        DefaultValueFactory = _ => 1,
    };

    /// <summary>The program `run-cell` processes run: this very build.</summary>
    private static WorkbenchLauncher ThisLauncher() => WorkbenchLauncher.Of(typeof(WorkbenchCli).Assembly.Location, Environment.ProcessPath,
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"), Environment.GetEnvironmentVariable("PATH"));

    private static Command PlanCommand(TextWriter output, TextWriter error) => StudyCommand(new Command("plan",
            "Plan a study without running it: check it as 'compare' does and write its folder with the list of cells, one run each.\n" +
            "Then run each cell on its own ('workbench run-cell PLAN_DIR --index I': a Slurm array task — 'workbench submit PLAN_DIR --slurm' — a shell\n" +
            "loop, other machines on a shared filesystem) and build the study's outputs with 'workbench collect PLAN_DIR'. Same options as 'compare'.\n" +
            "Example: workbench plan --preset bnn-depth8 --out plans/bnn-depth8"),
        output, error, (study, launch) =>
        {
            var (folder, cells) = ComparisonStudy.Plan(study, launch, output);
            output.WriteLine($"plan: {folder} ({cells} cells, indices 0 … {cells - 1})");
            output.WriteLine($"next: workbench run-cell {folder} --index I   (or: workbench submit {folder} --slurm), then: workbench collect {folder}");
            return 0;
        });

    private static Command RunCellCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("run-cell", "Run exactly one cell of a planned study into its run folder. Idempotent: a finished cell is left alone;\n" +
            "an interrupted one resumes from its checkpoint; a failed or missing one runs from the start. Writes only that cell's folder.");
        var plan = new Argument<string>("PLAN_DIR") { Description = "a study folder written by 'workbench plan'" };
        var index = new Option<int?>("--index") { Description = "the cell, 0 … cells − 1 (Slurm: $SLURM_ARRAY_TASK_ID)", Required = true };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for torch, instead of the study's; " + "0 = the CPUs this process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS" };
        command.Arguments.Add(plan);
        command.Options.Add(index);
        command.Options.Add(threads);
        command.SetAction(r => Guarded(error, () =>
        {
            ComparisonStudy.RunCell(r.GetValue(plan)!, r.GetValue(index)!.Value, output, r.GetValue(threads));
            return 0;
        }));
        return command;
    }

    private static Command CollectCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("collect", "Build a planned study's tables, figures and report.md from its finished cells, exactly as 'compare' would.\n" +
            "Refuses, naming them, while any cell is missing, running or failed: never a report of a part.");
        var plan = new Argument<string>("PLAN_DIR") { Description = "a study folder written by 'workbench plan'" };
        command.Arguments.Add(plan);
        command.SetAction(r => Guarded(error, () => StudyExit(ComparisonStudy.Collect(r.GetValue(plan)!, IsTerminal(output), output), output, error)));
        return command;
    }

    private static Command SubmitCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("submit", "Submit a planned study as one Slurm job array: task i runs 'workbench run-cell PLAN_DIR --index i'.\n" +
            "Writes PLAN_DIR/slurm/submit.sbatch (absolute paths to this very build and to the plan: the nodes need them on a shared\n" +
            "filesystem), runs 'sbatch --parsable' on it and records the job id in PLAN_DIR/slurm/jobs.txt. Submitting again reruns only\n" +
            "unfinished cells. Example: workbench submit plans/bnn-depth8 --slurm --partition cpu --time 02:00:00 --max-parallel 8");
        var plan = new Argument<string>("PLAN_DIR") { Description = "a study folder written by 'workbench plan'" };
        var slurm = new Option<bool>("--slurm") { Description = "submit to Slurm with sbatch (the only backend; required)" };
        var partition = new Option<string?>("--partition") { Description = "Slurm partition (default: the cluster's)" };
        var time = new Option<string?>("--time") { Description = "time limit per task, in sbatch's format, e.g. 01:30:00" };
        var cpus = new Option<int?>("--cpus-per-task") { Description = "CPUs per task (match the study's threads)" };
        var mem = new Option<string?>("--mem") { Description = "memory per task, in sbatch's format, e.g. 4G" };
        var maxParallel = new Option<int?>("--max-parallel") { Description = "at most K tasks at once (--array=0-N%K)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "write the script and print its path; do not call sbatch" };
        command.Arguments.Add(plan);
        foreach (var o in new Option[] { slurm, partition, time, cpus, mem, maxParallel, dryRun }) command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            if (!r.GetValue(slurm)) throw new OptionException("submit needs --slurm (Slurm is the only backend); or run the cells yourself with 'workbench run-cell PLAN_DIR --index I'");
            string folder = r.GetValue(plan)!;
            var launcher = WorkbenchLauncher.Of(typeof(WorkbenchCli).Assembly.Location, Environment.ProcessPath,
                Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"), Environment.GetEnvironmentVariable("PATH"));
            string script = SlurmScript.Write(folder, launcher, new SlurmOptions(r.GetValue(partition), r.GetValue(time), r.GetValue(cpus), r.GetValue(mem), r.GetValue(maxParallel)));
            output.WriteLine($"script: {script}");
            if (r.GetValue(dryRun)) return 0;
            string job = SlurmJobs.Submit(folder, script);
            output.WriteLine($"job: {job}");
            output.WriteLine($"next: workbench status {folder}, then: workbench collect {folder}");
            return 0;
        }));
        return command;
    }

    private static Command StatusCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("status", "Where each cell of a planned study stands (done, running, interrupted, failed, pending), read from its run\n" +
            "folder (a cell on another node is running while its heartbeat file is under a minute old), and the Slurm queue state of the jobs 'workbench submit' recorded (where squeue is installed).");
        var plan = new Argument<string>("PLAN_DIR") { Description = "a study folder written by 'workbench plan'" };
        command.Arguments.Add(plan);
        command.SetAction(r => Guarded(error, () =>
        {
            string folder = r.GetValue(plan)!;
            var cells = PlanProgress.Cells(folder);
            int width = cells.Select(c => c.Cell.Id.Length).DefaultIfEmpty(0).Max();
            foreach (var (cell, state) in cells)
                output.WriteLine($"{cell.Id.PadRight(width)}  {PlanProgress.Name(state)}" +
                    (state == PlanProgress.CellState.Running ? $" ({RunFolder.WriterName(Path.Combine(folder, cell.Folder))})" : ""));
            output.WriteLine($"{cells.Count} cells: " + string.Join(", ", Enum.GetValues<PlanProgress.CellState>()
                .Select(s => $"{cells.Count(c => c.State == s)} {PlanProgress.Name(s)}")));
            foreach (string job in SlurmJobs.Recorded(folder))
            {
                if (SlurmJobs.QueueStates(job) is not { } states) break; // no squeue here: the cells above are all there is
                output.WriteLine(states.Count == 0 ? $"slurm job {job}: not in the queue (ended)" : $"slurm job {job}: {string.Join(", ", states)}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>A command that reads a study from --config, --preset or flags, as compare does, and hands it to <paramref name="act"/>.</summary>
    private static Command StudyCommand(Command command, TextWriter output, TextWriter error, Func<StudyConfig, StudyLaunch, int> act, Option<int>? jobs = null)
    {
        var config = new Option<string?>("--config") { Description = "study config file (JSON; format in the README, section 'Study configs'; comments allowed)" };
        var preset = new Option<string?>("--preset") { Description = $"a shipped study config by name: {string.Join(", ", StudyPresets.Names)}" };
        var fullSize = new Option<bool>("--full-size") { Description = "with --config/--preset: apply the config's documented full-size settings (its full_size section)" };
        var printConfig = new Option<bool>("--print-config") { Description = "print the resolved study config as JSON and exit (a start for your own --config)" };
        var listPresets = new Option<bool>("--list-presets") { Description = "list the shipped presets and exit" };
        var variants = new Option<string?>("--variants") { Description = "comma-separated variants (default standard,w-asym,sigma-asym)" };
        var seeds = new Option<string?>("--seeds") { Description = "comma-separated run seeds, one run per seed (default 0)" };
        var target = new Option<double?>("--target-accuracy") { Description = "BMA test accuracy whose first crossing the report times (default 0.9)" };
        var options = new RunOptions();
        foreach (var o in new Option[] { config, preset, fullSize, printConfig, listPresets, variants, seeds, target }) command.Options.Add(o);
        options.AddTo(command);
        // With a config, these flags adjust it; every other run flag belongs in the config file.
        if (jobs is not null) command.Options.Add(jobs);
        var overrides = new Option?[] { options.Out, options.Force, options.Threads, options.Data, options.Chains, options.Augment, options.YesIKnow, options.Steps, options.MaxEpochs, options.MaxGradEvals, options.MaxWallTime, variants, seeds, target, fullSize, jobs }
            .OfType<Option>().ToArray();
        command.SetAction(r => Guarded(error, () =>
        {
            if (r.GetValue(listPresets))
            {
                foreach (var name in StudyPresets.Names) output.WriteLine($"{name,-14} {StudyPresets.Description(name)}");
                return 0;
            }
            string? file = r.GetValue(config), presetName = r.GetValue(preset);
            if (file is not null && presetName is not null) throw new OptionException("give --config or --preset, not both");
            StudyConfig study;
            string source;
            if (file is not null || presetName is not null)
            {
                var stray = command.Options.Where(o => o != config && o != preset && o != printConfig && !overrides.Contains(o) && r.GetResult(o) is { Implicit: false }).ToList();
                if (stray.Count > 0)
                    throw new OptionException($"{string.Join(", ", stray.Select(o => o.Name))} cannot be combined with --config/--preset: set it in the config ('--print-config' prints the resolved one to edit)");
                source = file ?? $"preset {presetName}";
                if (file is not null && !File.Exists(file)) throw new OptionException($"--config {file}: no such file");
                study = file is not null ? StudyConfig.Parse(file, File.ReadAllText(file), r.GetValue(fullSize)) : StudyPresets.Get(presetName!, r.GetValue(fullSize));
                study = Adjust(study, r, options, variants, seeds, target);
            }
            else
            {
                if (r.GetValue(fullSize)) throw new OptionException("--full-size needs --config or --preset");
                source = "flags";
                study = FromFlags(r, options, variants, seeds, target);
            }
            if (r.GetValue(printConfig))
            {
                output.WriteLine(study.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
                return 0;
            }
            var launch = new StudyLaunch
            {
                Out = r.GetValue(options.Out), Force = r.GetValue(options.Force), Source = source, Live = IsTerminal(output),
                CommandLine = ["workbench", .. r.Tokens.Select(t => t.Value)],
                Jobs = jobs is null ? 1 : r.GetValue(jobs),
                Launcher = jobs is not null && r.GetValue(jobs) > 1 ? ThisLauncher() : null,
            };
            return act(study, launch);
        }));
        return command;
    }

    /// <summary>The flags a user may add to a config: where it runs, how many seeds and chains, whether batches are augmented, how long.</summary>
    private static StudyConfig Adjust(StudyConfig study, ParseResult r, RunOptions options, Option<string?> variants, Option<string?> seeds, Option<double?> target)
    {
        if (r.GetValue(options.Data) is { } data) study = study with { Data = data };
        if (r.GetValue(options.Threads) is { } threads) study = study with { Threads = threads };
        if (r.GetValue(options.Chains) is { } chains) study = study with { Chains = chains >= 1 ? chains : throw new OptionException($"--chains must be at least 1, got {chains}") };
        if (r.GetValue(options.Augment) is { } augment) study = study with { Augment = augment };
        if (r.GetValue(options.YesIKnow)) study = study with { YesIKnow = true };
        if (r.GetValue(variants) is { } v) study = study with { Variants = ParseVariants(v) };
        if (r.GetValue(seeds) is { } s) study = study with { Seeds = ParseSeeds(s) };
        if (r.GetValue(target) is { } t) study = study with { TargetAccuracy = t > 0 && t <= 1 ? t : throw new OptionException($"--target-accuracy must be in (0, 1], got {t}") };
        if (Budget(r, options) is { } budget) study = study with { Budget = budget };
        return study;
    }

    /// <summary>A budget from flags, or null when none was given: --max-epochs, --max-grad-evals, --max-wall-time (capped by --steps) or --steps.</summary>
    private static StudyBudget? Budget(ParseResult r, RunOptions options)
    {
        var given = new List<StudyBudget>();
        if (r.GetValue(options.MaxEpochs) is { } e) given.Add(new("epochs", e > 0 ? e : throw new OptionException($"--max-epochs must be positive, got {e}"), null));
        if (r.GetValue(options.MaxGradEvals) is { } g) given.Add(new("grad_evals", g > 0 ? g : throw new OptionException($"--max-grad-evals must be positive, got {g}"), null));
        int? steps = r.GetValue(options.Steps);
        if (steps is <= 0) throw new OptionException($"--steps must be at least 1, got {steps}");
        if (r.GetValue(options.MaxWallTime) is { } w)
            given.Add(new("wall_time_s", w > 0 ? w : throw new OptionException($"--max-wall-time must be positive, got {w}"),
                steps ?? throw new OptionException("--max-wall-time needs --steps as the cap of each run (it fixes schedules, warm-up and thinning)")));
        if (given.Count > 1) throw new OptionException("give one budget: --max-epochs, --max-grad-evals or --max-wall-time");
        if (given.Count == 1 && given[0].Kind != "wall_time_s" && steps is not null) throw new OptionException($"--steps and --max-{(given[0].Kind == "epochs" ? "epochs" : "grad-evals")} both set the length of a run; give one");
        return given.Count == 1 ? given[0] : steps is { } n ? new StudyBudget("steps", n, null) : null;
    }

    /// <summary>A one-model study from the run flags (quick use): every sampler in --sampler a,b on every variant.</summary>
    private static StudyConfig FromFlags(ParseResult r, RunOptions options, Option<string?> variants, Option<string?> seeds, Option<double?> target)
    {
        var o = options.Apply(r, new SampleOptions { Model = new ModelOptions("mlp"), Out = Path.Combine("results", "compare") }, Variant.Standard, "compare");
        if (o.IsRegression) throw new OptionException("compare needs a network model: linreg has no symmetry-reduced variants");
        if (o.Target is not null) throw new OptionException("compare runs classification studies; --target applies only to CSV regression");
        var names = CommaList(o.Sampler, "--sampler");
        o.Validate();
        var budget = Budget(r, options) ?? new StudyBudget("steps", o.Steps, null);
        int steps = budget.MaxSteps ?? (budget.Kind == "steps" ? (int)budget.Value : o.Steps);
        var samplers = names.Select(name =>
        {
            if (!Workbench.Samplers.SamplerRegistry.Names.Contains(name))
                throw new OptionException($"--sampler: unknown sampler '{name}' (available: {string.Join(", ", Workbench.Samplers.SamplerRegistry.Names)})");
            // The registry knows which methods are fitted; a throwaway instance asks it (and checks --param early).
            var probe = Workbench.Samplers.SamplerRegistry.Create(name,
                new Workbench.Samplers.SamplerContext(new Workbench.Samplers.Tempering(o.BatchSize, o.BatchSize, o.Temperature, o.PriorStd) { PriorPrecision = o.PriorPrecision }, steps),
                o.StepSize is { } lr ? new Dictionary<string, double>(o.SamplerParameters) { ["step_size"] = lr } : o.SamplerParameters);
            bool fitted = probe.Kind == Workbench.Samplers.SamplerKind.Fitted;
            // A Markov chain keeps the --warmup/--thin grid's draws; a fitted method draws --draws times.
            return new StudySampler(name, name, o.StepSize, o.SamplerParameters, null, null, fitted ? o.Draws : Math.Max(1, (steps - o.Warmup) / o.Thin), null, null);
        }).ToList();
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.Out)));
        return new StudyConfig
        {
            Name = name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? name : "compare",
            Data = o.Data,
            Models = [new StudyModel(o.Model.Model, o.Model with { Variant = Variant.Standard })],
            Variants = r.GetValue(variants) is { } v ? ParseVariants(v) : [Variant.Standard, Variant.WAsym, Variant.SigmaAsym],
            Samplers = samplers,
            Seeds = r.GetValue(seeds) is { } s ? ParseSeeds(s) : [o.Seed],
            Chains = o.Chains, ChainMode = o.ChainMode, Budget = budget, BatchSize = o.BatchSize, Augment = o.Augment, YesIKnow = o.YesIKnow,
            WarmupFraction = (double)o.Warmup / steps, Draws = o.Draws, PriorStd = o.PriorStd, PriorPrecision = o.PriorPrecision,
            ValFraction = o.ValFraction, Temperature = o.Temperature,
            TargetAccuracy = r.GetValue(target) ?? 0.9, EvalEvery = o.EvalEvery, EvalTrain = o.EvalTrain, FunctionPoints = o.FunctionPoints,
            Canonical = o.Canonical, Track = o.Track, Threads = o.Threads, Dtype = o.Dtype, CheckpointEvery = o.CheckpointEvery,
            ProgressEvery = o.ProgressEvery, ProgressDraws = o.ProgressDraws,
        };
    }

    private static List<Variant> ParseVariants(string text)
    {
        var list = CommaList(text, "--variants").Select(ParseVariant).ToList();
        if (list.Distinct().Count() != list.Count) throw new OptionException($"--variants lists a variant twice: '{text}'");
        return list;
    }

    private static List<ulong> ParseSeeds(string text)
    {
        var parts = CommaList(text, "--seeds");
        var seeds = parts.Select(p => ulong.TryParse(p, out ulong s) ? s : throw new OptionException($"--seeds must be whole numbers ≥ 0 separated by commas, got '{text}'")).ToList();
        if (seeds.Count == 0) throw new OptionException("--seeds is empty");
        if (seeds.Distinct().Count() != seeds.Count) throw new OptionException($"--seeds lists a seed twice: '{text}'");
        return seeds;
    }

    /// <summary>Output on a terminal gets a live status line; a pipe or file gets plain lines.</summary>
    private static bool IsTerminal(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not ("dumb" or null or "");

    /// <summary>Prints where the study's report is; exit 1 if a run failed, 3 if chains diverged, else 0.</summary>
    private static int StudyExit(StudyResult result, TextWriter output, TextWriter error)
    {
        output.WriteLine();
        string ended = result.Failed.Count > 0 ? "study incomplete" : result.DivergedChains > 0 ? "study finished with divergences" : "study finished";
        output.WriteLine($"{ended}: {result.Finished.Count} runs in {result.Folder} ({result.Seconds:F0} s)");
        output.WriteLine($"report: {result.ReportPath}");
        if (result.Failed.Count > 0)
        {
            error.WriteLine($"error: {result.Failed.Count} run(s) failed and are left out of the report: {string.Join(", ", result.Failed.Select(c => c.Id))}; 'workbench resume {result.Folder}' runs them again");
            return 1;
        }
        if (result.DivergedChains > 0)
        {
            error.WriteLine($"warning: {result.DivergedChains} chain(s) diverged and were stopped (report.md names them); status 'finished_with_divergences'");
            return 3;
        }
        return 0;
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
        var command = new Command("plot", "Rebuild a study's tables, figures and report.md (summary.csv, summary.md, convergence, training loss, calibration, mixing, time to target) from its run folders' Parquet files, without sampling.\n" +
            "Only finished runs are used; interrupted, running or failed ones are named in the report and left out.");
        var study = new Argument<string>("STUDY_DIR") { Description = "the folder 'workbench compare' wrote" };
        command.Arguments.Add(study);
        command.SetAction(r => Guarded(error, () =>
        {
            var result = StudyReport.Build(r.GetValue(study)!, output);
            output.WriteLine($"report: {Path.Combine(r.GetValue(study)!, StudyReport.ReportName)}");
            return 0;
        }));
        return command;
    }

    private static Command BenchCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("bench", "Measure steps per second of every method, SGLD's overhead over SGD, Workbench against a PyTorch reference\n" +
            "(interleaved rounds; needs an interpreter that can import torch), achieved FLOP/s over the sgemm peak, workbench sample's loop over the bare step,\n" +
            "batched vs sequential chains, two processes at once, memory over a long run and the convnets on CIFAR-shaped inputs; then every target with\n" +
            "pass/fail (what `make bench` runs). Timings depend on what else the machine is doing.");
        var outOption = new Option<string>("--out") { Description = "folder for the JSON results", DefaultValueFactory = _ => Path.Combine("results", "bench") };
        var threads = new Option<int>("--threads") { Description = "torch threads; 0 = the CPUs this process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS (default 0)", DefaultValueFactory = _ => 0 };
        var seconds = new Option<double>("--seconds") { Description = "timed seconds per measurement", DefaultValueFactory = _ => 3.0 };
        var memorySteps = new Option<int>("--memory-steps") { Description = "SGLD steps of the memory measurement (≥ 1000)", DefaultValueFactory = _ => 20_000 };
        var rounds = new Option<int>("--rounds") { Description = "interleaved rounds (reference, then Workbench) per cell of the PyTorch comparison", DefaultValueFactory = _ => 3 };
        var python = new Option<string?>("--python") { Description = "interpreter for the PyTorch reference, tried first (then python3, then /usr/bin/python3; the first that can import torch)" };
        var reference = new Option<string?>("--reference") { Description = "the PyTorch reference script (default: bench/pytorch_reference.py next to workbench.dll)" };
        var loopSteps = new Option<int>("--loop-steps") { Description = "SGLD steps of the sample-loop measurement (≥ 100)", DefaultValueFactory = _ => 600 };
        var only = new Option<string?>("--only") { Description = $"comma-separated sections to run (default all but sgld-single): {string.Join(", ", Workbench.Studies.Benchmarks.Benchmark.SectionNames)}" };
        foreach (var o in new Option[] { outOption, threads, seconds, memorySteps, rounds, python, reference, loopSteps, only }) command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            if (r.GetValue(seconds) <= 0) throw new OptionException($"--seconds must be positive, got {r.GetValue(seconds)}");
            if (r.GetValue(memorySteps) < 1000) throw new OptionException($"--memory-steps must be at least 1000, got {r.GetValue(memorySteps)}");
            if (r.GetValue(threads) < 0) throw new OptionException($"--threads must be ≥ 0, got {r.GetValue(threads)}");
            if (r.GetValue(rounds) < 1) throw new OptionException($"--rounds must be at least 1, got {r.GetValue(rounds)}");
            if (r.GetValue(loopSteps) < 100) throw new OptionException($"--loop-steps must be at least 100, got {r.GetValue(loopSteps)}");
            var sections = r.GetValue(only)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (sections?.FirstOrDefault(s => !Workbench.Studies.Benchmarks.Benchmark.SectionNames.Contains(s)) is { } unknown)
                throw new OptionException($"--only: unknown section '{unknown}' (sections: {string.Join(", ", Workbench.Studies.Benchmarks.Benchmark.SectionNames)})");
            // The shared-machine section starts this same build again as child processes.
            var launcher = WorkbenchLauncher.Of(typeof(WorkbenchCli).Assembly.Location, Environment.ProcessPath,
                Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"), Environment.GetEnvironmentVariable("PATH"));
            Workbench.Studies.Benchmarks.Benchmark.Run(new(r.GetValue(outOption)!, r.GetValue(threads), r.GetValue(seconds), r.GetValue(memorySteps), sections,
                r.GetValue(rounds), r.GetValue(python), r.GetValue(reference), r.GetValue(loopSteps), launcher), output);
            return 0;
        }));
        return command;
    }

    private static Command ResumeCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("resume", "Continue an interrupted run (manifest 'running', its process gone) from its last checkpoint and finish it;\n" +
            "the draws equal those of an uninterrupted run (bit for bit with --threads 1). A live, finished or failed run is refused.\n" +
            "Given a study folder: keeps its finished runs, resumes interrupted ones, reruns failed or missing ones, then builds the report.");
        var path = new Argument<string>("RUN_DIR") { Description = "the run folder (or study folder) to continue" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for torch; 0 = the CPUs this process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS (default: the run's, at most those CPUs)" };
        var jobs = JobsOption();
        jobs.Description = "a study folder: " + jobs.Description;
        command.Arguments.Add(path);
        command.Options.Add(threads);
        command.Options.Add(jobs);
        command.SetAction(r => Guarded(error, () =>
        {
            string folder = r.GetValue(path)!;
            bool study = IsStudyFolder(folder);
            if (!study && r.GetResult(jobs) is { Implicit: false }) throw new OptionException("--jobs applies to a study folder; a run is one process");
            if (ZooCommandLine(folder, r.GetValue(threads)) is { } zoo) return Run(zoo, output, error);
            if (study)
            {
                if (r.GetValue(threads) is not null) throw new OptionException("--threads applies to a run folder; a study's runs use its config's threads");
                int n = r.GetValue(jobs);
                return StudyExit(ComparisonStudy.Resume(folder, IsTerminal(output), output, n, n > 1 ? ThisLauncher() : null), output, error);
            }
            var result = SamplingRun.Resume(folder, r.GetValue(threads), output);
            output.WriteLine($"finished: {result.Folder} ({result.Seconds:F1} s, {result.StepsPerSecond:F1} steps/s)");
            return DivergenceExit(result, error);
        }));
        return command;
    }

    /// <summary>For a zoo folder: the zoo command that continues it (its recorded command line with --resume and this
    /// folder as --out; --threads replaced when given); null for any other folder.</summary>
    private static string[]? ZooCommandLine(string folder, int? threads)
    {
        Manifest manifest;
        try
        {
            manifest = Manifest.Load(folder);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            return null;
        }
        if (manifest.Study != ModelZoo.Study) return null;
        var recorded = (manifest.Get("command_line") as JsonArray)?.Select(t => t?.GetValue<string>() ?? "").Skip(1).ToList() ?? [];
        if (recorded.FirstOrDefault() == "zoo") recorded.RemoveAt(0);
        var args = new List<string> { "zoo" };
        for (int i = 0; i < recorded.Count; i++)
        {
            string token = recorded[i];
            if (token is "--force" or "--resume") continue;
            if (token is "--out" || (token is "--threads" && threads is not null)) { i++; continue; }
            if (token.StartsWith("--out=", StringComparison.Ordinal) || (threads is not null && token.StartsWith("--threads=", StringComparison.Ordinal))) continue;
            args.Add(token);
        }
        args.AddRange(["--out", folder, "--resume"]);
        if (threads is { } n) args.AddRange(["--threads", n.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return args.ToArray();
    }

    private static bool IsStudyFolder(string folder)
    {
        try
        {
            return Manifest.Load(folder).Study == StudyPlan.ManifestStudy;
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            return false;
        }
    }

    private static Command BarriersCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("barriers", "Loss barriers between posterior samples of a finished run with saved positions (workbench sample … --save-positions N):\n" +
            "the midpoint and Entezari barriers of loss and error on the straight path between every pair of saved draws, without alignment,\n" +
            "grouped within chain, between chains and (cyclical samplers) within and between cycles. Writes barriers.parquet, barrier-matrix.png/svg and barriers.md.");
        var path = new Argument<string>("RUN_DIR") { Description = "the run folder" };
        var points = new Option<int>("--points") { Description = "λ on the straight path, both ends included; odd (default 25)", DefaultValueFactory = _ => 25 };
        var split = new Option<string>("--split") { Description = "test or train (default test)", DefaultValueFactory = _ => "test" };
        var maxDraws = new Option<int>("--max-draws") { Description = "the most saved draws compared (all pairs), evenly spaced within each chain (default 24)", DefaultValueFactory = _ => 24 };
        var outOption = new Option<string?>("--out") { Description = "where to write the table, figure and summary (default: the run folder)" };
        command.Arguments.Add(path);
        command.Options.Add(points);
        command.Options.Add(split);
        command.Options.Add(maxDraws);
        command.Options.Add(outOption);
        command.SetAction(r => Guarded(error, () =>
        {
            Workbench.Studies.ModeConnectivity.PosteriorBarriers.Execute(new(r.GetValue(path)!)
            {
                Points = r.GetValue(points), Split = r.GetValue(split)!, MaxDraws = r.GetValue(maxDraws), Out = r.GetValue(outOption),
            }, output);
            return 0;
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
        var space = new Option<string>("--space") { Description = "which view: all (default: every view the run has), raw (tracked parameters), canonical (standard networks aligned by weight matching), function (probability of the true class per test point)", DefaultValueFactory = _ => "all" };
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

    /// <summary>The options lmc, merge and mli share: the preset, model, training, seeds, data and output.</summary>
    private sealed class TrainingStudyCliOptions
    {
        private readonly Option<string> _preset = new("--preset")
        {
            Description = $"starting settings: {string.Join(", ", TrainingStudyPresets.Names)} (see the description above; flags override them)",
            DefaultValueFactory = _ => "lmc-mlp",
        };
        private readonly Option<bool> _fullSize = new("--full-size") { Description = "the preset's documented full size (GPU-sized: full data set, paper's epochs; convnet presets read ./" + TrainingStudyPresets.Cifar10Folder + " unless --data names the CIFAR-10 folder)" };
        private readonly Option<string?> _model = new("--model") { Description = "the network (default: the preset's): mlp-mnist-lmc, mlp, mlp-bnn, cnn, resnet8, resnet20, resnet20-bnn" };
        private readonly Option<string?> _widths = new("--widths") { Description = "hidden widths of --model mlp or stage channels of --model cnn, comma-separated" };
        private readonly Option<int?> _epochs = new("--epochs") { Description = "training epochs (default: the preset's; lmc-mlp 2, paper 25)" };
        private readonly Option<int?> _batchSize = new("--batch-size") { Description = "minibatch size (default: the preset's; lmc-mlp 64)" };
        private readonly Option<bool?> _augment = new("--augment") { Description = "image data: randomly mirror each training example and crop it from its 4-pixel zero padding, every batch (evaluation is never augmented)" };
        private readonly Option<double?> _lr = new("--lr") { Description = "AdamW learning rate (default: the preset's; 1e-3)" };
        private readonly Option<double?> _weightDecay = new("--weight-decay") { Description = "AdamW decoupled weight decay on trainable entries (default: the preset's; lmc-mlp 0.03)" };
        private readonly Option<string?> _schedule = new("--schedule") { Description = "learning-rate schedule: none or cosine (default: the preset's; lmc-mlp none)" };
        private readonly Option<ulong?> _seed = new("--seed") { Description = "run seed: each network's init and data order (default 0)" };
        private readonly Option<ulong?> _maskSeed = new("--mask-seed") { Description = "seed of W-Asym masks and FiGLU matrices: each pair (lmc), merged set (merge) or network (mli) draws its own from it and its index, reproducibly (default 0)" };
        private readonly Option<bool> _sharedMasks = new("--shared-masks") { Description = "one set of masks and FiGLU matrices, from --mask-seed itself, for every pair or network (before issue #15 the only behaviour)" };
        private readonly Option<string?> _figluStd;
        private readonly Option<int?> _evalExamples = new("--eval-examples") { Description = "evaluate on the first N examples of each split; 0 = all (default: the preset's; lmc-mlp 2000)" };
        private readonly Option<int?> _trainExamples = new("--train-examples") { Description = "train on the first N training examples; 0 = all (default: the preset's; lmc-mlp 0)" };
        private readonly Option<double?> _valFraction = new("--val-fraction") { Description = "share of the training split held out for validation before training, seeded by --split-seed (default: the preset's; lmc-mlp 0.1, the paper's code; others 0)" };
        private readonly Option<int?> _splitSeed = new("--split-seed") { Description = "seed of the validation split (default 0)" };
        private readonly Option<string?> _data = new("--data") { Description = "mnist-subset (embedded; the CPU presets' data), a folder of MNIST IDX files or a CIFAR-10 binary folder" };
        private readonly Option<int?> _threads = new("--threads") { Description = "CPU threads for torch; 0 = the CPUs this process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS (default 0; more is refused)" };
        private readonly Option<string?> _out;
        private readonly Option<bool> _force = new("--force") { Description = "replace an existing run folder at --out" };

        private readonly bool _figluList;

        /// <param name="figluList">--figlu-std takes a comma-separated list (lmc: one σ-Asym column each).</param>
        public TrainingStudyCliOptions(Command command, bool figluList = false)
        {
            _out = new("--out") { Description = $"output folder (default results/{command.Name})" };
            _figluList = figluList;
            _figluStd = FiGluStdOption();
            if (figluList)
                _figluStd.Description = "σ-Asym FiGLU sd of each σ-Asym column, comma-separated: numbers (that sd in every layer) or C/sqrt(d) (sd C/√d, d = the layer's width, " +
                    "a convnet's channels). Default: MLPs 1,1/sqrt(d) (two columns: the paper's MNIST MLP code uses 1, its ResNets 1/√d); convnets 1/sqrt(d)";
            foreach (var o in new Option[] { _preset, _fullSize, _model, _widths, _epochs, _batchSize, _augment, _lr, _weightDecay, _schedule, _seed, _maskSeed, _sharedMasks, _figluStd, _evalExamples, _trainExamples, _valFraction, _splitSeed, _data, _threads, _out, _force })
                command.Options.Add(o);
        }

        /// <summary>The --figlu-std values given, or null.</summary>
        public IReadOnlyList<FiGluScale>? FiGluStds(ParseResult r)
        {
            if (r.GetValue(_figluStd) is not { } text) return null;
            var values = text.Split(',', StringSplitOptions.TrimEntries).Select(v => ParseFiGluStd(v)!.Value).ToList();
            if (!_figluList && values.Count != 1) throw new OptionException($"--figlu-std takes one value here, got '{text}'");
            return values;
        }

        /// <summary><paramref name="d"/> (a study's defaults) with the shared options given on the command line.</summary>
        public T Apply<T>(ParseResult r, T d) where T : TrainingStudyOptions
        {
            string presetName = r.GetValue(_preset)!;
            if (!TrainingStudyPresets.Names.Contains(presetName))
                throw new OptionException($"--preset must be one of {string.Join(", ", TrainingStudyPresets.Names)}, got '{presetName}'");
            d = TrainingStudyPresets.Get(presetName).Apply(d, r.GetValue(_fullSize));
            string[] networks = ["mlp-mnist-lmc", "mlp", "mlp-bnn", "cnn", "resnet8", "resnet20", "resnet20-bnn"];
            string modelName = r.GetValue(_model) ?? d.Model.Model;
            if (!networks.Contains(modelName)) throw new OptionException($"--model must be one of {string.Join(", ", networks)}, got '{modelName}'");
            if (r.GetValue(_widths) is not null && modelName is not ("mlp" or "cnn")) throw new OptionException("--widths applies only to --model mlp and --model cnn");
            var schedules = new Dictionary<string, LearningRateSchedule> { ["none"] = LearningRateSchedule.None, ["cosine"] = LearningRateSchedule.Cosine };
            var chosen = d.Training.Schedule;
            if (r.GetValue(_schedule) is { } scheduleName && !schedules.TryGetValue(scheduleName, out chosen))
                throw new OptionException($"--schedule must be none or cosine, got '{scheduleName}'");
            // Another model than the preset's starts from that model's own shape.
            var model = modelName == d.Model.Model ? d.Model : new ModelOptions(modelName);
            return (T)(d with
            {
                Model = model with
                {
                    Widths = r.GetValue(_widths) is { } w ? ParseWidths(w) : model.Widths,
                    MaskSeed = r.GetValue(_maskSeed) ?? 0,
                    FiGluStd = FiGluStds(r) is [var single] ? single : model.FiGluStd,
                },
                SharedMasks = r.GetValue(_sharedMasks),
                Data = r.GetValue(_data) ?? d.Data,
                Training = d.Training with
                {
                    Epochs = r.GetValue(_epochs) ?? d.Training.Epochs,
                    BatchSize = r.GetValue(_batchSize) ?? d.Training.BatchSize,
                    Augment = r.GetValue(_augment) ?? d.Training.Augment,
                    LearningRate = r.GetValue(_lr) ?? d.Training.LearningRate,
                    WeightDecay = r.GetValue(_weightDecay) ?? d.Training.WeightDecay,
                    Schedule = chosen,
                },
                Seed = r.GetValue(_seed) ?? d.Seed,
                EvalExamples = r.GetValue(_evalExamples) ?? d.EvalExamples,
                TrainExamples = r.GetValue(_trainExamples) ?? d.TrainExamples,
                ValFraction = r.GetValue(_valFraction) ?? d.ValFraction,
                SplitSeed = r.GetValue(_splitSeed) ?? d.SplitSeed,
                Threads = r.GetValue(_threads) ?? d.Threads,
                Out = r.GetValue(_out) ?? d.Out,
                Force = r.GetValue(_force),
                CommandLine = ["workbench", .. r.Tokens.Select(t => t.Value)],
            });
        }

        /// <summary>Validates the finished options, turning a bad value into a one-line option error.</summary>
        public static T Validated<T>(T o) where T : TrainingStudyOptions
        {
            try
            {
                o.Validate();
            }
            catch (ArgumentException e)
            {
                throw new OptionException(e.Message);
            }
            return o;
        }
    }

    /// <summary>--variant standard|w-asym|sigma-asym|all (default all: standard, σ-Asym, W-Asym).</summary>
    private static IReadOnlyList<Variant> ParseVariantOrAll(string? text) =>
        text is null or "all" ? [Variant.Standard, Variant.SigmaAsym, Variant.WAsym]
            : VariantNames.All.Contains(text) ? [VariantNames.Parse(text)]
            : throw new OptionException($"--variant must be standard, w-asym, sigma-asym or all, got '{text}'");

    private static Command LmcCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("lmc", "Linear mode connectivity (PAPER 2.1): train pairs of networks (different init and data order; each pair its own masks, shared by its two networks)\n" +
            "for standard, σ-Asym (MLPs: at FiGLU sd 1 and 1/√d, see --figlu-std) and W-Asym,\n" +
            "interpolate each pair on λ ∈ [0, 1] (standard also after weight matching) and report midpoint and Entezari barriers of loss and error, train and test.\n" +
            "Writes interpolation.parquet, barriers.parquet, lmc-loss, lmc-error and lmc-barriers figures, summary.md and report.md.\n" +
            "Presets (--preset): lmc-mlp (default; the paper's MNIST MLP, 5 pairs, 2 epochs on the embedded MNIST subset), lmc-resnet20 and mli-resnet8\n" +
            "(the paper's convnets; CPU smoke size on the MNIST subset). --full-size: the preset's paper-sized settings on the full data set (GPU-sized).\n" +
            "Examples: workbench lmc   |   workbench lmc --preset lmc-resnet20   |   workbench lmc --preset lmc-resnet20 --full-size --data cifar-10-batches-bin");
        var shared = new TrainingStudyCliOptions(command, figluList: true);
        var pairs = new Option<int?>("--pairs") { Description = "pairs of networks per variant (default: the preset's; lmc-mlp 5)" };
        var points = new Option<int?>("--points") { Description = "λ grid points, odd (default 25)" };
        command.Options.Add(pairs);
        command.Options.Add(points);
        command.SetAction(r => Guarded(error, () =>
        {
            var d = shared.Apply(r, new LmcOptions());
            var o = TrainingStudyCliOptions.Validated(d with { Pairs = r.GetValue(pairs) ?? d.Pairs, Points = r.GetValue(points) ?? d.Points, SigmaAsymStds = shared.FiGluStds(r) });
            var result = LinearModeConnectivity.Execute(o, output);
            output.WriteLine(LinearModeConnectivity.SummaryMarkdown(result.Barriers, result.Columns, o.Pairs));
            output.WriteLine($"finished: {result.Folder} ({result.Seconds:F0} s)");
            output.WriteLine($"report: {result.ReportPath}");
            return 0;
        }));
        return command;
    }

    private static Command MergeCommand(TextWriter output, TextWriter error)
    {
        var match = new Option<bool>("--match") { Description = "also merge the standard networks after weight-matching each to the first" };
        return VariantStudyCommand("merge", "Merging by averaging (issue #6): train n networks per variant (different init and data order, same masks), average their θ\n" +
            "(standard also after weight matching each to the first, with --match) and compare the merged network's loss and accuracy with its members'.\n" +
            "Writes merge.parquet, the merge figure, summary.md and report.md.", new MergeOptions(), output, error, [match],
            (r, o) => o with { Match = r.GetValue(match) },
            o => { var result = NetworkMerging.Execute(o, output); return (NetworkMerging.SummaryMarkdown(result.Rows, o.Networks), result.Folder, result.Seconds, result.ReportPath); });
    }

    private static Command MliCommand(TextWriter output, TextWriter error)
    {
        var points = new Option<int?>("--points") { Description = "α grid points (default 25)" };
        return VariantStudyCommand("mli", "Monotonic linear interpolation (PAPER 2.4): train N networks per variant from θ_0 to θ_T, evaluate the training loss at\n" +
            "evenly spaced α on (1 − α)θ_0 + αθ_T and report Δ (largest rise), monotonicity, local and global (true-chord) convexity per network.\n" +
            "Writes mli.parquet, mli-stats.parquet, the mli figure, summary.md and report.md.", new MliOptions(), output, error, [points],
            (r, o) => o with { Points = r.GetValue(points) ?? o.Points },
            o => { var result = MonotonicInterpolationStudy.Execute(o, output); return (MonotonicInterpolationStudy.SummaryMarkdown(result.Curves), result.Folder, result.Seconds, result.ReportPath); });
    }

    /// <summary>A study of n networks per variant (merge, mli): the shared training options, --variant and --networks, the study's
    /// own <paramref name="extra"/> options read by <paramref name="apply"/>, and <paramref name="execute"/>'s summary and paths printed.</summary>
    private static Command VariantStudyCommand<T>(string name, string description, T defaults, TextWriter output, TextWriter error, Option[] extra,
        Func<ParseResult, T, T> apply, Func<T, (string Summary, string Folder, double Seconds, string Report)> execute) where T : VariantStudyOptions
    {
        var command = new Command(name, description + $"\nPresets and --full-size as for 'workbench lmc' (lmc-mlp, the default: {defaults.Networks} networks per variant, {defaults.Training.Epochs} epochs;\n" +
            $"lmc-resnet20, mli-resnet8: the paper's convnets). Example: workbench {name} --preset mli-resnet8");
        var shared = new TrainingStudyCliOptions(command);
        var variant = new Option<string?>("--variant") { Description = "standard, w-asym, sigma-asym or all (default all)" };
        var networks = new Option<int?>("--networks") { Description = $"networks per variant, at least {defaults.MinimumNetworks} (default: the preset's; lmc-mlp {defaults.Networks})" };
        foreach (var o in new Option[] { variant, networks }.Concat(extra)) command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            var d = shared.Apply(r, defaults);
            var o = TrainingStudyCliOptions.Validated(apply(r, d with { Variants = ParseVariantOrAll(r.GetValue(variant)), Networks = r.GetValue(networks) ?? d.Networks }));
            var (summary, folder, seconds, report) = execute(o);
            output.WriteLine(summary);
            output.WriteLine($"finished: {folder} ({seconds:F0} s)");
            output.WriteLine($"report: {report}");
            return 0;
        }));
        return command;
    }

    private static Command ZooCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("zoo", "Model zoo (issue #8, PAPER 2.3): train N networks per variant, network i with its own lr = 0.5·10^(−U(0,2)), weight decay 10^(−U(1,5)),\n" +
            "label smoothing U(0,0.2) and epochs U{lo..hi} drawn from (--seed, i), its own init and data order, all sharing one mask seed (--mask-seed).\n" +
            "Writes zoo.parquet (one row per network: id, variant, hyperparameters, seeds, train/test accuracy and loss, weights as list<float>) and manifest.json.\n" +
            "A killed zoo continues with 'workbench resume DIR' (or the same command with --resume): only the missing networks are trained.\n" +
            $"Presets (--preset): {string.Join(", ", ZooPresets.Names)}; --full-size: the preset's GPU-sized settings (zoo-resnet8: the paper's 10,000 ResNet8 per variant on CIFAR-10).\n" +
            "Examples: workbench zoo --preset zoo-mlp --out zoo-mlp   |   workbench zoo --preset zoo-resnet8 --full-size --data cifar-10-batches-bin");
        var preset = new Option<string>("--preset") { Description = $"starting settings: {string.Join(", ", ZooPresets.Names)} (default zoo-mlp; flags override them)", DefaultValueFactory = _ => "zoo-mlp" };
        var fullSize = new Option<bool>("--full-size") { Description = "the preset's documented full size (GPU-sized; convnet presets read ./" + TrainingStudyPresets.Cifar10Folder + " unless --data names the CIFAR-10 folder)" };
        var model = new Option<string?>("--model") { Description = "the network (default: the preset's): mlp, cnn, resnet8, resnet20, mlp-mnist-lmc" };
        var widths = new Option<string?>("--widths") { Description = "hidden widths of --model mlp or stage channels of --model cnn, comma-separated" };
        var variants = new Option<string?>("--variants") { Description = "comma-separated variants (default standard,w-asym; add sigma-asym for σ-Asym)" };
        var networks = new Option<int?>("--networks") { Description = "networks per variant (default: the preset's)" };
        var epochsMin = new Option<int?>("--epochs-min") { Description = "smallest epochs of the law U{lo..hi} (default: the preset's; paper 10)" };
        var epochsMax = new Option<int?>("--epochs-max") { Description = "largest epochs of the law U{lo..hi} (default: the preset's; paper 40)" };
        var batchSize = new Option<int?>("--batch-size") { Description = "minibatch size (default: the preset's)" };
        var seed = new Option<ulong?>("--seed") { Description = "zoo seed: each network's hyperparameters, init and data order (default 0)" };
        var maskSeed = new Option<ulong?>("--mask-seed") { Description = "seed of the W-Asym masks and FiGLU matrices, shared by all networks (default 0)" };
        var figluStd = FiGluStdOption();
        var data = new Option<string?>("--data") { Description = "mnist-subset (embedded; the CPU presets' data), a folder of MNIST IDX files or a CIFAR-10 binary folder" };
        var evalExamples = new Option<int?>("--eval-examples") { Description = "evaluate on the first N examples of each split; 0 = all (default: the preset's)" };
        var trainExamples = new Option<int?>("--train-examples") { Description = "train on the first N training examples; 0 = all (default: the preset's)" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for torch; 0 = the CPUs this process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS (default: the preset's; the CPU presets 1, fastest for their small networks)" };
        var out_ = new Option<string?>("--out") { Description = "output folder (default results/zoo)" };
        var force = new Option<bool>("--force") { Description = "replace an existing run folder at --out" };
        var resume = new Option<bool>("--resume") { Description = "continue the interrupted zoo at --out (same settings): keep its networks, train the missing ones" };
        foreach (var o in new Option[] { preset, fullSize, model, widths, variants, networks, epochsMin, epochsMax, batchSize, seed, maskSeed, figluStd, data, evalExamples, trainExamples, threads, out_, force, resume })
            command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            string presetName = r.GetValue(preset)!;
            if (!ZooPresets.Names.Contains(presetName)) throw new OptionException($"--preset must be one of {string.Join(", ", ZooPresets.Names)}, got '{presetName}'");
            var d = ZooPresets.Get(presetName).Apply(new ZooOptions(), r.GetValue(fullSize));
            string[] models = ["mlp", "cnn", "resnet8", "resnet20", "mlp-mnist-lmc"];
            string modelName = r.GetValue(model) ?? d.Model.Model;
            if (!models.Contains(modelName)) throw new OptionException($"--model must be one of {string.Join(", ", models)}, got '{modelName}'");
            if (r.GetValue(widths) is not null && modelName is not ("mlp" or "cnn")) throw new OptionException("--widths applies only to --model mlp and --model cnn");
            var m = modelName == d.Model.Model ? d.Model : new ModelOptions(modelName);
            var o = d with
            {
                Model = m with
                {
                    Widths = r.GetValue(widths) is { } w ? ParseWidths(w) : m.Widths,
                    MaskSeed = r.GetValue(maskSeed) ?? 0,
                    FiGluStd = ParseFiGluStd(r.GetValue(figluStd)) ?? m.FiGluStd,
                },
                Variants = r.GetValue(variants) is { } v ? ParseVariants(v) : d.Variants,
                Networks = r.GetValue(networks) ?? d.Networks,
                Law = d.Law with { EpochsMin = r.GetValue(epochsMin) ?? d.Law.EpochsMin, EpochsMax = r.GetValue(epochsMax) ?? d.Law.EpochsMax },
                Training = d.Training with { BatchSize = r.GetValue(batchSize) ?? d.Training.BatchSize },
                Seed = r.GetValue(seed) ?? d.Seed,
                Data = r.GetValue(data) ?? d.Data,
                EvalExamples = r.GetValue(evalExamples) ?? d.EvalExamples,
                TrainExamples = r.GetValue(trainExamples) ?? d.TrainExamples,
                Threads = r.GetValue(threads) ?? d.Threads,
                Out = r.GetValue(out_) ?? d.Out,
                Force = r.GetValue(force),
                Resume = r.GetValue(resume),
                CommandLine = ["workbench", .. r.Tokens.Select(t => t.Value)],
            };
            try
            {
                o.Validate();
            }
            catch (ArgumentException e)
            {
                throw new OptionException(e.Message);
            }
            var result = ModelZoo.Execute(o, output);
            foreach (var (variant, (min, max)) in result.TestAccuracy)
                output.WriteLine(FormattableString.Invariant($"{variant}: test accuracy {min:F4} … {max:F4}"));
            output.WriteLine($"finished: {result.Folder} ({result.Members} networks, {result.Trained} trained by this run, {result.Seconds:F0} s)");
            return 0;
        }));
        return command;
    }

    private static Command MetanetCommand(TextWriter output, TextWriter error)
    {
        var command = new Command("metanet", "Metanetworks (PAPER 2.3): predict each zoo network's test accuracy from its trainable weights with an MLP on the\n" +
            "flattened weights, DeepSets over the weights, StatNN (7 statistics per tensor) and a 1D-CNN; 50/25/25 seeded splits per variant,\n" +
            "MSE + AdamW with the epoch of best validation R² kept, R² and Kendall τ-b on test, mean ± sd over runs.\n" +
            "Writes metanet.parquet, predictions.parquet, scatter figures, summary.md and report.md.\n" +
            "Example: workbench zoo --preset zoo-mlp --out results/zoo-mlp && workbench metanet results/zoo-mlp");
        var zoo = new Argument<string>("ZOO_DIR") { Description = "a finished zoo folder (written by 'workbench zoo')" };
        var d = new MetanetOptions();
        var runs = new Option<int?>("--runs") { Description = $"runs, each its own split and metanet init (default {d.Runs})" };
        var epochs = new Option<int?>("--epochs") { Description = $"training epochs of every metanet (default {d.Epochs})" };
        var metanets = new Option<string?>("--metanets") { Description = $"comma-separated: {string.Join(", ", MetanetKinds.All)} (default all)" };
        var seed = new Option<ulong?>("--seed") { Description = "run r uses seed + r for its split and init (default 0)" };
        var lr = new Option<double?>("--lr") { Description = $"AdamW learning rate (default {d.LearningRate})" };
        var weightDecay = new Option<double?>("--weight-decay") { Description = $"AdamW decoupled weight decay (default {d.WeightDecay})" };
        var batchSize = new Option<int?>("--batch-size") { Description = $"networks per minibatch (default {d.BatchSize})" };
        var hidden = new Option<int?>("--hidden") { Description = $"width of every metanet's hidden layers (default {d.Hidden})" };
        var deepSets = new Option<int?>("--deepsets-elements") { Description = $"DeepSets: at most this many weights per network, a seeded subset (default {d.DeepSetsElements})" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for torch; 0 = the CPUs this process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK, OMP_NUM_THREADS (default 0; more is refused)" };
        var outOption = new Option<string?>("--out") { Description = "output folder (default results/metanet)" };
        var force = new Option<bool>("--force") { Description = "replace an existing run folder at --out" };
        command.Arguments.Add(zoo);
        foreach (var o in new Option[] { runs, epochs, metanets, seed, lr, weightDecay, batchSize, hidden, deepSets, threads, outOption, force }) command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            var o = d with
            {
                Runs = r.GetValue(runs) ?? d.Runs,
                Epochs = r.GetValue(epochs) ?? d.Epochs,
                Metanets = r.GetValue(metanets) is { } m ? CommaList(m, "--metanets") : d.Metanets,
                Seed = r.GetValue(seed) ?? d.Seed,
                LearningRate = r.GetValue(lr) ?? d.LearningRate,
                WeightDecay = r.GetValue(weightDecay) ?? d.WeightDecay,
                BatchSize = r.GetValue(batchSize) ?? d.BatchSize,
                Hidden = r.GetValue(hidden) ?? d.Hidden,
                DeepSetsElements = r.GetValue(deepSets) ?? d.DeepSetsElements,
                Threads = r.GetValue(threads) ?? d.Threads,
                Out = r.GetValue(outOption) ?? d.Out,
                Force = r.GetValue(force),
                CommandLine = ["workbench", .. r.Tokens.Select(t => t.Value)],
            };
            try
            {
                o.Validate();
            }
            catch (ArgumentException e)
            {
                throw new OptionException(e.Message);
            }
            var result = MetanetStudy.Execute(o, ZooTable.Read(r.GetValue(zoo)!), output);
            output.WriteLine(File.ReadAllText(Path.Combine(result.Folder, "summary.md")));
            output.WriteLine($"finished: {result.Folder} ({result.Seconds:F0} s)");
            output.WriteLine($"report: {result.ReportPath}");
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
        var inputShape = new Option<string?>("--input-shape") { Description = "image shape C,H,W of a convolutional model (default 3,32,32; MNIST is 1,28,28)" };
        var outputs = new Option<int?>("--outputs") { Description = "outputs (default 10)" };
        var widths = new Option<string?>("--widths") { Description = "hidden widths of --model mlp or stage channels of --model cnn, comma-separated" };
        var depth = new Option<int?>("--depth") { Description = "hidden layers (mlp, mlp-bnn)" };
        var maskSeed = new Option<ulong>("--mask-seed") { Description = "seed of masks and fixed matrices", DefaultValueFactory = _ => 0 };
        var figluStd = FiGluStdOption();
        foreach (var o in new Option[] { model, variant, inputs, inputShape, outputs, widths, depth, maskSeed, figluStd }) command.Options.Add(o);
        command.SetAction(r => Guarded(error, () =>
        {
            var options = new ModelOptions(r.GetValue(model)!, ParseVariant(r.GetValue(variant)!), r.GetValue(inputs), r.GetValue(outputs),
                r.GetValue(widths) is { } w ? ParseWidths(w) : null, r.GetValue(depth), FiGluStd: ParseFiGluStd(r.GetValue(figluStd)), MaskSeed: r.GetValue(maskSeed),
                InputShape: r.GetValue(inputShape) is { } shape ? ParseInputShape(shape) : null);
            using var network = ModelCatalog.Create(options);
            var json = Workbench.Studies.ModelDescription.Of(network);
            json["mask_seed"] = options.MaskSeed;
            output.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }));
        return command;
    }
}
