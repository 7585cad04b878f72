using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;

namespace Workbench.Studies.Sampling;

/// <summary>Everything one sampling run needs; the manifest records all of it.</summary>
public sealed record SampleOptions
{
    public required ModelOptions Model { get; init; }
    public string Data { get; init; } = "mnist-subset";
    public string? Target { get; init; }
    /// <summary>CSV: share of rows held out for testing, in [0, 1); 0: every row trains and evaluation is on the
    /// training rows only.</summary>
    public double TestFraction { get; init; } = 0.2;
    /// <summary>CSV: a separate test file with the same columns (--test-data); every row of <see cref="Data"/> trains.</summary>
    public string? TestData { get; init; }
    /// <summary>Share of the training rows held out as a validation split (--val-fraction, seeded by the split seed):
    /// never trained on, evaluated as split "val".</summary>
    public double ValFraction { get; init; }
    /// <summary>Seed of the CSV train/test split and of the validation split (a data choice, kept apart from the run seed).</summary>
    public int SplitSeed { get; init; } = 0;

    /// <summary>The data options the run loads its data with.</summary>
    public DataOptions DataOptions => new(Data, Task, Target, TestFraction, SplitSeed, TestData: TestData, ValFraction: ValFraction);

    /// <summary>Whether the run has no test split (CSV with --test-fraction 0), so evaluation is on the training rows.</summary>
    public bool TrainsOnEveryRow => TestFraction == 0 && TestData is null;
    public string Sampler { get; init; } = "sgld";
    /// <summary>Sampler hyperparameters by name (--param NAME=VALUE); step_size defaults to --lr.</summary>
    public IReadOnlyDictionary<string, double> SamplerParameters { get; init; } = new Dictionary<string, double>();
    /// <summary>Fitted methods (VI, SWAG, ensembles): draws per chain from the fitted distribution.</summary>
    public int Draws { get; init; } = 20;
    /// <summary>batched: all chains as one computation; sequential: one chain after another (same draws); auto: batched
    /// unless the network computes chains faster one at a time on the run's device (convnets on the CPU). A run records
    /// the mode it resolved to.</summary>
    public string ChainMode { get; init; } = "auto";
    public string Dtype { get; init; } = "float32";
    /// <summary>Function-space view: per evaluated draw, the probability of the true class (or the log-density of y) at
    /// the first n test points, written to function.parquet (0: off).</summary>
    public int FunctionPoints { get; init; } = 128;
    /// <summary>Canonical view of a standard network (MLP, cnn, ResNet): each draw aligned by weight matching to chain 0's first draw
    /// before its tracked parameters are written to canonical.parquet.</summary>
    public bool Canonical { get; init; } = true;
    /// <summary>--lr: the sampler's step_size; null takes the sampler's own default (see `workbench samplers`).</summary>
    public double? StepSize { get; init; }
    public int Chains { get; init; } = 2;
    public int Steps { get; init; } = 2000;
    public int Warmup { get; init; } = 500;
    public int Thin { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    /// <summary>--augment: each minibatch example randomly mirrored and cropped from its 4-pixel zero padding
    /// (<see cref="ImageAugmentation"/>), drawn from per-chain generators seeded from the data-order seeds; image data
    /// and minibatch methods only. Evaluation never sees augmented data.</summary>
    public bool Augment { get; init; }
    public double Temperature { get; init; } = 1.0;
    public double PriorStd { get; init; } = 1.0;
    /// <summary>--prior-precision λ: the paper's per-layer prior N(0, 1/(λ·fan)) instead of N(0, σ²I) (mfvi and elrg
    /// only; see <see cref="Tempering.PriorPrecision"/>). Null: the isotropic prior of <see cref="PriorStd"/>.</summary>
    public double? PriorPrecision { get; init; }
    /// <summary>Known observation noise sd of the Gaussian likelihood (regression only).</summary>
    public double NoiseStd { get; init; } = 1.0;
    public ulong Seed { get; init; } = 0;
    /// <summary>How many parameters draws.parquet tracks for a network (linreg tracks all).</summary>
    public int Track { get; init; } = 8;
    /// <summary>Also evaluate draws on the training split (off by default: on MNIST it costs four times the test split's
    /// evaluation; a run without a test split evaluates on the training rows anyway).</summary>
    public bool EvalTrain { get; init; }
    /// <summary>--save-positions N: store the full θ of every N-th draw of each chain (fitted methods: of their draws)
    /// under positions/ with the index table positions.parquet, at most <see cref="MaxSavedPositions"/> per chain
    /// (0: off). What `workbench barriers` reads.</summary>
    public int SavePositions { get; init; }
    /// <summary>The most full-parameter draws --save-positions stores per chain; later draws are not saved.</summary>
    public const int MaxSavedPositions = 200;
    /// <summary>Evaluate every n-th draw (and the last); the BMA averages only evaluated draws. <see cref="EvalEveryAuto"/>
    /// (the default): n from <see cref="AutoEvalEvery"/>, resolved when the run starts and recorded in the manifest.</summary>
    public int EvalEvery { get; init; } = EvalEveryAuto;

    /// <summary>The value of <see cref="EvalEvery"/> that asks for <see cref="AutoEvalEvery"/>.</summary>
    public const int EvalEveryAuto = 0;

    /// <summary>What share of the sampling's arithmetic the default cadence lets evaluation take.</summary>
    public const double AutoEvaluationShare = 0.05;

    /// <summary>
    /// The default --eval-every of a Markov-chain run: the smallest n ≥ 1 for which evaluating one draw in n costs at most
    /// <see cref="AutoEvaluationShare"/> of the sampling between them, counted in forward passes of one example: an
    /// evaluation is one forward pass over each evaluated split's rows; a step is a forward and a backward pass over its
    /// minibatch, about three forward passes (so n draws apart are n · thin · 3 · batch). Fitted methods (their draws come
    /// after the fit, with no sampling between them) evaluate every draw.
    /// </summary>
    public static int AutoEvalEvery(long evaluatedRows, long batchSize, int thin, bool fitted)
    {
        if (fitted || evaluatedRows <= 0) return 1;
        double perDraw = AutoEvaluationShare * 3.0 * batchSize * thin;
        return (int)Math.Clamp(Math.Ceiling(evaluatedRows / perDraw), 1, int.MaxValue);
    }
    public string Device { get; init; } = "auto";
    public int Threads { get; init; } = 0;
    public required string Out { get; init; }
    public bool Force { get; init; }
    public string Study { get; init; } = "sample";
    public IReadOnlyList<string>? CommandLine { get; init; }
    /// <summary>--checkpoint-every: steps between checkpoints (null: max(100, steps/20); 0: none).</summary>
    public int? CheckpointEvery { get; init; }
    /// <summary>The checkpoint interval in steps that the run uses (0 = no checkpoints).</summary>
    public int CheckpointInterval => CheckpointEvery ?? Math.Max(100, Steps / 20);

    /// <summary>--max-epochs: a chain group stops after the step at which its epoch counter (stats.parquet's
    /// <c>epoch</c>, gradient evaluations · batch / N) reaches this; null: no such budget. --steps stays the cap.</summary>
    public double? MaxEpochs { get; init; }
    /// <summary>--max-grad-evals: a chain group stops once its per-chain ledger <c>grad_evals</c> reaches this.</summary>
    public long? MaxGradEvals { get; init; }
    /// <summary>--max-wall-time: a chain group stops once its own elapsed wall time (seconds) reaches this; with
    /// --chain-mode sequential each chain gets the whole budget.</summary>
    public double? MaxWallSeconds { get; init; }

    /// <summary>--progress-every: fitted methods only, steps between progress evaluations written to progress.parquet
    /// (null: max(1, steps/20); 0: none).</summary>
    public int? ProgressEvery { get; init; }
    /// <summary>The progress-evaluation interval in steps that the run uses (0 = none).</summary>
    public int ProgressInterval => ProgressEvery ?? Math.Max(1, Steps / 20);
    /// <summary>--progress-draws: draws from the current fitted distribution that one progress evaluation averages.</summary>
    public int ProgressDraws { get; init; } = 8;

    /// <summary>Called from the run loop at most about every 0.25 s and at the end of each chain group, for a live
    /// display; not recorded in the manifest. It must be cheap: the loop waits for it.</summary>
    public Action<RunProgress>? Progress { get; init; }

    /// <summary>Print the run's diagnostics table when it finishes (a study prints one line per run instead). Not recorded.</summary>
    public bool PrintDiagnostics { get; init; } = true;

    /// <summary>--divergence-factor: a chain whose loss or gradient norm grows this many times beyond its first step's
    /// is stopped as diverged (<see cref="DivergenceRule"/>); 0 = only non-finite values count.</summary>
    public double DivergenceFactor { get; init; } = DivergenceRule.DefaultFactor;

    /// <summary>--yes-i-know: run even when <see cref="ResourceEstimate"/> says the run needs more memory than the process may
    /// use or more than a day. Not recorded: a resumed run was accepted when it started.</summary>
    public bool YesIKnow { get; init; }

    /// <summary>--test-fraction was given on the command line (refused for image sets, which have their own test files).</summary>
    public bool TestFractionGiven { get; init; }

    /// <summary>--batch-size was given on the command line (refused for full-batch methods such as HMC, which ignore it).</summary>
    public bool BatchSizeGiven { get; init; }

    /// <summary>Tests only: throw <see cref="SimulatedCrashException"/> once this many steps are done, over all chain groups (after that step's checkpoint, if any).</summary>
    internal int? CrashAfterSteps { get; init; }

    /// <summary>Tests only: throw <see cref="SimulatedCrashException"/> once sampling is over, after the named phase of
    /// finishing: "tables" (completed), "figures" (calibration and trace written) or "diagnostics".</summary>
    internal string? CrashAfterPhase { get; init; }

    /// <summary>Tests only: builds the sampler instead of the registry (e.g. one that injects a divergence).</summary>
    internal Func<SamplerContext, IReadOnlyDictionary<string, double>, ISampler>? SamplerFactory { get; init; }

    public bool IsRegression => Model.Model == "linreg";
    public TaskKind Task => IsRegression ? TaskKind.Regression : TaskKind.Classification;

    /// <summary>Checks what can be checked before any data is read; one message per problem, naming the option.</summary>
    public void Validate()
    {
        Require(Chains >= 1, $"--chains must be at least 1, got {Chains}");
        Require(Steps >= 1, $"--steps must be at least 1, got {Steps}");
        Require(Warmup >= 0 && Warmup < Steps, $"--warmup must be in [0, --steps) = [0, {Steps}), got {Warmup}");
        Require(Thin >= 1, $"--thin must be at least 1, got {Thin}");
        Require(BatchSize >= 1, $"--batch-size must be at least 1, got {BatchSize}");
        Require(StepSize is null || (StepSize > 0 && double.IsFinite(StepSize.Value)), $"--lr must be a positive number, got {StepSize}");
        Require(Temperature > 0 && double.IsFinite(Temperature), $"--temperature must be a positive number, got {Temperature}");
        Require(PriorStd > 0 && double.IsFinite(PriorStd), $"--prior-std must be a positive number, got {PriorStd}");
        Require(PriorPrecision is null || (PriorPrecision > 0 && double.IsFinite(PriorPrecision.Value)), $"--prior-precision must be a positive number, got {PriorPrecision}");
        Require(NoiseStd > 0 && double.IsFinite(NoiseStd), $"--noise-std must be a positive number, got {NoiseStd}");
        Require(EvalEvery >= 1 || EvalEvery == EvalEveryAuto, $"--eval-every must be at least 1, got {EvalEvery}");
        Require(DivergenceFactor >= 0 && double.IsFinite(DivergenceFactor), $"--divergence-factor must be a number ≥ 0 (0 = off), got {DivergenceFactor}");
        Require(StepSize is null || !SamplerParameters.ContainsKey("step_size"),
            $"--lr {StepSize} and --param step_size={(SamplerParameters.TryGetValue("step_size", out var given) ? given : 0)} both set the step size; give one");
        // The Langevin noise sd is √(2ηT/N): finite η and T whose product overflows are no usable setting.
        Require(StepSize is not { } eta || double.IsFinite(2 * eta * Temperature),
            $"--lr {StepSize} with --temperature {Temperature} overflows the noise scale √(2·lr·T/N); lower them");
        Require(SplitSeed >= 0, $"--split-seed must be ≥ 0, got {SplitSeed}");
        Require(SavePositions >= 0, $"--save-positions must be ≥ 0 (0 = off), got {SavePositions}");
        Require(Track >= 0, $"--track must be ≥ 0, got {Track}");
        Require(FunctionPoints >= 0, $"--function-points must be ≥ 0, got {FunctionPoints}");
        Require(Draws >= 1, $"--draws must be at least 1, got {Draws}");
        Require(ChainMode is "auto" or "batched" or "sequential", $"--chain-mode must be auto, batched or sequential, got '{ChainMode}'");
        Require(Dtype is "float32" or "float64", $"--dtype must be float32 or float64, got '{Dtype}'");
        Require(MaxEpochs is null || (MaxEpochs > 0 && double.IsFinite(MaxEpochs.Value)), $"--max-epochs must be a positive number, got {MaxEpochs}");
        Require(MaxGradEvals is null or >= 1, $"--max-grad-evals must be at least 1, got {MaxGradEvals}");
        Require(MaxWallSeconds is null || (MaxWallSeconds > 0 && double.IsFinite(MaxWallSeconds.Value)), $"--max-wall-time must be a positive number of seconds, got {MaxWallSeconds}");
        Require(ProgressEvery is null or >= 0, $"--progress-every must be ≥ 0 (0 = no progress evaluations), got {ProgressEvery}");
        Require(ProgressDraws >= 1, $"--progress-draws must be at least 1, got {ProgressDraws}");
        Require(CheckpointEvery is null or >= 0, $"--checkpoint-every must be ≥ 0 (0 = no checkpoints), got {CheckpointEvery}");
        Require(Threads >= 0, $"--threads must be ≥ 0 (0 = the CPUs this process may use), got {Threads}");
        Require(Device is "auto" or "cpu" or "cuda", $"--device must be auto, cpu or cuda, got '{Device}'");
        Require(TestFraction >= 0 && TestFraction < 1, $"--test-fraction must be in [0, 1) (0: every row trains, no test split), got {TestFraction}");
        Require(ValFraction >= 0 && ValFraction < 1, $"--val-fraction must be in [0, 1), got {ValFraction}");
        bool csv = Data.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
        Require(TestData is null || csv, "--test-data applies to CSV data (image sets have their own test files): give --data FILE.csv");
        Require(TestFraction > 0 || csv, "--test-fraction 0 applies to CSV data (image sets have their own test files)");
        Require(!TestFractionGiven || csv, $"--test-fraction applies to CSV data; {Data} has its own test set (drop --test-fraction)");
        Require(!(TrainsOnEveryRow && !EvalTrain), "--test-fraction 0 leaves no test split, so runs are evaluated on the training rows: drop --eval-train false");
        Require(IsRegression || Target is null || Data != "mnist-subset", "--target applies only to CSV data");
        Require(!IsRegression || Data != "mnist-subset", "linreg needs a CSV file: --data FILE.csv --target COLUMN");
        Require((Steps - Warmup) / Thin >= 1, $"no draws: (--steps − --warmup) / --thin = ({Steps} − {Warmup}) / {Thin} < 1");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new OptionException(message);
    }
}

/// <summary>
/// Where a run stands, for a live display (<see cref="SampleOptions.Progress"/>). <paramref name="Group"/> counts chain
/// groups from 0 (one group when batched, one per chain when sequential); <paramref name="Steps"/> is the --steps cap;
/// <paramref name="Loss"/> the mean minibatch loss of the group's chains at the last step; <paramref name="TestAccuracy"/>
/// the mean over the group's chains of the latest running-BMA test accuracy (fitted methods: of the latest progress
/// evaluation; null before one, and for regression); <paramref name="EtaSeconds"/> the estimated time to the end of the
/// run (null before there is anything to estimate from); <paramref name="Phase"/> one of warm-up, sampling (Markov
/// chains), fitting, drawing (fitted methods).
/// </summary>
public sealed record RunProgress(int Group, int Groups, long Iteration, long Steps, double Loss, double? TestAccuracy,
    double ElapsedSeconds, double? EtaSeconds, string Phase);

/// <summary>A mistake in what the user asked for: reported as one line, exit code 2.</summary>
public sealed class OptionException(string message) : Exception(message);
