using System.Globalization;
using System.Text;
using TorchSharp;
using Workbench.Architectures;
using Workbench.Studies.Figures;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using static TorchSharp.torch;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>`workbench barriers RUN_DIR`: what to compute and where to write it.</summary>
public sealed record BarrierOptions(string RunFolder)
{
    /// <summary>--points: λ on the straight path, both ends included; odd, so λ = ½ is on it (METHODS: 25).</summary>
    public int Points { get; init; } = 25;
    /// <summary>--split: test or train, the examples the loss and error are measured on.</summary>
    public string Split { get; init; } = "test";
    /// <summary>--max-draws: the most saved draws compared (all pairs of them), evenly spaced within each chain.</summary>
    public int MaxDraws { get; init; } = 24;
    /// <summary>--out: where the table, figure and summary go (default: the run folder).</summary>
    public string? Out { get; init; }

    public void Validate()
    {
        if (Points < 3 || Points % 2 == 0) throw new OptionException($"--points must be odd and at least 3 (λ = ½ must be on the grid), got {Points}");
        if (Split is not ("test" or "train")) throw new OptionException($"--split must be test or train, got '{Split}'");
        if (MaxDraws < 2) throw new OptionException($"--max-draws must be at least 2 (a barrier needs a pair), got {MaxDraws}");
    }
}

/// <summary>One row of positions.parquet: a draw whose full θ was saved (<see cref="PositionFile"/>); cycle −1 when
/// the sampler is not cyclical.</summary>
public sealed record SavedDraw(int Chain, int Draw, long Iteration, int Cycle, string File)
{
    public string Label => Cycle >= 0 ? $"chain {Chain} draw {Draw} (cycle {Cycle})" : $"chain {Chain} draw {Draw}";
}

/// <summary>Barriers of the straight path between two draws: midpoint and Entezari, of the mean NLL and of the error
/// rate, and their distance ‖θ_A − θ_B‖₂ / √P (root mean square difference per parameter).</summary>
public readonly record struct PairBarrier(double LossMidpoint, double LossEntezari, double ErrorMidpoint, double ErrorEntezari, double Distance);

public sealed record DrawPairBarrier(SavedDraw A, SavedDraw B, string Relation, PairBarrier Barrier);

/// <summary>Mean and median barriers of the pairs of one relation.</summary>
public sealed record RelationSummary(string Relation, int Pairs, double MeanLossMidpoint, double MedianLossMidpoint,
    double MeanLossEntezari, double MedianLossEntezari, double MeanErrorEntezari, double MedianErrorEntezari, double MeanDistance);

public sealed record BarrierResult(string Folder, IReadOnlyList<SavedDraw> Draws, IReadOnlyList<DrawPairBarrier> Pairs, IReadOnlyList<RelationSummary> Summary);

/// <summary>
/// Loss barriers between posterior samples (issue #6): for a finished run with saved positions (--save-positions), the
/// barrier of the straight path (METHODS: Mode connectivity; <see cref="LossBarrier"/>) between every pair of saved
/// draws, grouped by how the draws are related — the same chain, different chains, and for cyclical samplers the same
/// cycle or different cycles of one chain. Without alignment: a chain that hops between permuted copies of a mode
/// shows barriers inside the chain; W-Asym networks, which have no such copies, should show barriers near zero.
/// </summary>
public static class PosteriorBarriers
{
    public const string WithinChain = "within-chain";
    public const string BetweenChain = "between-chain";
    public const string WithinCycle = "within-cycle";
    public const string BetweenCycle = "between-cycle";
    public const string TableFileName = "barriers.parquet";
    public const string SummaryFileName = "barriers.md";
    public const string FigureName = "barrier-matrix";

    /// <summary>How two saved draws are related: different chains; or, in one chain, the same or different cycles of a
    /// cyclical sampler (cycle ≥ 0), or simply the same chain.</summary>
    public static string Relation(SavedDraw a, SavedDraw b) =>
        a.Chain != b.Chain ? BetweenChain
        : a.Cycle < 0 || b.Cycle < 0 ? WithinChain
        : a.Cycle == b.Cycle ? WithinCycle : BetweenCycle;

    /// <summary>The barriers of the straight path from <paramref name="a"/> to <paramref name="b"/> ([P] each) on
    /// <paramref name="lambdas"/> (a grid with λ = ½), measured on inputs <paramref name="x"/> and labels <paramref name="y"/>.</summary>
    public static PairBarrier Between(INetwork network, Tensor a, Tensor b, IReadOnlyList<double> lambdas, Tensor x, Tensor y)
    {
        var path = InterpolationPath.Evaluate(network, a, b, lambdas, x, y);
        var loss = path.Select(p => p.Loss).ToArray();
        var error = path.Select(p => p.Error).ToArray();
        double distance;
        using (var scope = NewDisposeScope())
            distance = (a - b).to_type(ScalarType.Float64).norm().item<double>() / Math.Sqrt(a.shape[0]);
        return new PairBarrier(LossBarrier.Midpoint(lambdas, loss), LossBarrier.Entezari(lambdas, loss),
            LossBarrier.Midpoint(lambdas, error), LossBarrier.Entezari(lambdas, error), distance);
    }

    /// <summary>positions.parquet of a run folder, ordered by chain, then draw.</summary>
    public static IReadOnlyList<SavedDraw> ReadIndex(string runFolder)
    {
        var table = ParquetTable.Read(Path.Combine(runFolder, ChainLoop.PositionsTable));
        var chain = table.Column<int>("chain");
        var draw = table.Column<int>("draw");
        var iteration = table.Column<long>("iteration");
        var cycle = table.Column<int>("cycle");
        var file = table.Column<string>("file");
        return Enumerable.Range(0, table.RowCount).Select(i => new SavedDraw(chain[i], draw[i], iteration[i], cycle[i], file[i]))
            .OrderBy(d => d.Chain).ThenBy(d => d.Draw).ToList();
    }

    /// <summary>At most <paramref name="max"/> of <paramref name="draws"/>: the budget shared out over the chains as evenly
    /// as their draws allow, each chain's share evenly spaced over its draws from the first to the last.</summary>
    public static IReadOnlyList<SavedDraw> Select(IReadOnlyList<SavedDraw> draws, int max)
    {
        if (draws.Count <= max) return draws;
        var chains = draws.GroupBy(d => d.Chain).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        var share = new int[chains.Count];
        // Hand out one draw at a time, round robin, to chains that still have draws left.
        for (int given = 0, c = 0; given < max; c = (c + 1) % chains.Count)
            if (share[c] < chains[c].Count) { share[c]++; given++; }
        var picked = new List<SavedDraw>();
        for (int c = 0; c < chains.Count; c++)
        {
            var list = chains[c];
            int m = share[c];
            if (m == 0) continue;
            if (m == 1) { picked.Add(list[0]); continue; }
            for (int i = 0; i < m; i++) picked.Add(list[(int)Math.Round((double)i * (list.Count - 1) / (m - 1))]);
        }
        return picked;
    }

    /// <summary>The symmetric draws × draws matrix of one barrier (0 on the diagonal: a draw with itself).</summary>
    public static double[,] Matrix(IReadOnlyList<SavedDraw> draws, IReadOnlyList<DrawPairBarrier> pairs, Func<PairBarrier, double> value)
    {
        var index = draws.Select((d, i) => (d, i)).ToDictionary(t => (t.d.Chain, t.d.Draw), t => t.i);
        var matrix = new double[draws.Count, draws.Count];
        foreach (var p in pairs)
        {
            int i = index[(p.A.Chain, p.A.Draw)], j = index[(p.B.Chain, p.B.Draw)];
            matrix[i, j] = matrix[j, i] = value(p.Barrier);
        }
        return matrix;
    }

    public static IReadOnlyList<RelationSummary> Summarize(IReadOnlyList<DrawPairBarrier> pairs) =>
        new[] { WithinChain, WithinCycle, BetweenCycle, BetweenChain }
            .Select(r => (r, pairs.Where(p => p.Relation == r).Select(p => p.Barrier).ToList()))
            .Where(t => t.Item2.Count > 0)
            .Select(t => new RelationSummary(t.r, t.Item2.Count,
                t.Item2.Average(b => b.LossMidpoint), Median(t.Item2.Select(b => b.LossMidpoint)),
                t.Item2.Average(b => b.LossEntezari), Median(t.Item2.Select(b => b.LossEntezari)),
                t.Item2.Average(b => b.ErrorEntezari), Median(t.Item2.Select(b => b.ErrorEntezari)),
                t.Item2.Average(b => b.Distance)))
            .ToList();

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /// <summary>Checks the run folder (a finished classification run with saved positions), computes the barriers of
    /// all pairs of the selected draws and writes barriers.parquet, barrier-matrix.png/svg and barriers.md.</summary>
    public static BarrierResult Execute(BarrierOptions o, TextWriter log)
    {
        o.Validate();
        string folder = o.RunFolder;
        switch (RunFolder.Condition(folder))
        {
            case RunCondition.NotARun:
                throw new RunFolderException($"'{folder}' is not a run folder (no readable Workbench manifest)");
            case RunCondition.Running or RunCondition.Interrupted:
                throw new RunFolderException($"'{folder}' is an unfinished run: barriers need its saved draws; finish it first ('workbench resume {folder}')");
            case RunCondition.Failed:
                throw new RunFolderException($"'{folder}' is a failed run: its saved draws are incomplete; rerun it");
        }
        var manifest = Manifest.Load(folder);
        if (manifest.Get("config") is null) throw new RunFolderException($"'{folder}' is not a sampling run (its manifest has no config); give a run folder of 'workbench sample'");
        if (!File.Exists(Path.Combine(folder, ChainLoop.PositionsTable)))
            throw new RunFolderException($"'{folder}' has no saved positions (positions.parquet): rerun it with 'workbench sample … --save-positions N' (e.g. 2)");
        var all = ReadIndex(folder);
        if (all.Count < 2) throw new RunFolderException($"'{folder}' saved {all.Count} draw(s); barriers need at least 2 (lower --save-positions or --thin)");
        var draws = Select(all, o.MaxDraws);

        var device = SamplingRun.ResolveDevice("auto");
        var (options, data, network) = SamplingRun.Rebuild(folder, device);
        using var _data = data;
        using var _network = network;
        if (options.IsRegression) throw new OptionException($"'{folder}' is a regression run (linreg); barriers measure classification loss and error");
        var lambdas = LossBarrier.Grid(o.Points);
        var (x, y) = o.Split == "test" ? (data.TestX, data.TestY) : (data.TrainX, data.TrainY);
        var dtype = options.Dtype == "float64" ? ScalarType.Float64 : ScalarType.Float32;
        var thetas = draws.Select(d =>
        {
            using var saved = PositionFile.Read(Path.Combine(folder, d.File));
            return saved.to(dtype, device).DetachFromDisposeScope();
        }).ToArray();
        try
        {
            var pairs = new List<DrawPairBarrier>();
            int total = draws.Count * (draws.Count - 1) / 2;
            var progress = new ProgressTicker(log, "barriers", total, "pairs");
            log.WriteLine($"barriers of {folder}: {draws.Count} of {all.Count} saved draws, {total} pairs, {o.Points} points on the {o.Split} split ({x.shape[0]} examples)");
            for (int i = 0; i < draws.Count; i++)
                for (int j = i + 1; j < draws.Count; j++)
                {
                    var barrier = Between(network, thetas[i], thetas[j], lambdas, x, y);
                    pairs.Add(new DrawPairBarrier(draws[i], draws[j], Relation(draws[i], draws[j]), barrier));
                    progress.Advance();
                }
            var summary = Summarize(pairs);
            string outFolder = o.Out ?? folder;
            Directory.CreateDirectory(outFolder);
            WriteTable(Path.Combine(outFolder, TableFileName), pairs);
            var study = manifest.Study ?? "sample";
            new BarrierMatrixFigure($"Loss barrier (Entezari, {o.Split}) between saved draws — {study}, {options.Model.Model} {options.Model.Variant.ToName()}, {options.Sampler}",
                    "loss barrier (mean NLL)", Matrix(draws, pairs, b => b.LossEntezari), draws.Select(d => d.Chain).ToList())
                .Save(Path.Combine(outFolder, FigureName));
            var text = SummaryMarkdown(folder, o, options, draws.Count, all.Count, summary);
            AtomicFile.WriteAllText(Path.Combine(outFolder, SummaryFileName), text);
            log.Write(text);
            log.WriteLine($"wrote {Path.Combine(outFolder, TableFileName)}, {Path.Combine(outFolder, FigureName)}.png/.svg and {Path.Combine(outFolder, SummaryFileName)}");
            return new BarrierResult(outFolder, draws, pairs, summary);
        }
        finally
        {
            foreach (var t in thetas) t.Dispose();
        }
    }

    private static void WriteTable(string path, IReadOnlyList<DrawPairBarrier> pairs)
    {
        if (File.Exists(path)) File.Delete(path);
        using var writer = new ParquetTableWriter(path,
            [TableColumn.Int("chain_a"), TableColumn.Int("draw_a"), TableColumn.Long("iteration_a"), TableColumn.Int("cycle_a"),
             TableColumn.Int("chain_b"), TableColumn.Int("draw_b"), TableColumn.Long("iteration_b"), TableColumn.Int("cycle_b"),
             TableColumn.String("relation"), TableColumn.Double("loss_midpoint"), TableColumn.Double("loss_entezari"),
             TableColumn.Double("error_midpoint"), TableColumn.Double("error_entezari"), TableColumn.Double("distance")]);
        foreach (var p in pairs)
            writer.Append(p.A.Chain, p.A.Draw, p.A.Iteration, p.A.Cycle, p.B.Chain, p.B.Draw, p.B.Iteration, p.B.Cycle, p.Relation,
                p.Barrier.LossMidpoint, p.Barrier.LossEntezari, p.Barrier.ErrorMidpoint, p.Barrier.ErrorEntezari, p.Barrier.Distance);
        writer.Complete();
    }

    private static string SummaryMarkdown(string folder, BarrierOptions o, SampleOptions run, int used, int saved, IReadOnlyList<RelationSummary> summary)
    {
        var s = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        s.AppendLine(c, $"# Barriers between posterior samples: {Path.GetFileName(Path.GetFullPath(folder))}");
        s.AppendLine();
        s.AppendLine(c, $"{run.Model.Model} {run.Model.Variant.ToName()}, {run.Sampler}, {run.Chains} chain(s); {used} of {saved} saved draws; straight path on {o.Points} points, {o.Split} split, no alignment.");
        s.AppendLine("Loss: mean NLL; error: error rate; distance: ‖θ_A − θ_B‖₂ / √P.");
        s.AppendLine();
        s.AppendLine("| relation | pairs | loss midpoint mean | loss midpoint median | loss Entezari mean | loss Entezari median | error Entezari mean | error Entezari median | distance mean |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in summary)
            s.AppendLine(c, $"| {r.Relation} | {r.Pairs} | {r.MeanLossMidpoint:0.0000} | {r.MedianLossMidpoint:0.0000} | {r.MeanLossEntezari:0.0000} | {r.MedianLossEntezari:0.0000} | {r.MeanErrorEntezari:0.0000} | {r.MedianErrorEntezari:0.0000} | {r.MeanDistance:0.0000} |");
        return s.ToString();
    }
}
