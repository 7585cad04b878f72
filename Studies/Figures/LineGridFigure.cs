using ScottPlot;

namespace Workbench.Studies.Figures;

/// <summary>
/// Several <see cref="LineFigure"/> panels in a grid under one title and one legend, e.g. the running BMA test accuracy
/// of every network variant against epochs, gradient evaluations and wall time (columns), one row per model and sampler.
/// A series name keeps its colour in every panel; with <see cref="ShareY"/> the panels of a row share one y range (the
/// same quantity against several x axes reads the same on each).
/// </summary>
public sealed class LineGridFigure(string title)
{
    private readonly List<LineFigure> _panels = [];

    public string Title { get; } = title;
    public int Columns { get; init; } = 3;
    public int PanelWidth { get; init; } = 480;
    public int PanelHeight { get; init; } = 340;
    public int HeaderHeight { get; init; } = 90;
    public bool ShareY { get; init; } = true;

    public IReadOnlyList<LineFigure> Panels => _panels;

    public LineGridFigure Add(LineFigure panel)
    {
        ArgumentNullException.ThrowIfNull(panel);
        if (panel.Series.Count == 0) throw new ArgumentException($"Panel '{panel.Title}' has no series.", nameof(panel));
        _panels.Add(panel);
        return this;
    }

    public (int Width, int Height) Size
    {
        get
        {
            var (columns, rows) = Grid();
            return (columns * PanelWidth, HeaderHeight + rows * PanelHeight);
        }
    }

    /// <summary>Every series name in the order it first appears, with the colour it has in every panel.</summary>
    public IReadOnlyList<(string Name, Color Color)> Legend()
    {
        var palette = new ScottPlot.Palettes.Category10();
        var legend = new List<(string Name, Color Color)>();
        foreach (var s in _panels.SelectMany(p => p.Series))
            if (!legend.Any(l => l.Name == s.Name)) legend.Add((s.Name, s.Color ?? palette.GetColor(legend.Count)));
        return legend;
    }

    /// <summary>The ScottPlot multiplot: the header (title and legend) first, then one plot per panel.</summary>
    public Multiplot BuildMultiplot()
    {
        if (_panels.Count == 0) throw new InvalidOperationException($"Figure '{Title}' has no panels.");
        var font = FigureFonts.EnsureUsable();
        var legend = Legend();

        var header = new Plot();
        header.HideAxesAndGrid();
        header.Title(Title, size: 18);
        var items = legend.Select(l => new LegendItem
        {
            LabelText = l.Name, LineColor = l.Color, LineWidth = 3f, LabelFontSize = 14, LabelFontName = font,
        }).ToList();
        var box = header.ShowLegend(items, Alignment.LowerCenter);
        box.Orientation = Orientation.Horizontal;
        box.FontName = font;
        box.FontSize = 14;

        var (columns, rows) = Grid();
        var multiplot = new Multiplot(header);
        for (var i = 0; i < _panels.Count; i++)
        {
            var panel = _panels[i];
            var (yMin, yMax) = ShareY ? SharedRange(_panels.Skip(i / columns * columns).Take(columns)) : (null, null);
            var copy = new LineFigure(panel.Title, panel.XLabel, panel.YLabel)
            {
                ShowLegend = false, TitleSize = 15, LabelSize = 13, YMin = panel.YMin ?? yMin, YMax = panel.YMax ?? yMax,
            };
            foreach (var s in panel.Series) copy.Add(s with { Color = legend.First(l => l.Name == s.Name).Color });
            multiplot.AddPlot(copy.BuildPlot());
        }
        multiplot.Layout = new HeaderAndGridLayout(HeaderHeight, rows, columns);
        return multiplot;
    }

    /// <summary>Saves <c>{basePath}.png</c> and <c>{basePath}.svg</c>.</summary>
    public FigureFiles Save(string basePath)
    {
        var (width, height) = Size;
        return FigureFiles.SaveMultiplot(BuildMultiplot(), basePath, width, height);
    }

    /// <summary>The y range of every line and band of <paramref name="panels"/>, with 6 % room above and below.</summary>
    private static (double? Min, double? Max) SharedRange(IEnumerable<LineFigure> panels)
    {
        var values = panels.SelectMany(p => p.Series)
            .SelectMany(s => s.Y.Concat(s.Lower ?? []).Concat(s.Upper ?? []))
            .Where(double.IsFinite).ToArray();
        if (values.Length == 0) return (null, null);
        double lo = values.Min(), hi = values.Max();
        double pad = hi > lo ? 0.06 * (hi - lo) : Math.Max(1e-3, 0.05 * Math.Abs(hi));
        return (lo - pad, hi + pad);
    }

    private (int Columns, int Rows) Grid()
    {
        var count = Math.Max(1, _panels.Count);
        var columns = Math.Clamp(Columns, 1, count);
        return (columns, (count + columns - 1) / columns);
    }
}
