using System.Globalization;
using ScottPlot;
using SkiaSharp;
using Workbench.Studies.Metrics;

namespace Workbench.Studies.Figures;

/// <summary>
/// Reliability diagrams, one panel per run side by side (e.g. standard vs W-Asym vs σ-Asym): per confidence bin, a bar
/// of the bin's accuracy against the diagonal of perfect calibration, the gap to the bin's mean confidence shaded,
/// ECE and MCE in the upper-left corner, and the bin counts as a small histogram (numbers on the bars) under each panel.
/// </summary>
public sealed class ReliabilityFigure(string title)
{
    private readonly List<(string Name, CalibrationResult Result)> _panels = [];

    public string Title { get; } = title;
    public int PanelWidth { get; init; } = 460;
    public int HeaderHeight { get; init; } = 80;
    public int DiagramHeight { get; init; } = 420;
    public int CountHeight { get; init; } = 170;

    public IReadOnlyList<(string Name, CalibrationResult Result)> Panels => _panels;

    public (int Width, int Height) Size => (Math.Max(1, _panels.Count) * PanelWidth, HeaderHeight + DiagramHeight + CountHeight);

    private static readonly Color AccuracyColor = new ScottPlot.Palettes.Category10().GetColor(0);
    private static readonly Color GapColor = Colors.Red.WithAlpha(0.35);
    private static readonly Color CountColor = Colors.Gray.WithAlpha(0.7);
    // Fixed padding around every data area, so that each count histogram lines up with the diagram above it.
    private static readonly PixelPadding DiagramPadding = new(left: 70, right: 20, bottom: 30, top: 40);
    private static readonly PixelPadding CountPadding = new(left: 70, right: 20, bottom: 55, top: 10);

    /// <summary>Adds the panel <paramref name="name"/> showing <paramref name="result"/>.</summary>
    public ReliabilityFigure Add(string name, CalibrationResult result)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(result);
        if (result.Bins.Count == 0) throw new ArgumentException($"Calibration of '{name}' has no bins.", nameof(result));
        if (_panels.Any(p => p.Name == name)) throw new ArgumentException($"Panel '{name}' was already added.", nameof(name));
        _panels.Add((name, result));
        return this;
    }

    /// <summary>ECE and MCE as written in the figure's corner.</summary>
    public static string Summary(CalibrationResult result) =>
        string.Create(CultureInfo.InvariantCulture, $"ECE {result.Ece:0.0000}\nMCE {result.Mce:0.0000}");

    /// <summary>The ScottPlot multiplot: the header (title and legend), then per panel the diagram and its count histogram.</summary>
    public Multiplot BuildMultiplot()
    {
        if (_panels.Count == 0) throw new InvalidOperationException($"Figure '{Title}' has no panels.");
        var font = FigureFonts.EnsureUsable();

        var header = new Plot();
        header.HideAxesAndGrid();
        header.Title(Title, size: 18);
        LegendItem[] items =
        [
            new() { LabelText = "accuracy", FillColor = AccuracyColor, LabelFontSize = 13, LabelFontName = font },
            new() { LabelText = "gap to mean confidence", FillColor = GapColor, LabelFontSize = 13, LabelFontName = font },
            new() { LabelText = "perfect calibration", LineColor = Colors.Black, LineWidth = 1.5f, LinePattern = LinePattern.Dashed, LabelFontSize = 13, LabelFontName = font },
        ];
        var legend = header.ShowLegend(items, Alignment.LowerCenter);
        legend.Orientation = Orientation.Horizontal;
        legend.FontName = font;
        legend.FontSize = 13;

        var multiplot = new Multiplot(header);
        for (var i = 0; i < _panels.Count; i++)
        {
            var (name, result) = _panels[i];
            multiplot.AddPlot(Diagram(name, result, font, firstColumn: i == 0));
            multiplot.AddPlot(Counts(result, font, firstColumn: i == 0));
        }
        multiplot.Layout = new HeaderAndColumns(HeaderHeight, DiagramHeight);
        return multiplot;
    }

    private static Plot Diagram(string name, CalibrationResult result, string font, bool firstColumn)
    {
        var plot = new Plot();
        var accuracy = new List<Bar>();
        var gaps = new List<Bar>();
        foreach (var bin in result.Bins.Where(b => !b.IsEmpty))
        {
            var centre = (bin.Lower + bin.Upper) / 2;
            var width = (bin.Upper - bin.Lower) * 0.92;
            accuracy.Add(new Bar { Position = centre, Value = bin.Accuracy, Size = width, FillColor = AccuracyColor, LineWidth = 0 });
            gaps.Add(new Bar { Position = centre, ValueBase = bin.Accuracy, Value = bin.Confidence, Size = width, FillColor = GapColor, LineWidth = 0 });
        }
        if (accuracy.Count > 0)
        {
            plot.Add.Bars(accuracy);
            plot.Add.Bars(gaps);
        }
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = Colors.Black;
        diagonal.LineWidth = 1.5f;
        diagonal.LinePattern = LinePattern.Dashed;

        var summary = plot.Add.Text(Summary(result), 0.03, 0.97);
        summary.LabelAlignment = Alignment.UpperLeft;
        summary.LabelFontSize = 14;
        summary.LabelFontName = font;
        summary.LabelBackgroundColor = Colors.White.WithAlpha(0.85);
        summary.LabelBorderColor = Colors.Gray;
        summary.LabelBorderWidth = 1;
        summary.LabelPadding = 5;

        plot.Title(name, size: 16);
        if (firstColumn) plot.YLabel("accuracy", size: 14);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Left.TickLabelStyle.FontSize = 12;
        plot.Font.Set(font);
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.Layout.Fixed(DiagramPadding);
        return plot;
    }

    private static Plot Counts(CalibrationResult result, string font, bool firstColumn)
    {
        var plot = new Plot();
        var bars = result.Bins.Select(b => new Bar
        {
            Position = (b.Lower + b.Upper) / 2, Value = b.Count, Size = (b.Upper - b.Lower) * 0.92, FillColor = CountColor, LineWidth = 0,
        }).ToList();
        plot.Add.Bars(bars);
        var top = Math.Max(1, result.Bins.Max(b => b.Count));
        foreach (var bin in result.Bins)
        {
            var label = plot.Add.Text(CountLabel(bin.Count), (bin.Lower + bin.Upper) / 2, bin.Count + 0.03 * top);
            label.LabelAlignment = Alignment.LowerCenter;
            label.LabelFontSize = 10;
            label.LabelFontName = font;
        }
        plot.XLabel("confidence (max p̄)", size: 14);
        if (firstColumn) plot.YLabel("count", size: 14);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Left.TickLabelStyle.FontSize = 11;
        plot.Font.Set(font);
        plot.Axes.SetLimits(0, 1, 0, top * 1.35);
        plot.Layout.Fixed(CountPadding);
        return plot;
    }

    /// <summary>A bin count in at most four characters (12, 345, 6.8k, 12k, 1.2M), so that labels of narrow bins do not overlap.</summary>
    public static string CountLabel(long count) => count switch
    {
        < 1000 => count.ToString(CultureInfo.InvariantCulture),
        < 10_000 => (count / 1000.0).ToString("0.0", CultureInfo.InvariantCulture) + "k",
        < 1_000_000 => (count / 1000).ToString(CultureInfo.InvariantCulture) + "k",
        _ => (count / 1_000_000.0).ToString("0.0", CultureInfo.InvariantCulture) + "M",
    };

    /// <summary>Saves <c>{basePath}.png</c> and <c>{basePath}.svg</c>.</summary>
    public FigureFiles Save(string basePath)
    {
        var (width, height) = Size;
        return FigureFiles.SaveMultiplot(BuildMultiplot(), basePath, width, height);
    }

    /// <summary>First subplot: a full-width strip on top; then, per column, a diagram of fixed height over its count histogram.</summary>
    private sealed class HeaderAndColumns(int headerHeight, int diagramHeight) : IMultiplotLayout
    {
        public PixelRect[] GetSubplotRectangles(SubplotCollection subplots, PixelRect figureRect)
        {
            var rects = new PixelRect[subplots.Count];
            rects[0] = new PixelRect(figureRect.Left, figureRect.Right, figureRect.Top + headerHeight, figureRect.Top);
            var columns = (subplots.Count - 1) / 2;
            var cellWidth = figureRect.Width / Math.Max(1, columns);
            var diagramTop = figureRect.Top + headerHeight;
            var countTop = diagramTop + diagramHeight;
            for (var c = 0; c < columns; c++)
            {
                var left = figureRect.Left + c * cellWidth;
                rects[1 + 2 * c] = new PixelRect(left, left + cellWidth, countTop, diagramTop);
                rects[2 + 2 * c] = new PixelRect(left, left + cellWidth, figureRect.Bottom, countTop);
            }
            return rects;
        }
    }
}
