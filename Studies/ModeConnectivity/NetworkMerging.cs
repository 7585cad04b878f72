using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ScottPlot;
using Workbench.Architectures;
using Workbench.Studies.Data;
using Workbench.Studies.Figures;
using Workbench.Studies.Storage;
using static TorchSharp.torch;
using static Workbench.Studies.ModeConnectivity.TrainingStudy;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>Settings of a merging study (issue #6 part 2): the shared training settings (preset <c>lmc-mlp</c>), the
/// variants, networks per variant, and whether standard networks are also merged after weight matching.</summary>
public sealed record MergeOptions() : VariantStudyOptions("merge", minimumNetworks: 2)
{
    /// <summary>Also merge the standard networks after weight-matching each to the first.</summary>
    public bool Match { get; init; }
    public override string MaskGroup => "merged set";

    public override void Validate()
    {
        if (Match && !Variants.Contains(Variant.Standard)) throw new ArgumentException("--match aligns standard networks: add --variant standard or all");
        base.Validate();
    }
}

/// <summary>Loss and accuracy of one network (a member's index or "merged") of one variant on one split.</summary>
public sealed record MergeRow(string Variant, bool Matched, string Network, string Split, double Loss, double Accuracy);

public sealed record MergeResult(string Folder, IReadOnlyList<MergeRow> Rows, string ReportPath, double Seconds);

/// <summary>
/// Merging by averaging (issue #6 part 2; PAPER 2.1's claim that W-Asym networks are linearly connected without
/// alignment): train n networks of a variant from different inits and data orders with the same masks M and F, average
/// their θ (standard networks also after weight matching each to the first), and compare the merged network's loss and
/// accuracy with its members'.
/// </summary>
public static class NetworkMerging
{
    public const string Table = "merge";
    public const string Merged = "merged";

    /// <summary>The average of the networks θ [n, P], as θ_0 + mean_k (θ_k − θ_0) so that identical copies give θ_0 exactly.
    /// <paramref name="match"/>: each θ_k (k ≥ 1) is first aligned to θ_0 by weight matching (standard networks;
    /// <paramref name="seed"/> + k orders the layers' visits). Returns [P], outside any dispose scope.</summary>
    public static Tensor Merge(INetwork network, Tensor thetas, bool match, ulong seed)
    {
        if (thetas.dim() != 2 || thetas.shape[0] < 1 || thetas.shape[1] != network.TrainableCount)
            throw new ArgumentException($"θ must be [n ≥ 1, {network.TrainableCount}], got [{string.Join(",", thetas.shape)}]");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var first = thetas[0];
        var members = Enumerable.Range(0, (int)thetas.shape[0]).Select(k => thetas[k]).ToList();
        if (match)
        {
            if (network is not IPermutationSymmetric { Variant: Variant.Standard } symmetric)
                throw new ArgumentException($"weight matching aligns standard networks with permutation symmetries; {network.Name} is {network.Variant.ToName()}");
            members = members.Select((theta, k) => k == 0 ? theta : WeightMatching.Align(symmetric, first, theta, seed + (ulong)k).AlignedB).ToList();
        }
        var offsets = stack(members.Select(m => m - first)).mean([0L]);
        return (first.add(offsets, HeldScalars.One)).MoveToOuterDisposeScope();
    }

    public static MergeResult Execute(MergeOptions o, TextWriter log)
    {
        var config = ConfigNode(o);
        config["match"] = o.Match;
        var (result, seconds) = TrainingStudy.Execute(o, config, (data, folder, manifest) => Run(o, data, folder, manifest, log));
        return result with { Seconds = seconds };
    }

    private static MergeResult Run(MergeOptions o, Dataset data, RunFolder folder, Manifest manifest, TextWriter log)
    {
        var splits = EvaluationSplits(o, data);
        // One group: the networks merged together share their masks (PAPER 1.1).
        IReadOnlyList<IReadOnlyList<int>> merged = [Enumerable.Range(0, o.Networks).ToList()];
        var rows = new List<MergeRow>();
        TrainEach(o, data, ArmsOf(o.Variants), merged, manifest, log, (_, network, trained, _) =>
        {
            var variant = network.Variant;
            foreach (bool matched in variant == Variant.Standard && o.Match ? new[] { false, true } : [false])
            {
                using var scope = NewDisposeScope();
                var merged = Merge(network, trained.Theta, matched, o.Seed);
                // Members once per variant (their numbers do not depend on the merge); the merged network per merge.
                var evaluated = matched ? merged.unsqueeze(0) : cat([trained.Theta, merged.unsqueeze(0)]);
                foreach (var (split, (x, y)) in splits)
                {
                    var (loss, error) = InterpolationPath.EvaluateMany(network, evaluated, x, y);
                    for (int i = 0; i < loss.Length; i++)
                    {
                        bool isMerged = i == loss.Length - 1;
                        rows.Add(new MergeRow(variant.ToName(), matched, isMerged ? Merged : i.ToString(CultureInfo.InvariantCulture), split, loss[i], 1 - error[i]));
                    }
                }
                var test = rows.Where(r => r.Variant == variant.ToName() && r.Split == "test").ToList();
                log.WriteLine($"  {Label(variant.ToName(), matched)}: merged test accuracy {test.Single(r => r.Matched == matched && r.Network == Merged).Accuracy:F4}, " +
                    $"members {test.Where(r => r.Network != Merged).Average(r => r.Accuracy):F4}");
            }
        });

        using (var writer = new ParquetTableWriter(folder.TablePath(Table),
            [TableColumn.String("variant"), TableColumn.Int("matched"), TableColumn.String("network"), TableColumn.String("split"), TableColumn.Double("loss"), TableColumn.Double("accuracy")]))
        {
            foreach (var r in rows) writer.Append(r.Variant, r.Matched ? 1 : 0, r.Network, r.Split, r.Loss, r.Accuracy);
            manifest.SetTable(Table, writer.Complete());
        }
        WriteFigure(folder, o, rows);
        string summary = SummaryMarkdown(rows, o.Networks);
        AtomicFile.WriteAllText(folder.File("summary.md"), summary);
        string report = folder.File("report.md");
        AtomicFile.WriteAllText(report, Report(o, summary, rows));
        return new MergeResult(folder.Path, rows, report, 0);
    }

    private static string Label(string variant, bool matched) => variant switch
    {
        "standard" => matched ? "standard, weight-matched" : "standard",
        "w-asym" => "W-Asym",
        "sigma-asym" => "σ-Asym",
        _ => variant,
    };

    /// <summary>Each merge in the rows: (variant, matched), in order.</summary>
    private static List<(string Variant, bool Matched)> Merges(IReadOnlyList<MergeRow> rows) =>
        rows.Where(r => r.Network == Merged).Select(r => (r.Variant, r.Matched)).Distinct().ToList();

    /// <summary>Members' test (mean ± sd) and the merged network's test value of <paramref name="value"/>.</summary>
    private static ((double Mean, double Sd) Members, double Merged) Test(IReadOnlyList<MergeRow> rows, (string Variant, bool Matched) merge, Func<MergeRow, double> value)
    {
        var test = rows.Where(r => r.Variant == merge.Variant && r.Split == "test").ToList();
        return (MeanSd(test.Where(r => r.Network != Merged).Select(value).ToList()), value(test.Single(r => r.Network == Merged && r.Matched == merge.Matched)));
    }

    private static void WriteFigure(RunFolder folder, MergeOptions o, IReadOnlyList<MergeRow> rows)
    {
        var merges = Merges(rows);
        const string members = "members (mean ± sd)";
        var bars = new BarFigure($"Merging {o.Networks} networks by averaging θ: test split", merges.Select(m => Label(m.Variant, m.Matched)).ToList(),
            [(members, Colors.SteelBlue), (Merged, Colors.IndianRed)]);
        foreach (var (metric, value) in new (string, Func<MergeRow, double>)[] { ("accuracy", r => r.Accuracy), ("loss", r => r.Loss) })
        {
            var panel = new BarPanel($"test {metric}", metric == "loss" ? "loss (mean NLL)" : "accuracy");
            foreach (var merge in merges)
            {
                var (m, merged) = Test(rows, merge, value);
                panel.Set(Label(merge.Variant, merge.Matched), members, m.Mean, m.Sd);
                panel.Set(Label(merge.Variant, merge.Matched), Merged, merged);
            }
            bars.Add(panel);
        }
        bars.Save(folder.File("merge"));
    }

    public static string SummaryMarkdown(IReadOnlyList<MergeRow> rows, int networks)
    {
        var s = new StringBuilder();
        s.AppendLine("| merge | members' test accuracy | merged test accuracy | members' test loss | merged test loss |");
        s.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var merge in Merges(rows))
        {
            var accuracy = Test(rows, merge, r => r.Accuracy);
            var loss = Test(rows, merge, r => r.Loss);
            s.AppendLine($"| {Label(merge.Variant, merge.Matched)} | {Cell(accuracy.Members)} | {Cell((accuracy.Merged, double.NaN))} | {Cell(loss.Members)} | {Cell((loss.Merged, double.NaN))} |");
        }
        s.AppendLine();
        s.AppendLine($"Members: mean ± sd over the {networks} networks that were averaged. Loss is the mean NLL, accuracy the share classified correctly.");
        return s.ToString();
    }

    private static string Report(MergeOptions o, string summary, IReadOnlyList<MergeRow> rows)
    {
        var s = new StringBuilder();
        s.AppendLine("# Merging networks by averaging");
        s.AppendLine();
        s.AppendLine("## Protocol");
        s.AppendLine();
        s.AppendLine(string.Concat(
            FormattableString.Invariant($"Model `{o.Model.Model}`, data `{o.Data}`. For each variant ({string.Join(", ", o.Variants.Select(v => Label(v.ToName(), false)))}) {o.Networks} networks were trained "),
            FormattableString.Invariant($"(different init and data-order seeds from run seed {o.Seed}; the same masks and fixed matrices, "),
            o.SharedMasks ? FormattableString.Invariant($"from mask seed {o.Model.MaskSeed} (--shared-masks)) ")
                : FormattableString.Invariant($"drawn from mask seed {o.Model.MaskSeed} and index 0 by SplitMix64, as lmc's pair 0 and mli's network 0 draw theirs; the seed is in the manifest) "),
            TrainingSentence(o),
            FiGluSentence(o, o.Variants),
            "The merged network's θ is the average of the members' θ",
            o.Match ? "; for standard networks also after weight matching each member to the first (Git Re-Basin). " : ". ",
            $"Loss and accuracy on {EvaluatedOn(o)} each split."));
        s.AppendLine();
        s.AppendLine("## Results (test)");
        s.AppendLine();
        s.Append(summary);
        s.AppendLine();
        s.AppendLine("## Against the paper");
        s.AppendLine();
        s.AppendLine("Expected (PAPER 2.1: W-Asym networks are linearly connected without alignment): averaged W-Asym networks keep their members' " +
            "accuracy without any alignment; averaged standard networks lose it unless they are weight-matched first.");
        s.AppendLine();
        foreach (var merge in Merges(rows))
        {
            var (members, merged) = Test(rows, merge, r => r.Accuracy);
            s.AppendLine(FormattableString.Invariant($"- {Label(merge.Variant, merge.Matched)}: merged test accuracy {merged:F4} vs members' mean {members.Mean:F4} (change {merged - members.Mean:+0.0000;−0.0000;0.0000})."));
        }
        s.AppendLine();
        s.AppendLine("## Figures");
        s.AppendLine();
        s.AppendLine("![merge](merge.png)");
        s.AppendLine();
        s.AppendLine("Table: `merge.parquet` (variant, matched: 1 after weight matching, else 0, network: a member's index or 'merged', split, loss, accuracy). Seeds and mask hashes: `manifest.json`.");
        return s.ToString();
    }
}
