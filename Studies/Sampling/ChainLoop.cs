using System.Diagnostics;
using TorchSharp;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Studies.Sampling;

/// <summary>
/// Runs the chains of one run and streams what they produce into draws.parquet, stats.parquet and eval.parquet
/// (and, for fitted methods, progress.parquet). Chains run as one batched computation (chain-mode batched) or one
/// after another (sequential); each chain has its own init, noise and batch-order seeds, so both modes give the same
/// chains. A chain that diverges is stopped and recorded; the others go on. A group of chains stops after --steps or
/// at the first step where a budget (--max-epochs, --max-grad-evals, --max-wall-time) is reached.
/// </summary>
internal sealed class ChainLoop : IDisposable
{
    private readonly SampleOptions _o;
    private readonly TextWriter _log;
    private readonly INetwork _network;
    private readonly ISampler _sampler;
    private readonly ChainSeeds[] _seeds;
    private readonly Likelihood _likelihood;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private readonly long[] _tracked;
    private readonly Tensor _trackedIndex, _trackedIndexCpu; // built once, used at every draw
    private readonly long[] _sampleShape;
    private readonly Tensor _trainX, _trainY, _testX, _testY, _valX, _valY;
    /// <summary>The split the running BMA, the function-space view, the final metrics and the calibration table are
    /// taken on: "test", or "train" when the data has no test split (CSV with --test-fraction 0).</summary>
    private readonly string _primarySplit;
    /// <summary>--augment: applied to every training minibatch (never to evaluation); null without it.</summary>
    private readonly ImageAugmentation? _augmentation;
    private readonly ParquetTableWriter _draws, _stats, _eval;
    private readonly ParquetTableWriter? _progress;
    private readonly bool _writesProgress; // known before the writers exist: a resume cuts the tables back first
    private readonly RunClock _clock = new();
    private readonly List<Divergence> _diverged = new();
    private readonly List<GroupStop> _stops = new();
    private readonly double[] _finalAccuracy, _finalNll;
    /// <summary>Per chain, the latest test-split BMA accuracy (running BMA or progress evaluation), for <see cref="RunProgress"/>.</summary>
    private readonly double[] _liveAccuracy;
    private double _lastNotified = double.NegativeInfinity;
    private long _stepsDone;
    private readonly string _checkpointPath;
    private readonly StateReader? _resume;
    private readonly Action<CheckpointProgress>? _checkpointed;

    /// <summary>The checkpoint a run writes every <see cref="SampleOptions.CheckpointInterval"/> steps (and after each
    /// chain group), in its run folder.</summary>
    public const string CheckpointFileName = "checkpoint.bin";

    public string[] TrackedNames { get; }

    public ChainLoop(SampleOptions o, TextWriter log, Dataset data, INetwork network, ISampler sampler, ChainSeeds[] seeds,
        long[] tracked, Likelihood likelihood, RunFolder folder, Device device, ScalarType dtype,
        StateReader? resume = null, Action<CheckpointProgress>? checkpointed = null)
    {
        _checkpointPath = folder.File(CheckpointFileName);
        _resume = resume;
        _checkpointed = checkpointed;
        _o = o; _log = log; _network = network; _sampler = sampler; _seeds = seeds; _likelihood = likelihood;
        _device = device; _dtype = dtype; _tracked = tracked;
        _trackedIndexCpu = tensor(tracked);
        _trackedIndex = _trackedIndexCpu.to(device);
        _sampleShape = data.SampleShape;
        _augmentation = o.Augment ? new ImageAugmentation() : null;
        _trainX = data.TrainX.to(dtype, device);
        _testX = data.TestX.to(dtype, device);
        _trainY = o.IsRegression ? data.TrainY.to(dtype, device) : data.TrainY.to(device);
        _testY = o.IsRegression ? data.TestY.to(dtype, device) : data.TestY.to(device);
        _valX = data.ValX.to(dtype, device);
        _valY = o.IsRegression ? data.ValY.to(dtype, device) : data.ValY.to(device);
        _primarySplit = data.TestCount > 0 ? "test" : "train";
        if (data.TestCount == 0) (_testX, _testY) = (_trainX, _trainY);
        _finalAccuracy = Enumerable.Repeat(double.NaN, o.Chains).ToArray();
        _finalNll = Enumerable.Repeat(double.NaN, o.Chains).ToArray();
        _liveAccuracy = Enumerable.Repeat(double.NaN, o.Chains).ToArray();

        // Parquet reads '.' in a column name as a nested path, so fc1.weight[3,17] is stored as fc1_weight[3,17].
        TrackedNames = tracked.Select(i => network.Layout.EntryName(i).Replace('.', '_')).ToArray();
        _functionPoints = (int)Math.Min(o.FunctionPoints, _testX.shape[0]);
        // Permutations are symmetries of standard networks only; W-Asym and σ-Asym networks have no canonical form to find.
        if (o.Canonical && network is IPermutationSymmetric { Variant: Variant.Standard } standard && standard.PermutationGroups.Count > 0) _canonicalNetwork = standard;
        _writesProgress = sampler.Kind == SamplerKind.Fitted && o.ProgressInterval > 0;
        // Resuming: the tables go back to the parts the checkpoint recorded; later parts (and temp files) are deleted.
        // A table already complete belongs to a run killed after its sampling ended (resumed from the checkpoint written
        // then): it is kept as it is.
        var writerOptions = new ParquetTableWriterOptions { ResumeExistingParts = resume is not null, AcceptCompleted = resume is not null };
        if (resume is not null)
            foreach (var name in TableNames)
            {
                var final = Path.Combine(folder.Path, name + ".parquet");
                long rows = File.Exists(final) && SamplingDone(resume, o)
                    ? ParquetTable.ReadRowCount(final)
                    : ParquetTableWriter.TruncateParts(final, checked((int)resume.Long($"table.{name}.parts")));
                if (rows != resume.Long($"table.{name}.rows"))
                    throw new InvalidDataException($"{resume.Source}: table '{name}' has {rows} rows in its kept parts; the checkpoint recorded {resume.Long($"table.{name}.rows")}");
            }
        _draws = new ParquetTableWriter(Path.Combine(folder.Path, "draws.parquet"),
            [TableColumn.Int("chain"), TableColumn.Int("draw"), TableColumn.Long("iteration"),
             .. TrackedNames.Select(TableColumn.Double)], writerOptions);
        _stats = new ParquetTableWriter(Path.Combine(folder.Path, "stats.parquet"),
            [TableColumn.Int("chain"), TableColumn.Long("iteration"), TableColumn.Double("epoch"), TableColumn.Double("loss"),
             TableColumn.Double("lp"), TableColumn.Double("step_size"), TableColumn.Double("grad_norm"),
             TableColumn.Int("diverging"), TableColumn.Double("wall_time_s"), TableColumn.Long("grad_evals"),
             .. sampler.ExtraStats.Select(TableColumn.Double)], writerOptions);
        _eval = new ParquetTableWriter(Path.Combine(folder.Path, "eval.parquet"),
            [TableColumn.Int("chain"), TableColumn.Int("draw"), TableColumn.Long("iteration"), TableColumn.Double("epoch"),
             TableColumn.Long("grad_evals"), TableColumn.Double("wall_time_s"), TableColumn.String("split"), .. MetricNames.Select(TableColumn.Double)], writerOptions);
        if (_functionPoints > 0)
            _function = new ParquetTableWriter(Path.Combine(folder.Path, FunctionTable),
                [TableColumn.Int("chain"), TableColumn.Int("draw"), TableColumn.Long("iteration"),
                 .. Enumerable.Range(0, _functionPoints).Select(i => TableColumn.Double($"point[{i}]"))], writerOptions);
        if (_canonicalNetwork is not null)
        {
            _canonical = new ParquetTableWriter(Path.Combine(folder.Path, CanonicalTable),
                [TableColumn.Int("chain"), TableColumn.Int("draw"), TableColumn.Long("iteration"), .. TrackedNames.Select(TableColumn.Double)], writerOptions);
        }
        if (o.SavePositions > 0)
        {
            _positionsFolder = folder.File(PositionsFolder);
            Directory.CreateDirectory(_positionsFolder);
            _positions = new ParquetTableWriter(Path.Combine(folder.Path, PositionsTable),
                [TableColumn.Int("chain"), TableColumn.Int("draw"), TableColumn.Long("iteration"), TableColumn.Int("cycle"), TableColumn.String("file")], writerOptions);
        }
        if (_writesProgress)
            _progress = new ParquetTableWriter(Path.Combine(folder.Path, ProgressTable),
                [TableColumn.Int("chain"), TableColumn.Long("iteration"), TableColumn.Double("epoch"), TableColumn.Long("grad_evals"),
                 TableColumn.Double("wall_time_s"), TableColumn.String("split"), .. ProgressMetricNames.Select(TableColumn.Double)], writerOptions);
        if (resume is not null) RestoreLoop(resume);
    }

    /// <summary>Every table the loop writes: flushed at each checkpoint and cut back to it on resume.</summary>
    private IEnumerable<string> TableNames => new[] { "draws", "stats", "eval" }
        .Concat(_functionPoints > 0 ? ["function"] : []).Concat(_canonicalNetwork is not null ? ["canonical"] : [])
        .Concat(_writesProgress ? ["progress"] : []).Concat(_positions is not null ? ["positions"] : []);

    private ParquetTableWriter Table(string name) => name switch
    {
        "draws" => _draws, "stats" => _stats, "eval" => _eval, "function" => _function!, "canonical" => _canonical!, "progress" => _progress!, "positions" => _positions!,
        _ => throw new ArgumentException($"no table '{name}'"),
    };

    public const string FunctionTable = "function.parquet";
    public const string CanonicalTable = "canonical.parquet";
    public const string ProgressTable = "progress.parquet";
    /// <summary>--save-positions: the index of saved full-parameter draws, and the folder of their files.</summary>
    public const string PositionsTable = "positions.parquet";
    public const string PositionsFolder = "positions";
    private readonly ParquetTableWriter? _positions;
    private readonly string? _positionsFolder;
    private readonly int _functionPoints;
    private readonly ParquetTableWriter? _function, _canonical;
    private readonly IPermutationSymmetric? _canonicalNetwork;
    private Tensor? _canonicalReference;

    private string[] MetricNames => _o.IsRegression ? ["nll", "rmse", "bma_nll", "bma_rmse"]
        : ["nll", "accuracy", "brier", "ece", "bma_nll", "bma_accuracy", "bma_brier", "bma_ece", "bma_mce"];

    /// <summary>progress.parquet's metrics: those of the BMA over one snapshot's draws.</summary>
    private string[] ProgressMetricNames => _o.IsRegression ? ["nll", "rmse"] : ["nll", "accuracy", "brier", "ece"];

    /// <summary>Each chain's final test-split BMA log p̄ [1, N, C] (classification), for the run's calibration table.</summary>
    private readonly Dictionary<int, Tensor> _finalTestBma = new();

    /// <summary>Final test BMA of every chain that did not diverge, [K', N, C], with the chain ids; null for regression.</summary>
    public (Tensor LogMean, int[] Chains, Tensor Labels)? FinalTestBma()
    {
        var chains = _finalTestBma.Keys.Where(k => !_diverged.Any(d => d.Chain == k)).Order().ToArray();
        if (_o.IsRegression || chains.Length == 0) return null;
        return (cat(chains.Select(k => _finalTestBma[k]).ToArray(), 0), chains, _testY.cpu());   // the primary split's labels
    }
    private long TrainingSize => _trainX.shape[0];
    private int BatchSize => _sampler.FullBatch ? (int)TrainingSize : _o.BatchSize;

    /// <summary>Chain groups of a run: one per chain when sequential, one for all chains when batched.</summary>
    public static int GroupCount(SampleOptions o) => o.ChainMode == "sequential" ? o.Chains : 1;

    /// <summary>Whether <paramref name="checkpoint"/> was written after the last group: sampling is done and a resume
    /// only has to complete the tables and the files derived from them.</summary>
    public static bool SamplingDone(StateReader checkpoint, SampleOptions o) => checkpoint.Long("loop.groups_done") == GroupCount(o);

    public RunResult Run()
    {
        int[][] groups = _o.ChainMode == "sequential"
            ? Enumerable.Range(0, _o.Chains).Select(k => new[] { k }).ToArray()
            : [Enumerable.Range(0, _o.Chains).ToArray()];
        int firstGroup = _resume is null ? 0 : checked((int)_resume.Long("loop.groups_done"));
        for (int g = firstGroup; g < groups.Length; g++)
        {
            _stops.Add(RunGroup(g, groups, g == firstGroup && _resume is not null && _resume.Has("group.iteration") ? _resume : null));
            // After the last group a checkpoint is written even with --checkpoint-every 0: a run killed while it completes
            // its tables, figures and diagnostics is then finished by `resume` without sampling again.
            if (_o.CheckpointInterval > 0 || g == groups.Length - 1) WriteCheckpoint(g + 1, null);
        }
        if (_diverged.Count == _o.Chains)
            throw new InvalidOperationException($"every chain diverged (first at iteration {_diverged.Min(d => d.Iteration)}; the stats table's 'diverging' rows show where): lower --lr");

        if (_draws.RowCount == 0)
        {
            var budget = _stops.FirstOrDefault(s => StopReason.IsBudget(s.Reason));
            throw new InvalidOperationException(_sampler.Kind == SamplerKind.MarkovChain
                ? budget is not null
                    ? $"no draws were collected: the {BudgetText(budget.Reason)} budget stopped the chains at iteration {budget.Iterations}, before the first draw after --warmup {_o.Warmup} on the --thin {_o.Thin} grid; raise the budget or lower --warmup"
                    : $"no draws were collected: no iteration after --warmup {_o.Warmup} on the --thin {_o.Thin} grid allowed one (cyclical samplers draw only in their sampling phases); run more --steps or lower --thin"
                : "no draws were collected");
        }
        double seconds = _clock.Elapsed.TotalSeconds;
        var tables = new Dictionary<string, long> { ["draws"] = _draws.Complete(), ["stats"] = _stats.Complete(), ["eval"] = _eval.Complete() };
        if (_function is not null) tables["function"] = _function.Complete();
        if (_canonical is not null) tables["canonical"] = _canonical.Complete();
        if (_progress is not null) tables["progress"] = _progress.Complete();
        if (_positions is not null) tables["positions"] = _positions.Complete();
        // Steps actually done (budgets may stop groups early), summed over groups.
        return new RunResult("", _diverged.Count == 0 ? RunStatus.Finished : RunStatus.FinishedWithDivergences, seconds,
            _stepsDone / seconds, _finalAccuracy, _finalNll, _diverged.OrderBy(d => d.Chain).ToList(), tables) { Stops = _stops.ToList() };
    }

    /// <summary>A draw recorded in draws.parquet but not yet evaluated (--eval-every): kept until a later draw is
    /// evaluated, or evaluated when the group stops, so that the final running BMA includes the last draw.</summary>
    private sealed record PendingDraw(Tensor Position, long Iteration, double Epoch, long GradEvals);

    /// <summary>Runs the chains of one group (all chains when batched, one when sequential) as one batch; with
    /// <paramref name="resume"/>, from the iteration after the checkpoint's. Returns why and after how many
    /// iterations the group stopped.</summary>
    private GroupStop RunGroup(int groupIndex, int[][] groups, StateReader? resume)
    {
        int[] chains = groups[groupIndex];
        var groupSeeds = chains.Select(k => _seeds[k]).ToArray();
        var noise = groupSeeds.Select(s => new Generator(s.Noise, _device)).ToArray();
        using var batches = new MinibatchStream(TrainingSize, BatchSize, groupSeeds.Select(s => s.DataOrder).ToArray());
        // Each chain's own augmentation generator (from its data-order seed), so batched and sequential chains augment alike.
        var augment = _augmentation is null ? null : ImageAugmentation.GeneratorsFor(groupSeeds.Select(s => s.DataOrder));
        var evaluators = NewEvaluators(_functionPoints);
        PendingDraw? pending = null;
        try
        {
            var target = new MinibatchLogLikelihood(_network, _likelihood);
            using var state = _sampler.Init(InitialPositions(groupSeeds));
            var stopped = new bool[chains.Length];
            var drawCount = new int[chains.Length];
            // Each chain's loss and gradient norm at its first step (θ as initialised): the divergence rule's reference.
            var lossReference = Enumerable.Repeat(double.NaN, chains.Length).ToArray();
            var gradReference = Enumerable.Repeat(double.NaN, chains.Length).ToArray();
            int reportEvery = Math.Max(1, _o.Steps / 10);
            string label = chains.Length == 1 && _o.Chains > 1 ? $"{_o.Study} chain {chains[0]}" : _o.Study;
            double lastLoss = double.NaN;
            long gradEvals = 0; // cumulative gradient evaluations of a batch, per chain (the cost ledger)
            int firstIteration = 1;
            double groupStart = _clock.Elapsed.TotalSeconds; // the wall-time budget is per group
            string? stop = null;
            if (resume is not null)
            {
                state.Load(resume);
                GeneratorState.Load(resume, "noise", noise);
                batches.Load(resume);
                if (augment is not null) GeneratorState.Load(resume, AugmentEntry, augment);
                foreach (var (split, evaluator) in evaluators) evaluator.Load(resume, $"evaluator.{split}");
                var savedStopped = resume.Longs("group.stopped");
                var savedDraws = resume.Longs("group.draw_count");
                if (savedStopped.Length != chains.Length || savedDraws.Length != chains.Length)
                    throw new InvalidDataException($"{resume.Source}: the checkpoint holds {savedStopped.Length} chains in its group, this run {chains.Length}");
                for (int k = 0; k < chains.Length; k++) { stopped[k] = savedStopped[k] != 0; drawCount[k] = checked((int)savedDraws[k]); }
                if (resume.Has("group.loss_reference"))
                {
                    resume.Doubles("group.loss_reference").CopyTo(lossReference, 0);
                    resume.Doubles("group.grad_reference").CopyTo(gradReference, 0);
                }
                gradEvals = resume.Long("group.grad_evals");
                lastLoss = resume.Double("group.last_loss");
                firstIteration = checked((int)resume.Long("group.iteration")) + 1;
                if (resume.Has("group.start_wall_s")) groupStart = resume.Double("group.start_wall_s");
                // A checkpoint at the step where the group stopped (a budget, or --steps) continues with what follows the loop.
                if (resume.Has("group.stop") && resume.Long("group.stop") >= 0) stop = StopReason.FromCode(resume.Long("group.stop"));
                if (resume.Has("group.pending.position"))
                    pending = new PendingDraw(resume.NewTensor("group.pending.position", _device), resume.Long("group.pending.iteration"),
                        resume.Double("group.pending.epoch"), resume.Long("group.pending.grad_evals"));
            }
            long lastIteration = firstIteration - 1;
            // A checkpoint at a block boundary: every row so far in closed parts, then the state to continue from.
            void Checkpoint(int iteration) => WriteCheckpoint(groupIndex, w =>
            {
                w.Long("group.iteration", iteration);
                state.Save(w);
                GeneratorState.Save(w, "noise", noise);
                batches.Save(w);
                if (augment is not null) GeneratorState.Save(w, AugmentEntry, augment);
                foreach (var (split, evaluator) in evaluators) evaluator.Save(w, $"evaluator.{split}");
                w.Longs("group.stopped", stopped.Select(b => b ? 1L : 0L).ToArray());
                w.Longs("group.draw_count", drawCount.Select(d => (long)d).ToArray());
                w.Doubles("group.loss_reference", lossReference);
                w.Doubles("group.grad_reference", gradReference);
                w.Long("group.grad_evals", gradEvals);
                w.Double("group.last_loss", lastLoss);
                w.Double("group.start_wall_s", groupStart);
                w.Long("group.stop", stop is null ? -1 : StopReason.Code(stop));
                if (pending is not null)
                {
                    w.Tensor("group.pending.position", pending.Position);
                    w.Long("group.pending.iteration", pending.Iteration);
                    w.Double("group.pending.epoch", pending.Epoch);
                    w.Long("group.pending.grad_evals", pending.GradEvals);
                }
            }, iteration);

            for (int iteration = firstIteration; stop is null && iteration <= _o.Steps; iteration++)
            {
                using var scope = NewDisposeScope();
                SetBatch(target, batches, augment, chains.Length);
                var info = _sampler.Step(state, target, noise);
                gradEvals += info.GradientEvaluations;
                // Epoch equivalents: examples whose gradient was computed, over N (HMC: L full passes per step).
                double epoch = (double)gradEvals * BatchSize / TrainingSize, wall = _clock.Elapsed.TotalSeconds;
                _stepsDone++;
                lastIteration = iteration;
                var active = new List<int>();
                for (int k = 0; k < chains.Length; k++)
                {
                    if (stopped[k]) continue;
                    double loss = -info.LogLikelihood[k];
                    if (double.IsNaN(lossReference[k])) { lossReference[k] = loss; gradReference[k] = info.GradNorm[k]; }
                    string? why = DivergenceRule.Check(info.Diverging[k] || !double.IsFinite(info.Lp[k]), loss, info.GradNorm[k],
                        lossReference[k], gradReference[k], _o.DivergenceFactor);
                    bool diverging = why is not null;
                    var row = new object[10 + _sampler.ExtraStats.Count];
                    row[0] = chains[k]; row[1] = (long)iteration; row[2] = epoch; row[3] = -info.LogLikelihood[k]; row[4] = info.Lp[k];
                    row[5] = info.StepSize; row[6] = info.GradNorm[k]; row[7] = diverging ? 1 : 0; row[8] = wall; row[9] = gradEvals;
                    for (int j = 0; j < _sampler.ExtraStats.Count; j++) row[10 + j] = info.Extra[_sampler.ExtraStats[j]][k];
                    _stats.Append(row);
                    if (diverging)
                    {
                        stopped[k] = true;
                        _diverged.Add(new Divergence(chains[k], iteration));
                        _log.WriteLine($"  [{label}] chain {chains[k]} diverged at iteration {iteration} and was stopped ({why})");
                        continue;
                    }
                    active.Add(k);
                }
                if (active.Count == 0)
                {
                    stop = StopReason.Diverged;
                    break;
                }
                lastLoss = active.Average(k => -info.LogLikelihood[k]);
                stop = BudgetReached(epoch, gradEvals, wall - groupStart) ?? (iteration == _o.Steps ? StopReason.Steps : null);

                bool collect = _sampler.Kind == SamplerKind.MarkovChain && info.Collect
                    && iteration > _o.Warmup && (iteration - _o.Warmup) % _o.Thin == 0;
                if (collect)
                {
                    var position = _sampler.Draw(state, noise);
                    bool evaluate = drawCount[active[0]] % _o.EvalEvery == 0 || iteration + _o.Thin > _o.Steps || stop is not null;
                    RecordDraw(position, chains, active, drawCount, iteration, info.Extra.GetValueOrDefault("cycle"));
                    DisposePending(ref pending);
                    if (evaluate)
                    {
                        Evaluate(position, chains, active, drawCount, iteration, epoch, gradEvals, evaluators);
                        position.Dispose();
                    }
                    else pending = new PendingDraw(position.DetachFromDisposeScope(), iteration, epoch, gradEvals);
                    foreach (int k in active) drawCount[k]++;
                }
                if (stop is not null && pending is not null)
                {
                    // The group's last draw was not on the --eval-every grid: evaluate it now, as the draw it is.
                    Evaluate(pending.Position, chains, active, drawCount.Select(d => d - 1).ToArray(), pending.Iteration, pending.Epoch, pending.GradEvals, evaluators);
                    DisposePending(ref pending);
                }
                if (_progress is not null && (iteration % _o.ProgressInterval == 0 || stop is not null))
                    EvaluateProgress(state, chains, active, iteration, epoch, gradEvals);
                if (stop is not null && StopReason.IsBudget(stop))
                    _log.WriteLine($"  [{label}] stopped at iteration {iteration} of {_o.Steps}: {BudgetText(stop)} reached (epoch {epoch:F3}, {gradEvals} gradient evaluations, {wall - groupStart:F1}s)");

                double groupSeconds = _clock.Elapsed.TotalSeconds - groupStart;
                double? eta = Eta(groupIndex, groups.Length, GroupFraction(_o, iteration, epoch, gradEvals, groupSeconds), groupSeconds);
                if (iteration % reportEvery == 0 || stop is not null)
                    Report(label, iteration, lastLoss, drawCount.Max(), chains, eta);
                Notify(groupIndex, groups.Length, iteration, lastLoss, chains, eta, force: false,
                    _sampler.Kind == SamplerKind.Fitted ? "fitting" : iteration <= _o.Warmup ? "warm-up" : "sampling");
                if (_o.CheckpointInterval > 0 && iteration % _o.CheckpointInterval == 0) Checkpoint(iteration);
                if (_o.CrashAfterSteps == _stepsDone) throw new SimulatedCrashException(_stepsDone);
            }

            if (_sampler.Kind == SamplerKind.Fitted)
            {
                var active = Enumerable.Range(0, chains.Length).Where(k => !stopped[k]).ToList();
                double epoch = (double)gradEvals * BatchSize / TrainingSize;
                if (active.Count > 0 && !_sampler.CanDraw(state))
                    throw new InvalidOperationException(stop is not null && StopReason.IsBudget(stop)
                        ? $"{_sampler.Name} has no fitted distribution to draw from at iteration {lastIteration}, where the {BudgetText(stop)} budget stopped it (SWAG collects its first snapshot after step ⌊start·steps⌋); raise the budget or lower --param start"
                        : $"{_sampler.Name} has no fitted distribution to draw from at iteration {lastIteration}");
                for (int s = 0; s < _o.Draws && active.Count > 0; s++)
                {
                    using var scope = NewDisposeScope();
                    using var position = _sampler.Draw(state, noise);
                    RecordDraw(position, chains, active, drawCount, lastIteration, cycle: null);
                    if (s % _o.EvalEvery == 0 || s == _o.Draws - 1) Evaluate(position, chains, active, drawCount, lastIteration, epoch, gradEvals, evaluators);
                    foreach (int k in active) drawCount[k]++;
                    Notify(groupIndex, groups.Length, lastIteration, lastLoss, chains, Eta(groupIndex, groups.Length, 1, _clock.Elapsed.TotalSeconds - groupStart), force: false, "drawing");
                }
                var finals = chains.Select(k => _finalAccuracy[k]).Where(double.IsFinite).ToArray();
                string quality = finals.Length == 0 ? "" : _o.IsRegression ? $": test BMA rmse {finals.Average():F4}" : $": test BMA acc {finals.Average():P1}";
                _log.WriteLine($"  [{label}] {_o.Draws} draws from the fitted {_sampler.Name} distribution{quality}");
            }
            Notify(groupIndex, groups.Length, lastIteration, lastLoss, chains, Eta(groupIndex, groups.Length, 1, _clock.Elapsed.TotalSeconds - groupStart), force: true,
                _sampler.Kind == SamplerKind.Fitted ? "drawing" : lastIteration <= _o.Warmup ? "warm-up" : "sampling");

            // Keep each chain's final test BMA for the run's calibration table and reliability diagram.
            if (evaluators[0].Evaluator.LogMeanProbabilities() is { } final)
                using (final)
                    for (int k = 0; k < chains.Length; k++)
                        _finalTestBma[chains[k]] = final.narrow(0, k, 1).cpu().clone().DetachFromDisposeScope();
            return new GroupStop(stop ?? StopReason.Steps, lastIteration);
        }
        finally
        {
            DisposePending(ref pending);
            foreach (var (_, e) in evaluators) e.Dispose();
            foreach (var g in noise) g.Dispose();
            foreach (var g in augment ?? []) g.Dispose();
        }
    }

    /// <summary>The checkpoint entry of the chains' augmentation generators (--augment), beside the minibatch stream's.</summary>
    private const string AugmentEntry = "augment.generator";

    private static void DisposePending(ref PendingDraw? pending)
    {
        pending?.Position.Dispose();
        pending = null;
    }

    /// <summary>Rows one draw's evaluation reads: the splits <see cref="NewEvaluators"/> makes evaluators for (what the
    /// default --eval-every, <see cref="SampleOptions.AutoEvalEvery"/>, is computed from).</summary>
    public static long RowsEvaluatedPerDraw(Dataset data, bool evalTrain) =>
        (data.TestCount > 0 ? data.TestCount : data.TrainCount) + (evalTrain && data.TestCount > 0 ? data.TrainCount : 0) + data.ValCount;

    /// <summary>Fresh evaluators of the test split (and the train split with --eval-train), each with a running BMA of its own.</summary>
    private List<(string Split, PredictiveEvaluator Evaluator)> NewEvaluators(int trackedPoints)
    {
        // The first is the primary split (test; the training rows when there is no test split).
        var evaluators = new List<(string Split, PredictiveEvaluator Evaluator)>
        {
            (_primarySplit, new PredictiveEvaluator(_network, _testX, _testY, !_o.IsRegression, _o.NoiseStd) { TrackedPoints = trackedPoints }),
        };
        if (_o.EvalTrain && _primarySplit != "train") evaluators.Add(("train", new PredictiveEvaluator(_network, _trainX, _trainY, !_o.IsRegression, _o.NoiseStd)));
        if (_valX.shape[0] > 0) evaluators.Add(("val", new PredictiveEvaluator(_network, _valX, _valY, !_o.IsRegression, _o.NoiseStd)));
        return evaluators;
    }

    /// <summary>The budget reached after a step (null: none), checked in the order epochs, gradient evaluations, wall time.</summary>
    private string? BudgetReached(double epoch, long gradEvals, double groupSeconds) =>
        _o.MaxEpochs is { } e && epoch >= e ? StopReason.Epochs
        : _o.MaxGradEvals is { } g && gradEvals >= g ? StopReason.GradEvals
        : _o.MaxWallSeconds is { } w && groupSeconds >= w ? StopReason.WallTime
        : null;

    /// <summary>The option that set a budget, as the user wrote it.</summary>
    private string BudgetText(string reason) => reason switch
    {
        StopReason.Epochs => FormattableString.Invariant($"--max-epochs {_o.MaxEpochs}"),
        StopReason.GradEvals => FormattableString.Invariant($"--max-grad-evals {_o.MaxGradEvals}"),
        StopReason.WallTime => FormattableString.Invariant($"--max-wall-time {_o.MaxWallSeconds}"),
        _ => reason,
    };

    /// <summary>How much of a group's work is done: the largest of the fractions of --steps and of each budget.</summary>
    internal static double GroupFraction(SampleOptions o, long iteration, double epoch, long gradEvals, double groupSeconds)
    {
        double f = (double)iteration / o.Steps;
        if (o.MaxEpochs is { } e) f = Math.Max(f, epoch / e);
        if (o.MaxGradEvals is { } g) f = Math.Max(f, (double)gradEvals / g);
        if (o.MaxWallSeconds is { } w) f = Math.Max(f, groupSeconds / w);
        return Math.Min(1, f);
    }

    /// <summary>Seconds to the end of the run: the rest of this group at its pace so far (at most its wall-time budget),
    /// and as long again for each group still to come.</summary>
    private double? Eta(int groupIndex, int groups, double fraction, double groupSeconds) => Eta(_o, groupIndex, groups, fraction, groupSeconds);

    internal static double? Eta(SampleOptions o, int groupIndex, int groups, double fraction, double groupSeconds)
    {
        if (fraction <= 0 || groupSeconds <= 0) return null;
        double perGroup = groupSeconds / fraction;
        if (o.MaxWallSeconds is { } w) perGroup = Math.Min(perGroup, w);
        return Math.Max(0, perGroup - groupSeconds) + (groups - groupIndex - 1) * perGroup;
    }

    /// <summary>Calls <see cref="SampleOptions.Progress"/>, at most every 0.25 s unless <paramref name="force"/>d; no tensor work.</summary>
    private void Notify(int group, int groups, long iteration, double loss, int[] chains, double? eta, bool force, string phase)
    {
        if (_o.Progress is null) return;
        double now = _clock.Elapsed.TotalSeconds;
        if (!force && now - _lastNotified < 0.25) return;
        _lastNotified = now;
        var accuracies = chains.Where(k => !_diverged.Any(d => d.Chain == k)).Select(k => _liveAccuracy[k]).Where(double.IsFinite).ToArray();
        double? accuracy = _o.IsRegression || accuracies.Length == 0 ? null : accuracies.Average();
        _o.Progress(new RunProgress(group, groups, iteration, _o.Steps, loss, accuracy, now, eta, phase));
    }

    /// <summary>
    /// A progress evaluation of a fitted method (progress.parquet): <see cref="SampleOptions.ProgressDraws"/> draws from
    /// the current fitted distribution, evaluated by fresh evaluators whose BMA is over those draws only. The draws come
    /// from generators seeded by <see cref="ChainSeeds.Progress"/> (chain's noise seed, iteration), not from the fit's
    /// own generators, so the fit and its final draws are the same with or without progress evaluations, and a resumed
    /// run repeats them without checkpointed state. Skipped while the method has nothing to draw from (SWAG before its
    /// first snapshot).
    /// </summary>
    private void EvaluateProgress(SamplerState state, int[] chains, List<int> active, long iteration, double epoch, long gradEvals)
    {
        if (!_sampler.CanDraw(state)) return;
        var generators = chains.Select(k => new Generator(ChainSeeds.Progress(_seeds[k].Noise, iteration), _device)).ToArray();
        var evaluators = NewEvaluators(trackedPoints: 0);
        try
        {
            var metrics = new DrawMetrics[evaluators.Count][];
            for (int s = 0; s < _o.ProgressDraws; s++)
            {
                using var scope = NewDisposeScope();
                using var position = _sampler.Draw(state, generators);
                for (int e = 0; e < evaluators.Count; e++) metrics[e] = evaluators[e].Evaluator.Add(position);
            }
            double wall = _clock.Elapsed.TotalSeconds;
            for (int e = 0; e < evaluators.Count; e++)
                foreach (int k in active)
                {
                    var m = metrics[e][k];
                    double[] v = _o.IsRegression ? [m.BmaNll, m.BmaRmse] : [m.BmaNll, m.BmaAccuracy, m.BmaBrier, m.BmaEce];
                    var row = new object[6 + v.Length];
                    row[0] = chains[k]; row[1] = iteration; row[2] = epoch; row[3] = gradEvals; row[4] = wall; row[5] = evaluators[e].Split;
                    for (int j = 0; j < v.Length; j++) row[6 + j] = v[j];
                    _progress!.Append(row);
                    if (evaluators[e].Split == _primarySplit && !_o.IsRegression) _liveAccuracy[chains[k]] = m.BmaAccuracy;
                }
        }
        finally
        {
            foreach (var (_, e) in evaluators) e.Dispose();
            foreach (var g in generators) g.Dispose();
        }
    }

    private void SetBatch(MinibatchLogLikelihood target, MinibatchStream batches, Generator[]? augment, int chains)
    {
        if (_sampler.FullBatch)
        {
            target.SetBatch(_trainX.unsqueeze(0).expand([chains, .. _trainX.shape]), _trainY.unsqueeze(0).expand([chains, .. _trainY.shape]));
            return;
        }
        var flat = batches.Next().to(_device).view(-1);
        var x = _trainX.index_select(0, flat).view([chains, BatchSize, .. _sampleShape]);
        if (_augmentation is not null) x = _augmentation.Apply(x, augment!);
        target.SetBatch(x, _trainY.index_select(0, flat).view(chains, BatchSize));
    }

    /// <summary>Writes one draw of the active chains (tracked parameters) to draws.parquet, as draw number <paramref name="draw"/>[k],
    /// and with --save-positions the full θ of the draws on its grid (<paramref name="cycle"/>: per chain, cyclical samplers only).</summary>
    private void RecordDraw(Tensor position, int[] chains, List<int> active, int[] draw, long iteration, double[]? cycle)
    {
        if (_positions is not null) SavePositions(position, chains, active, draw, iteration, cycle);
        var values = position.index_select(1, _trackedIndex).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        foreach (int k in active)
        {
            var row = new object[3 + _tracked.Length];
            row[0] = chains[k]; row[1] = draw[k]; row[2] = iteration;
            for (int j = 0; j < _tracked.Length; j++) row[3 + j] = values[k * _tracked.Length + j];
            _draws.Append(row);
        }
    }

    /// <summary>
    /// --save-positions: θ of draw d of chain k, for every d on the grid d % n = 0 up to <see cref="SampleOptions.MaxSavedPositions"/>
    /// per chain, to positions/chain{k}-draw{d}.bin (a one-entry checkpoint file, <see cref="PositionFile"/>, written
    /// atomically) and a row of positions.parquet. A file written after the last checkpoint is written again, the same,
    /// by the resumed run, whose index rows are cut back with the other tables.
    /// </summary>
    private void SavePositions(Tensor position, int[] chains, List<int> active, int[] draw, long iteration, double[]? cycle)
    {
        foreach (int k in active)
        {
            if (draw[k] % _o.SavePositions != 0 || draw[k] / _o.SavePositions >= SampleOptions.MaxSavedPositions) continue;
            string file = PositionFile.Name(chains[k], draw[k]);
            using (var scope = NewDisposeScope())
                PositionFile.Write(Path.Combine(_positionsFolder!, Path.GetFileName(file)), position[k]);
            _positions!.Append(chains[k], draw[k], iteration, cycle is null ? -1 : (int)cycle[k], file);
        }
    }

    /// <summary>Evaluates draw number <paramref name="draw"/>[k] of the active chains: adds it to the running BMA and writes
    /// eval.parquet (and the function-space and canonical views).</summary>
    private void Evaluate(Tensor position, int[] chains, List<int> active, int[] draw, long iteration, double epoch, long gradEvals,
        List<(string Split, PredictiveEvaluator Evaluator)> evaluators)
    {
        if (_canonical is not null) RecordCanonical(position, chains, active, draw, iteration);
        foreach (var (split, evaluator) in evaluators)
        {
            var metrics = evaluator.Add(position);
            foreach (int k in active)
            {
                var m = metrics[k];
                double[] v = _o.IsRegression ? [m.Nll, m.Rmse, m.BmaNll, m.BmaRmse]
                    : [m.Nll, m.Accuracy, m.Brier, m.Ece, m.BmaNll, m.BmaAccuracy, m.BmaBrier, m.BmaEce, m.BmaMce];
                var row = new object[7 + v.Length];
                row[0] = chains[k]; row[1] = draw[k]; row[2] = iteration; row[3] = epoch; row[4] = gradEvals;
                row[5] = _clock.Elapsed.TotalSeconds; row[6] = split;
                for (int j = 0; j < v.Length; j++) row[7 + j] = v[j];
                _eval.Append(row);
                if (split == _primarySplit && _function is not null)
                {
                    var point = new object[3 + _functionPoints];
                    point[0] = chains[k]; point[1] = draw[k]; point[2] = iteration;
                    for (int j = 0; j < _functionPoints; j++) point[3 + j] = evaluator.LastPointValues[k][j];
                    _function.Append(point);
                }
                if (split == _primarySplit)
                {
                    _finalAccuracy[chains[k]] = _o.IsRegression ? m.BmaRmse : m.BmaAccuracy;
                    _finalNll[chains[k]] = m.BmaNll;
                    _liveAccuracy[chains[k]] = m.BmaAccuracy;
                }
            }
        }
    }

    /// <summary>
    /// The canonical view (METHODS: Diagnostics): each draw of a standard network (MLP, cnn, ResNet) aligned by weight matching to a fixed
    /// reference — chain 0's first recorded draw — so that R̂ is not inflated by chains sitting in permuted copies of
    /// the same mode.
    /// </summary>
    private void RecordCanonical(Tensor position, int[] chains, List<int> active, int[] drawCount, long iteration)
    {
        using var scope = NewDisposeScope();
        var cpu = position.detach().to_type(ScalarType.Float32).cpu();
        if (_canonicalReference is null)
        {
            int first = active.Contains(0) && chains[0] == 0 ? 0 : active[0];
            _canonicalReference = cpu[first].clone().DetachFromDisposeScope();
        }
        foreach (int k in active)
        {
            var (aligned, _, _) = WeightMatching.Align(_canonicalNetwork!, _canonicalReference, cpu[k], seed: (ulong)_seeds[chains[k]].Init);
            var values = aligned.index_select(0, _trackedIndexCpu).to_type(ScalarType.Float64).data<double>().ToArray();
            var row = new object[3 + values.Length];
            row[0] = chains[k]; row[1] = drawCount[k]; row[2] = iteration;
            for (int j = 0; j < values.Length; j++) row[3 + j] = values[j];
            _canonical!.Append(row);
        }
    }

    private void Report(string label, int iteration, double loss, int draws, int[] chains, double? eta)
    {
        double elapsed = _clock.Elapsed.TotalSeconds;
        var finals = chains.Select(k => _finalAccuracy[k]).Where(double.IsFinite).ToArray();
        var progress = chains.Select(k => _liveAccuracy[k]).Where(double.IsFinite).ToArray();
        string quality = finals.Length > 0 ? _o.IsRegression ? $"test BMA rmse {finals.Average():F4}" : $"test BMA acc {finals.Average():P1}"
            : _sampler.Kind == SamplerKind.Fitted ? progress.Length > 0 ? $"fitting, test acc {progress.Average():P1} ({_o.ProgressDraws} draws)" : "fitting"
            : iteration <= _o.Warmup ? "warm-up" : "no draw yet";
        string remaining = eta is { } s ? $"{s:F0}s" : "?";
        _log.WriteLine($"  [{label}] step {iteration,6}/{_o.Steps}  loss {loss:F4}  {quality}  draws {draws}  {elapsed:F1}s elapsed, ETA {remaining}");
    }

    /// <summary>θ₀ [K, P]: chain k starts from the network's initialisation drawn with its own init seed.</summary>
    private Tensor InitialPositions(ChainSeeds[] seeds)
    {
        using var scope = NewDisposeScope();
        var rows = seeds.Select(s =>
        {
            using var g = new Generator(s.Init);
            return _network.InitialPosition(g);
        }).ToArray();
        return stack(rows).to(_dtype, _device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Flushes the three tables (all rows so far become closed parts), then writes the checkpoint atomically:
    /// the loop's counters, the final BMA of finished groups, each table's rows and parts, and, inside a group,
    /// what <paramref name="group"/> adds (sampler state, generators, minibatch stream, evaluators, counters).
    /// </summary>
    private void WriteCheckpoint(int groupsDone, Action<StateWriter>? group, long iteration = 0)
    {
        foreach (var name in TableNames) Table(name).Flush();
        var w = new StateWriter();
        w.Long("loop.groups_done", groupsDone);
        w.Long("loop.steps_done", _stepsDone);
        w.Double("loop.wall_s", _clock.Elapsed.TotalSeconds);
        w.Longs("loop.diverged", _diverged.SelectMany(d => new[] { (long)d.Chain, d.Iteration }).ToArray());
        w.Longs("loop.stop_reasons", _stops.Select(s => StopReason.Code(s.Reason)).ToArray());
        w.Longs("loop.stop_iterations", _stops.Select(s => s.Iterations).ToArray());
        w.Doubles("loop.final_accuracy", _finalAccuracy);
        w.Doubles("loop.final_nll", _finalNll);
        var bmaChains = _finalTestBma.Keys.Order().ToArray();
        w.Longs("loop.final_bma_chains", bmaChains.Select(k => (long)k).ToArray());
        foreach (int k in bmaChains) w.Tensor($"loop.final_bma.{k}", _finalTestBma[k]);
        if (_canonicalReference is not null) w.Tensor("loop.canonical_reference", _canonicalReference);
        foreach (var name in TableNames)
        {
            w.Long($"table.{name}.rows", Table(name).RowCount);
            w.Long($"table.{name}.parts", Table(name).PartCount);
        }
        group?.Invoke(w);
        CheckpointFile.Write(_checkpointPath, w);
        _checkpointed?.Invoke(new CheckpointProgress(groupsDone, group is null ? null : iteration, _clock.Elapsed.TotalSeconds));
    }

    /// <summary>The loop's own counters from a checkpoint (the group's state is restored by <see cref="RunGroup"/>).</summary>
    private void RestoreLoop(StateReader r)
    {
        _stepsDone = r.Long("loop.steps_done");
        _clock.OffsetSeconds = r.Double("loop.wall_s");
        var diverged = r.Longs("loop.diverged");
        for (int i = 0; i + 1 < diverged.Length; i += 2) _diverged.Add(new Divergence((int)diverged[i], diverged[i + 1]));
        if (r.Has("loop.stop_reasons"))
        {
            var reasons = r.Longs("loop.stop_reasons");
            var iterations = r.Longs("loop.stop_iterations");
            for (int g = 0; g < reasons.Length; g++) _stops.Add(new GroupStop(StopReason.FromCode(reasons[g]), iterations[g]));
        }
        r.Doubles("loop.final_accuracy").CopyTo(_finalAccuracy, 0);
        if (!_o.IsRegression) _finalAccuracy.CopyTo(_liveAccuracy, 0);
        r.Doubles("loop.final_nll").CopyTo(_finalNll, 0);
        foreach (long k in r.Longs("loop.final_bma_chains")) _finalTestBma[(int)k] = r.NewTensor($"loop.final_bma.{k}");
        if (r.Has("loop.canonical_reference")) _canonicalReference = r.NewTensor("loop.canonical_reference");
    }

    public void Dispose()
    {
        foreach (var t in _finalTestBma.Values) t.Dispose();
        _canonicalReference?.Dispose();
        if (!ReferenceEquals(_trackedIndex, _trackedIndexCpu)) _trackedIndex.Dispose();
        _trackedIndexCpu.Dispose();
        _function?.Dispose();
        _canonical?.Dispose();
        _progress?.Dispose();
        _positions?.Dispose();
        _draws.Dispose();
        _stats.Dispose();
        _eval.Dispose();
    }
}

/// <summary>
/// One saved full-parameter draw (--save-positions): a checkpoint file (<see cref="StateCheckpointFormat"/>, written
/// atomically by <see cref="CheckpointFile"/>) with the single entry <c>theta</c>, the draw's θ [P] in the run's dtype,
/// little-endian. <see cref="Name"/> is its path relative to the run folder, as positions.parquet's <c>file</c> holds it.
/// </summary>
public static class PositionFile
{
    public const string Entry = "theta";

    public static string Name(int chain, int draw) => $"{ChainLoop.PositionsFolder}/chain{chain}-draw{draw}.bin";

    public static void Write(string path, Tensor theta)
    {
        var w = new StateWriter();
        w.Tensor(Entry, theta);
        CheckpointFile.Write(path, w);
    }

    /// <summary>θ [P] on the CPU, in the dtype it was saved in.</summary>
    public static Tensor Read(string path) => CheckpointFile.Read(path).NewTensor(Entry);
}

/// <summary>Why a chain group stopped and after how many iterations (<see cref="StopReason"/>).</summary>
public sealed record GroupStop(string Reason, long Iterations);

/// <summary>Why a chain group stopped, as the manifest's <c>stop</c> section names it.</summary>
public static class StopReason
{
    /// <summary>It ran all --steps.</summary>
    public const string Steps = "steps";
    /// <summary>--max-epochs was reached.</summary>
    public const string Epochs = "epochs";
    /// <summary>--max-grad-evals was reached.</summary>
    public const string GradEvals = "grad_evals";
    /// <summary>--max-wall-time was reached.</summary>
    public const string WallTime = "wall_time";
    /// <summary>Every chain of the group diverged.</summary>
    public const string Diverged = "diverged";

    private static readonly string[] Codes = [Steps, Epochs, GradEvals, WallTime, Diverged];

    public static bool IsBudget(string reason) => reason is Epochs or GradEvals or WallTime;

    /// <summary>The reason's number in a checkpoint.</summary>
    public static long Code(string reason) => Array.IndexOf(Codes, reason) is var i and >= 0 ? i : throw new ArgumentException($"no stop reason '{reason}'");

    public static string FromCode(long code) => code >= 0 && code < Codes.Length ? Codes[code]
        : throw new InvalidDataException($"a checkpoint names stop reason {code}; this Workbench knows 0..{Codes.Length - 1}");
}

/// <summary>How far a run's last checkpoint got: groups of chains finished, and the iteration inside the next group
/// (null at a group boundary).</summary>
public sealed record CheckpointProgress(int GroupsDone, long? Iteration, double WallSeconds);

/// <summary>Tests only (<see cref="SampleOptions.CrashAfterSteps"/>): stands for a process killed after an
/// iteration; the run's manifest is left <c>running</c>, as a kill would leave it.</summary>
internal sealed class SimulatedCrashException(long iteration) : Exception($"simulated crash after iteration {iteration}");

/// <summary>Elapsed time of a run, continuing from a checkpoint's when the run is resumed.</summary>
internal sealed class RunClock
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    public double OffsetSeconds { get; set; }
    public TimeSpan Elapsed => _watch.Elapsed + TimeSpan.FromSeconds(OffsetSeconds);
}

/// <summary>
/// When a chain counts as diverged (README: Divergences). At a step, a chain diverges when its loss (minibatch −mean
/// log-likelihood), log posterior or gradient norm is not finite, or — with factor f (--divergence-factor, default
/// 1000; 0 turns this part off) — when its loss exceeds its first step's loss ℓ₀ by more than f·max(|ℓ₀|, 1), or its
/// gradient norm exceeds f·max(g₀, 1) with g₀ its first step's. The first step evaluates θ as initialised, so the
/// reference is the same whatever the step size; a healthy chain's loss falls from there, and a loss a thousand times
/// its starting value (2,300 nats per example for 10 classes) is no posterior sample.
/// </summary>
public static class DivergenceRule
{
    public const double DefaultFactor = 1000;

    /// <summary>Why the step diverged, or null when it did not.</summary>
    public static string? Check(bool nonFinite, double loss, double gradNorm, double lossReference, double gradReference, double factor)
    {
        if (nonFinite || !double.IsFinite(loss) || !double.IsFinite(gradNorm)) return "non-finite loss, gradient or parameters";
        if (!(factor > 0) || !double.IsFinite(lossReference) || !double.IsFinite(gradReference)) return null;
        if (loss > lossReference + factor * Math.Max(Math.Abs(lossReference), 1))
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"loss {loss:G3} against {lossReference:G3} at its first step, beyond the divergence factor {factor:G}");
        if (gradNorm > factor * Math.Max(gradReference, 1))
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"gradient norm {gradNorm:G3} against {gradReference:G3} at its first step, beyond the divergence factor {factor:G}");
        return null;
    }
}
