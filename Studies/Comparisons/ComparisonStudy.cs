using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using Workbench.Studies.ScaleOut;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Comparisons;

/// <summary>How a study is launched (not part of the study itself).</summary>
public sealed record StudyLaunch
{
    /// <summary>Study folder; null: results/&lt;config name&gt;.</summary>
    public string? Out { get; init; }
    public bool Force { get; init; }
    public IReadOnlyList<string>? CommandLine { get; init; }
    /// <summary>Output is a terminal: one live status line instead of periodic log lines.</summary>
    public bool Live { get; init; }
    /// <summary>Where the config came from (a file or preset:NAME), for the manifest.</summary>
    public string Source { get; init; } = "flags";
    /// <summary>Cells run at once, each in its own `run-cell` process (1: one after another in this process).</summary>
    public int Jobs { get; init; } = 1;
    /// <summary>The program the cell processes run (needed when <see cref="Jobs"/> &gt; 1).</summary>
    public WorkbenchLauncher? Launcher { get; init; }
}

/// <summary>What a study left behind.</summary>
public sealed record StudyResult(string Folder, string ReportPath, IReadOnlyList<StudyCell> Finished, IReadOnlyList<StudyCell> Failed,
    int DivergedChains, double Seconds);

/// <summary>
/// The BNN comparison study (PAPER 2.2 and beyond): every model × variant × sampler × seed of a
/// <see cref="StudyConfig"/> as one ordinary run folder under &lt;study&gt;/runs/, then study-level tables, figures and
/// report.md built from those folders' Parquet files alone (<see cref="StudyReport"/>), so `workbench plot` can
/// redraw them and a resumed study finishes the same way.
/// </summary>
public static class ComparisonStudy
{
    public const string ConfigFileName = "study.json";

    /// <summary>The grid of a config: each cell with the run options it runs with (run folder under <paramref name="studyFolder"/>).</summary>
    public static IReadOnlyList<(StudyCell Cell, SampleOptions Options)> Expand(StudyConfig c, string studyFolder, long trainingSize, string source)
    {
        var cells = new List<(StudyCell, SampleOptions)>();
        foreach (var model in c.Models)
        foreach (var variant in c.Variants)
        foreach (var s in c.Samplers)
        foreach (var seed in c.Seeds)
        {
            string id = $"{model.Label}-{variant.ToName()}-{s.Label}-seed{seed}";
            var cell = new StudyCell(id, model.Label, variant.ToName(), s.Label, seed, $"runs/{id}");
            int batch = s.BatchSize ?? c.BatchSize;
            var (kind, fullBatch, cycleDrawShare) = Describe(s, c, trainingSize, batch, source, id);
            if (c.Augment && fullBatch)
                throw new OptionException($"{source}: augment applies to minibatch methods; sampler '{s.Label}' ({s.Name}) uses the whole training set every step (set augment false or drop the sampler)");
            int steps = Steps(c.Budget, trainingSize, fullBatch ? trainingSize : batch);
            int draws = s.Draws ?? c.Draws;
            double warmupFraction = s.WarmupFraction ?? c.WarmupFraction;
            // Markov chains: warm-up, then a thinning grid that leaves about `draws` draws (cyclical samplers draw only in
            // their sampling phases, so their grid is finer by that share and they need no warm-up). Fitted methods draw
            // `draws` times from the fitted distribution at the end.
            int warmup = kind == SamplerKind.Fitted || cycleDrawShare < 1 ? 0 : (int)Math.Floor(warmupFraction * steps);
            int thin = kind == SamplerKind.Fitted ? 1 : Math.Max(1, (int)Math.Floor((steps - warmup) * cycleDrawShare / draws));
            var options = new SampleOptions
            {
                Model = model.Options with { Variant = variant },
                Data = c.Data,
                Sampler = s.Name,
                SamplerParameters = s.Params,
                StepSize = s.Lr,
                Draws = draws,
                ChainMode = c.ChainMode,
                Dtype = c.Dtype,
                FunctionPoints = c.FunctionPoints,
                Canonical = c.Canonical,
                Chains = c.Chains,
                Steps = steps,
                Warmup = warmup,
                Thin = thin,
                BatchSize = batch,
                Augment = c.Augment,
                YesIKnow = c.YesIKnow,
                Temperature = s.Temperature ?? c.Temperature,
                PriorStd = s.PriorStd ?? c.PriorStd,
                PriorPrecision = s.PriorPrecision ?? c.PriorPrecision,
                ValFraction = c.ValFraction,
                Seed = seed,
                Track = c.Track,
                EvalTrain = c.EvalTrain,
                EvalEvery = c.EvalEvery,
                Threads = c.Threads,
                CheckpointEvery = c.CheckpointEvery,
                ProgressEvery = c.ProgressEvery,
                ProgressDraws = c.ProgressDraws,
                SavePositions = c.SavePositions,
                MaxEpochs = c.Budget.Kind == "epochs" ? c.Budget.Value : null,
                MaxGradEvals = c.Budget.Kind == "grad_evals" ? (long)c.Budget.Value : null,
                MaxWallSeconds = c.Budget.Kind == "wall_time_s" ? c.Budget.Value : null,
                Out = Path.Combine(studyFolder, cell.Folder),
                Study = $"study/{c.Name}/{id}",
            };
            try
            {
                options.Validate();
            }
            catch (OptionException e)
            {
                throw new OptionException($"{source}: run {id}: {e.Message}");
            }
            cells.Add((cell, options));
        }
        return cells;
    }

    /// <summary>Steps per run for a budget: the step count itself, or the cap that the run's stop rule ends early.</summary>
    private static int Steps(StudyBudget budget, long trainingSize, long batch) => budget.Kind switch
    {
        "steps" => (int)budget.Value,
        // One gradient evaluation of a batch per step for every minibatch method; full-batch HMC takes several per
        // step, so its cap is generous and MaxEpochs / MaxGradEvals end it exactly.
        "epochs" => checked((int)Math.Ceiling(budget.Value * trainingSize / batch)),
        "grad_evals" => checked((int)budget.Value),
        _ => budget.MaxSteps!.Value,
    };

    /// <summary>Builds the sampler once (so a bad hyperparameter is reported before anything runs) and reads what the grid needs.</summary>
    private static (SamplerKind Kind, bool FullBatch, double CycleDrawShare) Describe(StudySampler s, StudyConfig c, long trainingSize, int batch, string source, string id)
    {
        var hyperparameters = new Dictionary<string, double>(s.Params);
        if (s.Lr is { } lr) hyperparameters["step_size"] = lr;
        ISampler sampler;
        try
        {
            var context = new SamplerContext(new Tempering(trainingSize, (int)Math.Min(batch, trainingSize), s.Temperature ?? c.Temperature, s.PriorStd ?? c.PriorStd)
                { PriorPrecision = s.PriorPrecision ?? c.PriorPrecision }, 1000);
            sampler = SamplerRegistry.Create(s.Name, context, hyperparameters);
        }
        catch (ArgumentException e)
        {
            throw new OptionException($"{source}: sampler '{s.Label}' (run {id}): {e.Message}");
        }
        var info = SamplerRegistry.Get(s.Name);
        double share = info.Hyperparameters.Any(h => h.Name == "cycles")
            ? 1 - (s.Params.TryGetValue("beta", out double beta) ? beta : info.Hyperparameters.First(h => h.Name == "beta").Default)
            : 1.0;
        return (sampler.Kind, sampler.FullBatch, share);
    }

    /// <summary>
    /// Runs a study: checks the whole grid first (config, data, every network, every sampler, every run's options),
    /// then runs the cells in order, each into its own run folder, and builds the study's tables, figures and report.
    /// A cell that fails is recorded and the others go on; the study then ends failed, its report naming the cell.
    /// </summary>
    public static StudyResult Execute(StudyConfig config, StudyLaunch launch, TextWriter log)
    {
        string folder = launch.Out ?? Path.Combine("results", config.Name);
        var (trainingSize, cells) = Check(config, folder, launch.Source);
        var jobs = Jobs(config, launch.Jobs, launch.Launcher, cells.Count, log);
        var study = RunFolder.Create(folder, launch.Force);
        var manifest = Manifest.Start(study.Path, StudyPlan.ManifestStudy, commandLine: launch.CommandLine);
        var json = config.ToJson();
        manifest.Set("config", json);
        manifest.Set("source", launch.Source);
        manifest.Set("jobs", JobsNode(jobs));
        manifest.Set("cells", new JsonArray(cells.Select(c => (JsonNode)c.Cell.ToJson()).ToArray()));
        File.WriteAllText(Path.Combine(study.Path, ConfigFileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        log.WriteLine($"study {config.Name}: {cells.Count} runs ({config.Models.Count} models × {config.Variants.Count} variants × {config.Samplers.Count} samplers × {config.Seeds.Count} seeds), " +
                      $"{config.Chains} chains each, {config.Budget} per run, {trainingSize} training examples → {study.Path}");
        return RunCells(config, study.Path, manifest, cells.Select((c, i) => (i, c.Cell, c.Options, Resume: false)).ToList(), launch.Live, log, jobs: jobs);
    }

    /// <summary>
    /// How the cells run: null (--jobs 1) in this process one after another, as always; otherwise that many `run-cell`
    /// processes at once sharing the study's threads. More jobs than cells is clamped; more jobs than CPUs is allowed
    /// (each job has at least one thread) with a warning, since those processes then take turns on the cores.
    /// </summary>
    private static LocalJobs? Jobs(StudyConfig config, int jobs, WorkbenchLauncher? launcher, int cells, TextWriter log)
    {
        if (jobs < 1) throw new OptionException($"--jobs must be at least 1, got {jobs}");
        var threads = ThreadChoice.For(config.Threads, CpuBudget.Current);
        if (jobs > 1 && jobs > cells)
        {
            log.WriteLine($"note: --jobs {jobs} is more than the {cells} cell(s) to run; running {Math.Max(1, cells)} at once");
            jobs = Math.Max(1, cells);
        }
        if (jobs == 1) return null;
        if (jobs > CpuBudget.Current.Cpus)
            log.WriteLine($"warning: --jobs {jobs} exceeds the {CpuBudget.Current.Cpus} CPU(s) this process may use ({CpuBudget.Current.Source}); the jobs will take turns on the cores");
        if (launcher is null) throw new InvalidOperationException("--jobs above 1 needs the program that runs the cells (a launcher)");
        return new LocalJobs(launcher, jobs, LocalJobs.Share(threads.Count, jobs));
    }

    private static JsonObject JobsNode(LocalJobs? jobs) => jobs is null
        ? new JsonObject { ["jobs"] = 1, ["threads_per_job"] = null, ["mode"] = "in-process" }
        : new JsonObject { ["jobs"] = jobs.Jobs, ["threads_per_job"] = jobs.ThreadsPerJob, ["mode"] = "run-cell processes" };

    /// <summary>
    /// `workbench plan`: checks the whole study exactly as <see cref="Execute"/> does and writes its folder — config,
    /// study.json and the list of cells — without running any cell. Each cell is then run on its own by
    /// <see cref="RunCell"/> (a Slurm array task, a shell loop, another machine on a shared filesystem), and
    /// <see cref="Collect"/> builds the study's outputs. Returns the folder and the number of cells.
    /// </summary>
    public static (string Folder, int Cells) Plan(StudyConfig config, StudyLaunch launch, TextWriter log)
    {
        string folder = launch.Out ?? Path.Combine("results", config.Name);
        var (trainingSize, cells) = Check(config, folder, launch.Source);
        var study = RunFolder.Create(folder, launch.Force);
        var manifest = Manifest.Start(study.Path, StudyPlan.ManifestStudy, commandLine: launch.CommandLine);
        var json = config.ToJson();
        manifest.Set("config", json);
        manifest.Set("source", launch.Source);
        manifest.Set("planned", true);
        manifest.Set("cells", new JsonArray(cells.Select(c => (JsonNode)c.Cell.ToJson()).ToArray()));
        File.WriteAllText(Path.Combine(study.Path, ConfigFileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        log.WriteLine($"planned study {config.Name}: {cells.Count} cells ({config.Models.Count} models × {config.Variants.Count} variants × {config.Samplers.Count} samplers × " +
                      $"{config.Seeds.Count} seeds), {config.Chains} chains each, {config.Budget} per run, {trainingSize} training examples → {study.Path}");
        for (int i = 0; i < cells.Count; i++) log.WriteLine($"  cell {i}: {cells[i].Cell.Id}");
        // Nobody writes the study folder until collect (or a local resume) takes it over: no writer, no claim.
        manifest.Release();
        File.Delete(Path.Combine(study.Path, RunFolder.ClaimFile));
        return (study.Path, cells.Count);
    }

    /// <summary>
    /// `workbench run-cell PLAN_DIR --index i`: runs exactly cell i of a planned (or any) study into its own run folder.
    /// Idempotent: a finished cell is left alone. An interrupted one resumes from its checkpoint; a failed or missing one
    /// runs from the start. A cell whose process is alive on this machine is refused. It writes only the cell's run
    /// folder, never the study's manifest, so any number of cells can run at once.
    /// Returns whether the cell ran (false: it was already finished).
    /// </summary>
    public static bool RunCell(string planFolder, int index, TextWriter log, int? threads = null)
    {
        if (threads is { } requested) ThreadChoice.For(requested, CpuBudget.Current);
        var plan = StudyPlan.Read(planFolder);
        if (index < 0 || index >= plan.Cells.Count)
            throw new OptionException($"--index must be in [0, {plan.Cells.Count - 1}]: {planFolder} has {plan.Cells.Count} cells, got {index}");
        var config = StudyConfig.Parse($"{planFolder}/manifest.json", plan.Config.ToJsonString());
        var (_, cells) = Check(config, planFolder, "manifest");
        if (!cells.Select(c => c.Cell).SequenceEqual(plan.Cells))
            throw new OptionException($"{planFolder}: its manifest's cells differ from those its config expands to (written by another Workbench version?); plan the study again");
        var (cell, options) = cells[index];
        // A job of `compare --jobs N` runs with its share of the study's threads.
        if (threads is { } t) options = options with { Threads = t };
        switch (RunFolder.Condition(options.Out))
        {
            case RunCondition.Finished:
                log.WriteLine($"cell {index} ({cell.Id}): already finished, nothing to do");
                return false;
            case RunCondition.Running:
                throw new OptionException($"cell {index} ({cell.Id}) is being run by another live process ({RunFolder.WriterName(options.Out)}); wait for it");
            case RunCondition.Interrupted:
                log.WriteLine($"cell {index} ({cell.Id}): interrupted before, resuming from its checkpoint");
                SamplingRun.Resume(options.Out, threads, log);
                return true;
            default:
                log.WriteLine($"cell {index} ({cell.Id}): running");
                SamplingRun.Execute(options with { Force = true, PrintDiagnostics = false }, log);
                return true;
        }
    }

    /// <summary>Each cell of a study folder and the condition of its run folder, in plan order.</summary>
    public static IReadOnlyList<(int Index, StudyCell Cell, RunCondition Condition)> CellConditions(string studyFolder)
    {
        var plan = StudyPlan.Read(studyFolder);
        return plan.Cells.Select((c, i) => (i, c, RunFolder.Condition(Path.Combine(studyFolder, c.Folder)))).ToList();
    }

    /// <summary>
    /// `workbench collect PLAN_DIR`: when every cell has finished, builds the study's tables, figures and report exactly
    /// as a local study would and marks the study finished. Otherwise refuses with one line naming the cells that are
    /// missing, running, interrupted or failed (and their indices for run-cell): never a report of a part.
    /// </summary>
    public static StudyResult Collect(string planFolder, bool live, TextWriter log)
    {
        var conditions = CellConditions(planFolder);
        var open = conditions.Where(c => c.Condition != RunCondition.Finished).ToList();
        if (open.Count > 0)
            throw new OptionException($"{planFolder}: {open.Count} of {conditions.Count} cells are not finished: " +
                string.Join(", ", open.Take(8).Select(c => $"{c.Index} {c.Cell.Id} ({Describe(c.Condition)})")) + (open.Count > 8 ? ", …" : "") +
                "; run them with 'workbench run-cell " + planFolder + " --index I' and collect again");
        if (RunFolder.Condition(planFolder) == RunCondition.Running)
            throw new OptionException($"{planFolder}: the study's own process is still alive (a local 'compare' or 'resume'?); wait for it");
        var plan = StudyPlan.Read(planFolder);
        var config = StudyConfig.Parse($"{planFolder}/manifest.json", plan.Config.ToJsonString());
        var study = RunFolder.ReclaimStudy(planFolder);
        var manifest = Manifest.Load(study.Path);
        manifest.Reopen(TorchSharp.torch.get_num_threads());
        log.WriteLine($"collecting study {config.Name}: all {conditions.Count} cells finished");
        return RunCells(config, study.Path, manifest, [], live, log, totalCells: conditions.Count);

        static string Describe(RunCondition c) => c switch
        {
            RunCondition.NotARun => "not started",
            RunCondition.Running => "running",
            RunCondition.Interrupted => "interrupted",
            RunCondition.Failed => "failed",
            _ => c.ToString().ToLowerInvariant(),
        };
    }

    /// <summary>
    /// `workbench resume STUDY_DIR`: finished runs are kept, interrupted ones resumed from their checkpoints, failed or
    /// missing ones run again from the start; then the study's outputs are built as an uninterrupted study's would be.
    /// </summary>
    public static StudyResult Resume(string studyFolder, bool live, TextWriter log, int jobs = 1, WorkbenchLauncher? launcher = null)
    {
        var plan = StudyPlan.Read(studyFolder);
        var condition = RunFolder.Condition(studyFolder);
        if (condition == RunCondition.Running) throw new OptionException($"{studyFolder}: the study is still running (its process is alive); wait for it or stop it first");
        var config = StudyConfig.Parse($"{studyFolder}/manifest.json", plan.Config.ToJsonString());
        var (_, cells) = Check(config, studyFolder, "manifest");
        if (!cells.Select(c => c.Cell).SequenceEqual(plan.Cells))
            throw new OptionException($"{studyFolder}: its manifest's cells differ from those its config expands to (written by another Workbench version?); start the study again");
        var open = cells.Count(c => RunFolder.Condition(c.Options.Out) != RunCondition.Finished);
        var localJobs = Jobs(config, jobs, launcher, open, log);
        var study = RunFolder.ReclaimStudy(studyFolder);
        var manifest = Manifest.Load(study.Path);
        manifest.Reopen(TorchSharp.torch.get_num_threads());
        if (jobs != 1) manifest.Set("jobs", JobsNode(localJobs));
        var work = new List<(int, StudyCell, SampleOptions, bool)>();
        foreach (var (index, (cell, options)) in cells.Index())
        {
            var state = RunFolder.Condition(options.Out);
            if (state == RunCondition.Finished) { log.WriteLine($"  {cell.Id}: finished, kept"); continue; }
            if (state == RunCondition.Interrupted) { work.Add((index, cell, options, true)); continue; }
            if (state == RunCondition.Failed) log.WriteLine($"  {cell.Id}: failed before; runs again from the start");
            work.Add((index, cell, options with { Force = true }, false));
        }
        log.WriteLine($"resuming study {config.Name}: {cells.Count - work.Count} of {cells.Count} runs finished, {work.Count} to go");
        return RunCells(config, study.Path, manifest, work, live, log, totalCells: cells.Count, jobs: localJobs);
    }

    /// <summary>Everything that can be wrong with a study, found before any run starts.</summary>
    private static (long TrainingSize, IReadOnlyList<(StudyCell Cell, SampleOptions Options)> Cells) Check(StudyConfig config, string folder, string source)
    {
        Dataset data;
        try
        {
            data = DataSource.Load(new DataOptions(config.Data, TaskKind.Classification, null, 0.2, ValFraction: config.ValFraction));
        }
        catch (Exception e) when (e is OptionException or DataFormatException)
        {
            throw new OptionException($"{source}: data: {e.Message}");
        }
        using (data)
        {
            if (config.Augment && ImageAugmentation.Refusal(data) is { } refusal) throw new OptionException($"{source}: augment {refusal}");
            long n = data.TrainX.shape[0];
            foreach (var s in config.Samplers)
                if ((s.BatchSize ?? config.BatchSize) > n)
                    throw new OptionException($"{source}: batch size {s.BatchSize ?? config.BatchSize} (sampler '{s.Label}') exceeds the {n} training examples of {data.Name}");
            foreach (var model in config.Models)
            foreach (var variant in config.Variants)
            {
                try
                {
                    using var network = ModelCatalog.Create(model.Options.ForData(data.SampleShape, data.NumClasses) with { Variant = variant });
                }
                catch (ArgumentException e)
                {
                    throw new OptionException($"{source}: model '{model.Label}' ({variant.ToName()}): {e.Message}");
                }
            }
            return (n, Expand(config, folder, n, source));
        }
    }

    private static StudyResult RunCells(StudyConfig config, string studyFolder, Manifest manifest,
        IReadOnlyList<(int Index, StudyCell Cell, SampleOptions Options, bool Resume)> work, bool live, TextWriter log, int? totalCells = null,
        LocalJobs? jobs = null)
    {
        var clock = Stopwatch.StartNew();
        int total = totalCells ?? work.Count, done = total - work.Count;
        var progress = new StudyProgress(log, live, total, done, work.Select(w => w.Cell).ToList());
        var failed = new List<StudyCell>();
        int diverged = 0;
        try
        {
            if (jobs is not null)
            {
                log.WriteLine($"{work.Count} runs, {jobs.Jobs} at once as 'run-cell' processes with {jobs.ThreadsPerJob} torch thread(s) each");
                var (failedJobs, divergedJobs) = jobs.Run(studyFolder, work.Select(w => (w.Index, w.Cell)).ToList(), progress, progress.RunLog);
                failed.AddRange(failedJobs);
                diverged += divergedJobs;
            }
            else
            {
                foreach (var (_, cell, options, resume) in work)
                {
                    progress.StartRun(cell);
                    var runLog = progress.RunLog;
                    try
                    {
                        var o = options with { Progress = progress.Update, PrintDiagnostics = false, CommandLine = manifest.Get("command_line") is JsonArray a ? a.Select(x => x!.GetValue<string>()).ToList() : null };
                        var result = resume ? SamplingRun.Resume(options.Out, null, runLog) : SamplingRun.Execute(o, runLog);
                        diverged += result.Diverged.Count;
                        progress.EndRun(cell, result.FinalTestBmaAccuracy.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average(), result.Seconds, result.Diverged.Count);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // One run failing (a bug, a full disk, every chain diverging) is recorded; the grid goes on.
                        failed.Add(cell);
                        progress.FailRun(cell, e);
                    }
                }
            }
            progress.Finish();
            manifest.Set("failed_runs", new JsonArray(failed.Select(c => (JsonNode)c.Id).ToArray()));
            var report = StudyReport.Build(studyFolder, log);
            var finished = StudyPlan.Read(studyFolder).Cells.Where(c => RunFolder.Condition(Path.Combine(studyFolder, c.Folder)) == RunCondition.Finished).ToList();
            // Diverged chains of every finished cell, whichever session ran it (collect and resume keep cells run before).
            diverged = finished.Sum(c => Manifest.Load(Path.Combine(studyFolder, c.Folder)).Get("divergences") is JsonArray d ? d.Count : 0);
            manifest.Set("timing", new JsonObject { ["seconds_this_session"] = clock.Elapsed.TotalSeconds });
            if (failed.Count > 0)
                manifest.Fail(new InvalidOperationException($"{failed.Count} of {total} runs failed: {string.Join(", ", failed.Select(c => c.Id))} (their manifests say why; 'workbench resume {studyFolder}' runs them again)"));
            else
                manifest.Finish(diverged > 0 ? RunStatus.FinishedWithDivergences : RunStatus.Finished);
            string reportPath = Path.Combine(studyFolder, StudyReport.ReportName);
            return new StudyResult(studyFolder, reportPath, finished, failed, diverged, clock.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            manifest.Fail(e);
            throw;
        }
    }
}

/// <summary>
/// Progress of a study: per run and overall (runs done / total, the current run's step, loss and test accuracy, elapsed
/// time, ETA). On a terminal one status line is redrawn in place; otherwise plain log lines, a few per run.
/// </summary>
internal sealed class StudyProgress
{
    private readonly TextWriter _log;
    private readonly bool _live;
    private readonly int _total;
    private int _done;
    private readonly Stopwatch _studyClock = Stopwatch.StartNew();
    private StudyCell? _current;
    private string _status = "";
    private double _lastFraction;

    /// <summary>The runs still to go, in order; their durations are estimated from finished runs of the same sampler.</summary>
    private readonly List<StudyCell> _pending;
    private readonly Dictionary<string, List<double>> _secondsBySampler = new();
    private double? _currentRemaining;

    public StudyProgress(TextWriter log, bool live, int total, int done, IReadOnlyList<StudyCell> pending)
    {
        _pending = pending.ToList();
        _log = log;
        _live = live;
        _total = total;
        _done = done;
        RunLog = live ? new StatusAwareWriter(this) : log;
    }

    /// <summary>Where a run's own messages go: on a terminal, lines are printed above the status line.</summary>
    public TextWriter RunLog { get; }

    public void StartRun(StudyCell cell)
    {
        _current = cell;
        _pending.Remove(cell);
        _lastFraction = 0;
        _currentRemaining = null;
        WriteLine($"[{_done + 1}/{_total}] {cell.Id}{StudyEta()}");
    }

    public void Update(RunProgress p)
    {
        _lastFraction = p.Steps > 0 ? Math.Clamp(((double)p.Group + (double)p.Iteration / p.Steps) / Math.Max(1, p.Groups), 0, 1) : 0;
        if (p.EtaSeconds is { } eta && p.ElapsedSeconds + eta > 0) _lastFraction = Math.Clamp(p.ElapsedSeconds / (p.ElapsedSeconds + eta), 0, 1);
        _currentRemaining = p.EtaSeconds;
        if (!_live) return;
        string accuracy = p.TestAccuracy is { } a ? $"  test acc {a.ToString("P1", CultureInfo.InvariantCulture)}" : "";
        string runEta = p.EtaSeconds is { } e ? $", ETA {Duration(e)}" : "";
        _status = $"[{_done + 1}/{_total}] {_current?.Id}  {p.Phase} step {p.Iteration}/{p.Steps}  loss {p.Loss.ToString("F4", CultureInfo.InvariantCulture)}{accuracy}  " +
                  $"run {Duration(p.ElapsedSeconds)}{runEta} | study {Duration(_studyClock.Elapsed.TotalSeconds)}{StudyEta()}";
        // A status line longer than the terminal would wrap, and \r would then redraw only its last row.
        int width = TerminalWidth();
        if (width > 20 && _status.Length >= width) _status = _status[..(width - 2)] + "…";
        _log.Write("\r\u001b[K" + _status);
        _log.Flush();
    }

    public void EndRun(StudyCell cell, double accuracy, double seconds, int diverged)
    {
        _done++;
        if (!_secondsBySampler.TryGetValue(cell.Sampler, out var list)) _secondsBySampler[cell.Sampler] = list = [];
        list.Add(seconds);
        string divergence = diverged > 0 ? $", {diverged} chain(s) diverged" : "";
        WriteLine($"[{_done}/{_total}] {cell.Id} finished in {Duration(seconds)}: final test BMA accuracy {accuracy.ToString("F4", CultureInfo.InvariantCulture)}{divergence}");
    }

    /// <summary>A run that another process ran (`--jobs`): its duration and divergences, from its run folder.</summary>
    public void EndJob(StudyCell cell, double seconds, int diverged)
    {
        _done++;
        _pending.Remove(cell);
        if (!_secondsBySampler.TryGetValue(cell.Sampler, out var list)) _secondsBySampler[cell.Sampler] = list = [];
        list.Add(seconds);
        string divergence = diverged > 0 ? $", {diverged} chain(s) diverged" : "";
        WriteLine($"[{_done}/{_total}] {cell.Id} finished in {Duration(seconds)}{divergence}");
    }

    public void FailRun(StudyCell cell, Exception e)
    {
        _done++;
        WriteLine($"[{_done}/{_total}] {cell.Id} FAILED: {e.Message.Split('\n')[0]}");
    }

    public void Finish() => WriteLine($"all {_total} runs done in {Duration(_studyClock.Elapsed.TotalSeconds)}");

    /// <summary>
    /// The study's remaining time: the current run's own ETA plus, for each run still to go, the mean duration of the
    /// finished runs of its sampler (samplers differ far more in cost than models or variants do); before any run of a
    /// sampler has finished, the mean of all finished runs. Empty until one run has finished.
    /// </summary>
    private string StudyEta()
    {
        var all = _secondsBySampler.Values.SelectMany(v => v).ToList();
        if (all.Count == 0) return "";
        double mean = all.Average();
        double current = _currentRemaining ?? (_current is { } c ? Estimate(c) * (1 - _lastFraction) : 0);
        double rest = _pending.Sum(Estimate);
        return $", study ETA {Duration(current + rest)}";

        double Estimate(StudyCell cell) => _secondsBySampler.TryGetValue(cell.Sampler, out var list) ? list.Average() : mean;
    }

    private void WriteLine(string line)
    {
        if (_live && _status.Length > 0) _log.Write("\r\u001b[K");
        _log.WriteLine(line);
        _status = "";
        _log.Flush();
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or InvalidOperationException)
        {
            return 0;
        }
    }

    private static string Duration(double seconds) => ProgressTicker.Duration(seconds);

    /// <summary>A run's log on a terminal: each line clears the status line first, so lines never mix with it.</summary>
    private sealed class StatusAwareWriter(StudyProgress owner) : TextWriter
    {
        public override System.Text.Encoding Encoding => owner._log.Encoding;
        public override void Write(char value) => owner._log.Write(value);
        public override void WriteLine(string? value)
        {
            // The run's periodic step lines repeat what the status line shows; on a terminal they are left out.
            if (value is not null && value.TrimStart().StartsWith('[') && value.Contains(" step ")) return;
            owner.WriteLine(value ?? "");
        }
    }
}
