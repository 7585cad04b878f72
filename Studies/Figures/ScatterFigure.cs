using ScottPlot;

namespace Workbench.Studies.Figures;

/// <summary>One named group of points of a <see cref="ScatterFigure"/> (e.g. one run's test networks).</summary>
public sealed record ScatterSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    public Color? Color { get; init; }
}

/// <summary>
/// Points of one or more groups against each other, e.g. predicted against true test accuracy, with the identity line
/// y = x dashed (on it a prediction is exact) and an optional text box in the upper left (e.g. the scores). Both axes
/// share one range, so the identity line is the diagonal and distances read the same on both axes.
/// </summary>
public sealed class ScatterFigure(string title, string xLabel, string yLabel)
{
    private readonly List<ScatterSeries> _series = [];

    public string Title { get; } = title;
    public string XLabel { get; } = xLabel;
    public string YLabel { get; } = yLabel;
    public int Width { get; init; } = 760;
    public int Height { get; init; } = 640;
    public bool IdentityLine { get; init; } = true;
    /// <summary>Text drawn in a box in the upper left of the data area; null for none.</summary>
    public string? Note { get; init; }

    public IReadOnlyList<ScatterSeries> Series => _series;

    public ScatterFigure Add(ScatterSeries series)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.X.Count != series.Y.Count)
            throw new ArgumentException($"Series '{series.Name}' has {series.X.Count} x values and {series.Y.Count} y values.", nameof(series));
        _series.Add(series);
        return this;
    }

    public Plot BuildPlot()
    {
        var points = _series.SelectMany(s => s.X.Concat(s.Y)).Where(double.IsFinite).ToList();
        if (points.Count == 0) throw new InvalidOperationException($"Figure '{Title}' has no finite points.");
        var font = FigureFonts.EnsureUsable();
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double low = points.Min(), high = points.Max();
        double pad = Math.Max(0.04 * (high - low), 1e-3);
        low -= pad;
        high += pad;
        if (IdentityLine)
        {
            var identity = plot.Add.Line(low, low, high, high);
            identity.LineColor = Colors.Gray;
            identity.LineWidth = 1.5f;
            // Solid: a dashed line here made SkiaSharp's SVG canvas print "Unsupported path effect in addPaint." to
            // stdout for every dash. The line is labelled in the legend.
            identity.LegendText = "y = x";
        }
        for (int i = 0; i < _series.Count; i++)
        {
            var s = _series[i];
            if (s.X.Count == 0) continue;
            var markers = plot.Add.ScatterPoints(s.X.ToArray(), s.Y.ToArray(), (s.Color ?? palette.GetColor(i)).WithAlpha(0.75));
            markers.MarkerSize = 7;
            markers.LegendText = s.Name;
        }
        if (Note is not null)
        {
            var note = plot.Add.Text(Note, low + 0.02 * (high - low), high - 0.02 * (high - low));
            note.LabelAlignment = Alignment.UpperLeft;
            note.LabelFontSize = 13;
            note.LabelFontName = font;
            note.LabelBackgroundColor = Colors.White.WithAlpha(0.85);
            note.LabelBorderColor = Colors.Gray;
            note.LabelBorderWidth = 1;
            note.LabelPadding = 5;
        }
        plot.Title(Title, size: 16);
        plot.XLabel(XLabel, size: 14);
        plot.YLabel(YLabel, size: 14);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Left.TickLabelStyle.FontSize = 12;
        plot.Font.Set(font);
        var legend = plot.ShowLegend(Edge.Right);
        legend.Legend.FontSize = 12;
        legend.Legend.FontName = font;
        plot.Axes.SetLimits(low, high, low, high);
        return plot;
    }

    /// <summary>Saves <c>{basePath}.png</c> and <c>{basePath}.svg</c>.</summary>
    public FigureFiles Save(string basePath)
    {
        var files = FigureFiles.For(basePath);
        var plot = BuildPlot();
        FigureFiles.Save(plot, files, Width, Height);
        return files;
    }
}
