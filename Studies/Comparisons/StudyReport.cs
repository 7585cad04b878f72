using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ScottPlot;
using Workbench.Studies.Figures;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Comparisons;

/// <summary>A cell of the plan that the report leaves out of every number, and why.</summary>
public sealed record LeftOutCell(StudyCell Cell, string Reason);

/// <summary>What <see cref="StudyReport.Build"/> wrote (absolute paths) and what it covered.</summary>
public sealed record StudyReportResult(
    string Report, string SummaryCsv, string SummaryMarkdown, IReadOnlyList<FigureFiles> Figures,
    IReadOnlyList<ArmSummary> Arms, IReadOnlyList<LeftOutCell> LeftOut);

/// <summary>
/// The report of a study folder: figures, <c>summary.csv</c>, <c>summary.md</c> and <c>report.md</c>, built only from the
/// study manifest and the manifests and Parquet tables of its finished cells. A cell that is not finished (failed,
/// interrupted, still running, missing) is named in the report and left out of every number.
/// </summary>
public static class StudyReport
{
    public const string ReportName = "report.md";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The three x axes of the convergence figures: the axis label and where a point lies on it.</summary>
    private static readonly (string Label, Func<ConvergencePoint, double> Pick)[] XAxes =
    [
        ("epoch", p => p.Epoch),
        ("gradient evaluations (per chain)", p => p.GradEvals),
        ("wall time (s)", p => p.WallSeconds),
    ];

    /// <summary>The metrics of the convergence figures: (file name, title, y label, pick).</summary>
    private static readonly (string File, string Title, string YLabel, Func<ConvergencePoint, double> Pick)[] ConvergenceMetrics =
    [
        ("convergence-accuracy", "BMA test accuracy", "test accuracy of the BMA", p => p.Accuracy),
        ("convergence-nll", "BMA test NLL", "test NLL of the BMA", p => p.Nll),
        ("convergence-ece", "BMA test ECE", "test ECE of the BMA (15 bins)", p => p.Ece),
    ];

    public static StudyReportResult Build(string studyFolder, TextWriter log)
    {
        var plan = StudyPlan.Read(studyFolder);
        string folder = Path.GetFullPath(studyFolder);
        var outcomes = new List<RunOutcome>();
        var leftOut = new List<LeftOutCell>();
        foreach (var cell in plan.Cells)
        {
            string run = Path.Combine(folder, cell.Folder);
            var condition = RunFolder.Condition(run);
            if (condition != RunCondition.Finished)
            {
                leftOut.Add(new LeftOutCell(cell, condition switch
                {
                    RunCondition.Interrupted => "interrupted (status running, but its process is gone — no live pid here, no fresh heartbeat from elsewhere — or its tables are incomplete)",
                    RunCondition.Running => "still running",
                    RunCondition.Failed => $"failed: {OneLine(Manifest.Load(run).Error)}",
                    _ => Directory.Exists(run) ? "no run in its folder (no readable manifest.json)" : "missing (no run folder)",
                }));
                continue;
            }
            try
            {
                outcomes.Add(RunOutcome.Read(cell, run, plan.TargetAccuracy));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or KeyNotFoundException or Parquet.ParquetException)
            {
                leftOut.Add(new LeftOutCell(cell, $"finished, but unreadable: {OneLine(e.Message)}"));
            }
        }
        foreach (var l in leftOut) log.WriteLine($"  {l.Cell.Id}: {l.Reason} — left out");
        if (outcomes.Count == 0)
            throw new OptionException($"{studyFolder}: none of its {plan.Cells.Count} cells has finished ({string.Join(", ", leftOut.Select(l => $"{l.Cell.Id}: {l.Reason.Split(':')[0]}"))}); nothing to report");

        var arms = plan.Cells.Select(c => c.Arm).Distinct()
            .Select(arm => new ArmSummary(arm.Model, arm.Variant, arm.Sampler, plan.Cells.Count(c => c.Arm == arm),
                outcomes.Where(o => o.Cell.Arm == arm).ToList()))
            .Where(a => a.Runs.Count > 0).ToList();

        var figures = new List<(FigureFiles Files, string Heading, string Caption)>();
        figures.AddRange(DrawConvergence(folder, arms));
        figures.AddRange(DrawTrainingLoss(folder, arms));
        figures.AddRange(DrawReliability(folder, arms));
        figures.Add(DrawMixing(folder, arms));
        // A config without target_accuracy has no time to target: the table leaves it empty, and there is no figure.
        if (double.IsFinite(plan.TargetAccuracy)) figures.Add(DrawTimeToTarget(folder, arms, plan.TargetAccuracy));

        var table = StudySummaryTable.Build(arms, plan.TargetAccuracy);
        string csv = Path.Combine(folder, StudySummaryTable.CsvName);
        StudySummaryTable.SaveCsv(table, csv);
        string markdown = StudySummaryTable.ToMarkdown(table);
        string summary = Path.Combine(folder, StudySummaryTable.MarkdownName);
        AtomicFile.WriteAllText(summary, $"# Summary: {plan.Name}\n\n{markdown}\n{StudySummaryTable.Legend(plan.TargetAccuracy)}\n");

        string report = Path.Combine(folder, ReportName);
        AtomicFile.WriteAllText(report, ReportText(folder, plan, arms, outcomes, leftOut, markdown, figures));
        log.WriteLine($"{plan.Name}: {outcomes.Count} of {plan.Cells.Count} cells in {arms.Count} arms; wrote {report}");
        return new StudyReportResult(report, csv, summary, figures.Select(f => f.Files).ToList(), arms, leftOut);
    }

    private static string OneLine(string? message) => (message ?? "no error recorded").Split('\n')[0].Trim();

    /// <summary>The variants of the arms: the paper's three in its order, then any other.</summary>
    private static List<string> Variants(IReadOnlyList<ArmSummary> arms) =>
        arms.Select(a => a.Variant).Distinct()
            .OrderBy(v => Architectures.VariantNames.All.Contains(v) ? Architectures.VariantNames.All.ToList().IndexOf(v) : int.MaxValue).ToList();

    /// <summary>One colour per variant in every figure: the paper's three always get the first three palette colours.</summary>
    private static Color VariantColor(IReadOnlyList<string> variants, string variant)
    {
        int known = Architectures.VariantNames.All.ToList().IndexOf(variant);
        int index = known >= 0 ? known : Architectures.VariantNames.All.Count + variants.Where(v => !Architectures.VariantNames.All.Contains(v)).ToList().IndexOf(variant);
        return new ScottPlot.Palettes.Category10().GetColor(index);
    }

    /// <summary>Model and sampler: the rows of the convergence figures and the groups of the bar charts (variants compared inside each).</summary>
    private static List<(string Model, string Sampler)> Groups(IReadOnlyList<ArmSummary> arms) =>
        arms.Select(a => (a.Model, a.Sampler)).Distinct().ToList();

    private static string GroupName((string Model, string Sampler) g) => $"{g.Model} · {g.Sampler}";

    /// <summary>A group as a bar chart's category: two short lines read better under a group of bars than one long one.</summary>
    private static string Category((string Model, string Sampler) g) => $"{g.Model}\n{g.Sampler}";

    private static LineSeries Line(string name, SeedCurve curve, Color color)
    {
        bool band = curve.Sd.Any(double.IsFinite);
        double[] sd = curve.Sd.Select(s => double.IsFinite(s) ? s : 0).ToArray();
        return new LineSeries(name, curve.X, curve.Mean,
            band ? curve.Mean.Select((m, i) => m - sd[i]).ToArray() : null,
            band ? curve.Mean.Select((m, i) => m + sd[i]).ToArray() : null) { Color = color };
    }

    private static IEnumerable<(FigureFiles, string, string)> DrawConvergence(string folder, IReadOnlyList<ArmSummary> arms)
    {
        var variants = Variants(arms);
        foreach (var metric in ConvergenceMetrics)
        {
            var figure = new LineGridFigure($"{metric.Title} during the run — one line per variant, band: ± sd over seeds") { Columns = XAxes.Length };
            foreach (var group in Groups(arms))
                foreach (var axis in XAxes)
                {
                    var panel = new LineFigure(GroupName(group), axis.Label, metric.YLabel);
                    foreach (var arm in arms.Where(a => (a.Model, a.Sampler) == group).OrderBy(a => variants.IndexOf(a.Variant)))
                    {
                        var curve = arm.Convergence(axis.Pick, metric.Pick);
                        if (curve.X.Length > 0) panel.Add(Line(arm.Variant, curve, VariantColor(variants, arm.Variant)));
                    }
                    if (panel.Series.Count > 0) figure.Add(panel);
                }
            if (figure.Panels.Count == 0) continue;
            yield return (figure.Save(Path.Combine(folder, metric.File)), $"Convergence: {metric.Title}",
                $"{metric.Title} of the running Bayesian model average against epochs, gradient evaluations per chain and wall time; " +
                "one row per model and sampler, one line per network variant (mean over seeds of the chain-averaged curve, band ± sd over seeds). " +
                "A fitted run without progress.parquet is one point, its final BMA.");
        }
    }

    private static IEnumerable<(FigureFiles, string, string)> DrawTrainingLoss(string folder, IReadOnlyList<ArmSummary> arms)
    {
        var variants = Variants(arms);
        var groups = Groups(arms);
        var figure = new LineGridFigure("Training loss per epoch — band: ± sd over seeds") { Columns = Math.Min(3, groups.Count), ShareY = false };
        foreach (var group in groups)
        {
            var panel = new LineFigure(GroupName(group), "epoch", "mean minibatch NLL per datum");
            foreach (var arm in arms.Where(a => (a.Model, a.Sampler) == group).OrderBy(a => variants.IndexOf(a.Variant)))
            {
                var curve = arm.LossPerEpoch();
                if (curve.X.Length > 0) panel.Add(Line(arm.Variant, curve, VariantColor(variants, arm.Variant)));
            }
            if (panel.Series.Count > 0) figure.Add(panel);
        }
        if (figure.Panels.Count == 0) yield break;
        yield return (figure.Save(Path.Combine(folder, "training-loss")), "Training loss",
            "The paper's Fig. 4 view: each chain's mean minibatch loss (NLL per datum) over every epoch, warm-up included (a last epoch of fewer than half an epoch's steps is left out), averaged over the chains that did not diverge, then mean ± sd over seeds.");
    }

    private static IEnumerable<(FigureFiles, string, string)> DrawReliability(string folder, IReadOnlyList<ArmSummary> arms)
    {
        var variants = Variants(arms);
        foreach (var group in Groups(arms))
        {
            var figure = new ReliabilityFigure($"Reliability of the final BMA on the test split — {GroupName(group)}, pooled over seeds");
            foreach (var arm in arms.Where(a => (a.Model, a.Sampler) == group).OrderBy(a => variants.IndexOf(a.Variant)))
                if (arm.PooledCalibration() is { } pooled)
                    figure.Add($"{arm.Variant} ({arm.Runs.Count(r => r.Calibration is not null)} seed{(arm.Seeds == 1 ? "" : "s")})", pooled);
            if (figure.Panels.Count == 0) continue;
            yield return (figure.Save(Path.Combine(folder, $"reliability-{Slug(group.Model)}-{Slug(group.Sampler)}")),
                $"Calibration: {GroupName(group)}",
                $"Reliability diagrams of {GroupName(group)}, the network variants side by side: the final BMA of each seed (already pooled over its chains) pooled over seeds by adding bin counts; ECE and MCE are those of the pooled bins.");
        }
    }

    private static (FigureFiles, string, string) DrawMixing(string folder, IReadOnlyList<ArmSummary> arms)
    {
        var variants = Variants(arms);
        var groups = Groups(arms);
        var figure = new BarFigure("Mixing — mean over seeds, error bar: ± sd over seeds", groups.Select(Category).ToList(),
            variants.Select(v => (v, VariantColor(variants, v))).ToList());
        var panels = new (string View, string Title)[]
        {
            ("raw", "median R̂, raw parameters"),
            ("canonical", "median R̂, canonical (weight-matched) parameters"),
            ("function", "median R̂ over test points, function space"),
        };
        foreach (var (view, title) in panels)
        {
            var panel = new BarPanel($"{title} (dashed: 1.01)", "R̂") { Baseline = 1, Reference = Diagnostics.DiagnosticsResult.RhatThreshold };
            foreach (var arm in arms)
            {
                var rhat = arm.MedianRhat(view);
                panel.Set(Category((arm.Model, arm.Sampler)), arm.Variant, rhat.Mean, rhat.Sd);
            }
            figure.Add(panel);
        }
        var ess = new BarPanel("bulk-ESS per 1,000 gradient evaluations (raw, median)", "ESS per 1k gradient evaluations");
        foreach (var arm in arms) ess.Set(Category((arm.Model, arm.Sampler)), arm.Variant, arm.EssPer1kGradEvals.Mean, arm.EssPer1kGradEvals.Sd);
        figure.Add(ess);
        return (figure.Save(Path.Combine(folder, "mixing")), "Mixing",
            "Median R̂ in the three views (raw parameters; canonical: each draw of a standard network (MLP, cnn, ResNet) weight-matched to one reference, so W-Asym and σ-Asym networks have no bar — n/a; function space: the probability of the true class at test points) and bulk-ESS per 1,000 gradient evaluations of the raw parameters; per run the median over variables, then mean ± sd over seeds. The dashed line is the R̂ threshold 1.01. R̂ compares chains: a study with one chain per run has none (n/a), only ESS.");
    }

    private static (FigureFiles, string, string) DrawTimeToTarget(string folder, IReadOnlyList<ArmSummary> arms, double target)
    {
        var variants = Variants(arms);
        var groups = Groups(arms);
        string t = target.ToString(Inv);
        var figure = new BarFigure($"Time to BMA test accuracy ≥ {t} — mean ± sd over the seeds that reached it",
            groups.Select(Category).ToList(), variants.Select(v => (v, VariantColor(variants, v))).ToList()) { Columns = 3, PanelWidth = 480 };
        var panels = new (string Title, Func<ArmSummary, Spread> Pick)[]
        {
            ("epochs", a => a.EpochsToTarget),
            ("gradient evaluations (per chain)", a => a.GradEvalsToTarget),
            ("wall time (s)", a => a.SecondsToTarget),
        };
        foreach (var (title, pick) in panels)
        {
            var panel = new BarPanel(title, title) { MissingLabel = "not reached" };
            foreach (var arm in arms)
            {
                var spread = pick(arm);
                panel.Set(Category((arm.Model, arm.Sampler)), arm.Variant, spread.Mean, spread.Sd,
                    arm.Reached < arm.Seeds ? $"{arm.Reached}/{arm.Seeds} seeds" : null);
            }
            figure.Add(panel);
        }
        return (figure.Save(Path.Combine(folder, "time-to-target")), "Time to target",
            $"How long each arm took until its chain-averaged BMA test accuracy first reached {t} (the study's target_accuracy): in epochs, gradient evaluations per chain and wall seconds. An arm none of whose seeds reached it is marked \"not reached\"; a label k/n says that only k of n seeds reached it (the bar is their mean).");
    }

    private static string Slug(string text)
    {
        var s = new string(text.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
        while (s.Contains("--", StringComparison.Ordinal)) s = s.Replace("--", "-", StringComparison.Ordinal);
        return s.Trim('-');
    }

    /// <summary>For a study with σ-Asym cells: the sd of FiGLU's F in each model and where that choice comes from; else null.</summary>
    internal static string? FiGluParagraph(StudyPlan plan)
    {
        if (!plan.Cells.Any(c => c.Variant == "sigma-asym")) return null;
        if (plan.Config["models"] is not JsonArray models) return null;
        var parts = new List<string>();
        foreach (var m in models.OfType<JsonObject>())
        {
            string model = m["model"]?.GetValue<string>() ?? "?", label = m["label"]?.GetValue<string>() ?? model;
            var given = FiGluStdJson.Read(m["figlu_std"]);
            var scale = given ?? Architectures.ModelCatalog.DefaultFiGluStd(model);
            string d = Architectures.ModelCatalog.IsConvnet(model) ? "d = the channels" : "d = the hidden width";
            parts.Add($"`{label}` sd {scale}{(scale.OverSqrtWidth ? $" ({d})" : "")}{(given is null ? ", the model's default" : ", set by the study")}");
        }
        return $"**σ-Asym's FiGLU scale.** F's entries in σ(x) = sigmoid(F x) ⊙ x: {string.Join("; ", parts)}. The paper's reference code draws sd 1 " +
            "for its MNIST MLP and 1/√d for its ResNets and zoos, and ran no σ-Asym Bayesian MLP, so for a Bayesian MLP the scale is this study's choice. " +
            "With sd 1 on a d-wide LayerNorm output F x has sd ≈ √d and the gate is nearly a binary mask (`figlu_std` in a model of the config sets it).";
    }

    private static string ReportText(string folder, StudyPlan plan, IReadOnlyList<ArmSummary> arms, IReadOnlyList<RunOutcome> outcomes,
        IReadOnlyList<LeftOutCell> leftOut, string summaryTable, IReadOnlyList<(FigureFiles Files, string Heading, string Caption)> figures)
    {
        var s = new StringBuilder();
        s.AppendLine($"# Study report: {plan.Name}");
        s.AppendLine();
        if (plan.Question.Length > 0)
        {
            s.AppendLine($"**Question.** {plan.Question}");
            s.AppendLine();
        }
        s.AppendLine(string.Create(Inv, $"{outcomes.Count} of {plan.Cells.Count} cells finished and are reported, in {arms.Count} arm{(arms.Count == 1 ? "" : "s")} (model × variant × sampler; seeds are the repetitions). Target accuracy: {plan.TargetAccuracy}."));
        s.AppendLine();

        if (FiGluParagraph(plan) is { } figlu)
        {
            s.AppendLine(figlu);
            s.AppendLine();
        }
        s.AppendLine("The full configuration is at the end of this report.");
        s.AppendLine();
        s.AppendLine("## Summary");
        s.AppendLine();
        s.AppendLine(summaryTable);
        s.AppendLine(StudySummaryTable.Legend(plan.TargetAccuracy));
        s.AppendLine($"The same numbers, unrounded: [{StudySummaryTable.CsvName}]({StudySummaryTable.CsvName}).");
        s.AppendLine();

        s.AppendLine("## Figures");
        s.AppendLine();
        s.AppendLine("Curves over seeds are aligned by evaluation index: the k-th evaluation of every seed (each averaged over its chains that did not diverge) is one point, cut to the seed with the fewest evaluations; the cells of an arm share their configuration, so their k-th evaluations fall at the same epoch and gradient count, and wall time is averaged over seeds. Colours are the network variants in every figure.");
        s.AppendLine();
        var fromProgress = outcomes.Where(o => o.CurveSource == ConvergenceSeries.ProgressTable).Select(o => o.Cell.Id).ToList();
        s.AppendLine(fromProgress.Count == 0
            ? "Every convergence curve is the running BMA of eval.parquet (no run has a progress.parquet)."
            : $"Convergence curves from progress.parquet (fitted methods: the BMA of a few draws from the distribution fitted so far, ending at the final BMA): {string.Join(", ", fromProgress)}; every other curve is the running BMA of eval.parquet.");
        s.AppendLine();
        foreach (var (files, heading, caption) in figures)
        {
            string png = Path.GetFileName(files.Png), svg = Path.GetFileName(files.Svg);
            s.AppendLine($"### {heading}");
            s.AppendLine();
            s.AppendLine($"![{heading}]({png})");
            s.AppendLine();
            s.AppendLine($"{caption} ([SVG]({svg}))");
            s.AppendLine();
        }

        s.AppendLine("## Diverged chains");
        s.AppendLine();
        var diverged = outcomes.SelectMany(o => o.Divergences.Select(d => (o.Cell, d))).ToList();
        if (diverged.Count == 0) s.AppendLine("No chain of a finished cell diverged.");
        else
        {
            s.AppendLine("These chains diverged (non-finite loss, gradient or parameters) and were stopped; they are left out of every number of their cell.");
            s.AppendLine();
            s.AppendLine("| cell | chain | iteration |");
            s.AppendLine("|---|---:|---:|");
            foreach (var (cell, d) in diverged) s.AppendLine($"| {cell.Id} | {d.Chain} | {d.Iteration} |");
        }
        s.AppendLine();

        s.AppendLine("## Cells left out");
        s.AppendLine();
        if (leftOut.Count == 0) s.AppendLine("Every cell of the plan finished.");
        else
        {
            s.AppendLine("These cells did not finish (or could not be read) and are left out of every number, table and figure above.");
            s.AppendLine();
            s.AppendLine("| cell | model | variant | sampler | seed | folder | why |");
            s.AppendLine("|---|---|---|---|---:|---|---|");
            foreach (var (cell, reason) in leftOut)
                s.AppendLine($"| {cell.Id} | {cell.Model} | {cell.Variant} | {cell.Sampler} | {cell.Seed} | `{cell.Folder}` | {reason.Replace("|", "\\|", StringComparison.Ordinal)} |");
        }
        s.AppendLine();

        s.AppendLine("## Cost");
        s.AppendLine();
        double seconds = outcomes.Sum(o => double.IsFinite(o.WallSeconds) ? o.WallSeconds : 0);
        double gradEvals = outcomes.Sum(o => o.GradEvals);
        int chains = outcomes.Sum(o => o.Chains.Count + o.Divergences.Count);
        s.AppendLine(string.Create(Inv, $"The {outcomes.Count} finished runs ({chains} chains) took {seconds:F1} s of wall time ({seconds / 3600:F2} h, summed over runs) and {gradEvals:N0} gradient evaluations of a batch (summed over runs and chains). Cells left out are not counted."));
        s.AppendLine();

        s.AppendLine();
        s.AppendLine("## Configuration");
        s.AppendLine();
        string studyJson = Path.Combine(folder, "study.json");
        string config = File.Exists(studyJson) ? File.ReadAllText(studyJson).TrimEnd()
            : plan.Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        s.AppendLine(File.Exists(studyJson) ? "study.json:" : "The config section of the study's manifest.json:");
        s.AppendLine();
        s.AppendLine("<details><summary>study.json</summary>");
        s.AppendLine();
        s.AppendLine("```json");
        s.AppendLine(config);
        s.AppendLine("```");
        s.AppendLine();
        s.AppendLine("</details>");
        return s.ToString();
    }
}
