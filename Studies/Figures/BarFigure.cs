using ScottPlot;

namespace Workbench.Studies.Figures;

/// <summary>
/// One panel of a <see cref="BarFigure"/>: per category (x) one bar per series, each with an optional error bar and a
/// short label above it. A bar that was never set, or set to NaN, is drawn as nothing but <see cref="MissingLabel"/>
/// (e.g. "n/a", "not reached") — never as a bar of height zero, which would read as a value.
/// </summary>
public sealed class BarPanel(string title, string yLabel)
{
    private readonly Dictionary<(string Category, string Series), (double Value, double Error, string? Label)> _bars = [];

    public string Title { get; } = title;
    public string YLabel { get; } = yLabel;
    /// <summary>Where bars start (e.g. 1 for R̂, whose smallest value is 1).</summary>
    public double Baseline { get; init; }
    public string MissingLabel { get; init; } = "n/a";
    /// <summary>A dashed horizontal line, e.g. the R̂ threshold 1.01 (say so in the title: a label beside it would cover bars).</summary>
    public double? Reference { get; init; }

    /// <summary>The bar of <paramref name="series"/> in <paramref name="category"/>; NaN <paramref name="value"/> marks it missing.</summary>
    public BarPanel Set(string category, string series, double value, double error = double.NaN, string? label = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(category);
        ArgumentException.ThrowIfNullOrWhiteSpace(series);
        _bars[(category, series)] = (value, error, label);
        return this;
    }

    /// <summary>The bar's value, error and label; null when it is missing.</summary>
    public (double Value, double Error, string? Label)? Get(string category, string series) =>
        _bars.TryGetValue((category, series), out var bar) && double.IsFinite(bar.Value) ? bar : null;
}

/// <summary>
/// Grouped bar charts in panels under one title and one legend: categories along x (e.g. model · sampler), one coloured
/// bar per series (e.g. network variant) in each, error bars (e.g. ± sd over seeds). Every panel has the same
/// categories and series, so a series keeps its colour and its place in each group across panels.
/// </summary>
public sealed class BarFigure(string title, IReadOnlyList<string> categories, IReadOnlyList<(string Name, Color Color)> series)
{
    private readonly List<BarPanel> _panels = [];

    public string Title { get; } = title;
    public IReadOnlyList<string> Categories { get; } = categories.Count > 0 ? categories : throw new ArgumentException("A bar figure needs at least one category.", nameof(categories));
    public IReadOnlyList<(string Name, Color Color)> Series { get; } = series.Count > 0 ? series : throw new ArgumentException("A bar figure needs at least one series.", nameof(series));
    public int Columns { get; init; } = 2;
    public int PanelWidth { get; init; } = 560;
    public int PanelHeight { get; init; } = 380;
    public int HeaderHeight { get; init; } = 90;

    public IReadOnlyList<BarPanel> Panels => _panels;

    public BarFigure Add(BarPanel panel)
    {
        ArgumentNullException.ThrowIfNull(panel);
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

    /// <summary>x position of series <paramref name="s"/> in category <paramref name="c"/>, and the width of one bar.</summary>
    private (double Position, double Width) Slot(int c, int s)
    {
        double slot = 0.8 / Series.Count;
        return (c + (s - (Series.Count - 1) / 2.0) * slot, slot * 0.9);
    }

    public Multiplot BuildMultiplot()
    {
        if (_panels.Count == 0) throw new InvalidOperationException($"Figure '{Title}' has no panels.");
        var font = FigureFonts.EnsureUsable();

        var header = new Plot();
        header.HideAxesAndGrid();
        header.Title(Title, size: 18);
        var items = Series.Select(s => new LegendItem { LabelText = s.Name, FillColor = s.Color, LabelFontSize = 14, LabelFontName = font }).ToList();
        var legend = header.ShowLegend(items, Alignment.LowerCenter);
        legend.Orientation = Orientation.Horizontal;
        legend.FontName = font;
        legend.FontSize = 14;

        var (columns, rows) = Grid();
        var multiplot = new Multiplot(header);
        foreach (var panel in _panels) multiplot.AddPlot(Panel(panel, font));
        multiplot.Layout = new HeaderAndGridLayout(HeaderHeight, rows, columns);
        return multiplot;
    }

    private Plot Panel(BarPanel panel, string font)
    {
        var plot = new Plot();
        var bars = new List<Bar>();
        var errors = new List<(double X, double Y, double Error)>();
        double top = panel.Reference ?? panel.Baseline, bottom = panel.Baseline;
        for (int c = 0; c < Categories.Count; c++)
            for (int s = 0; s < Series.Count; s++)
                if (panel.Get(Categories[c], Series[s].Name) is { } bar)
                {
                    var (position, width) = Slot(c, s);
                    double error = double.IsFinite(bar.Error) ? bar.Error : 0;
                    bars.Add(new Bar
                    {
                        Position = position, ValueBase = panel.Baseline, Value = bar.Value, Size = width,
                        FillColor = Series[s].Color, LineWidth = 0,
                    });
                    if (error > 0) errors.Add((position, bar.Value, error));
                    top = Math.Max(top, bar.Value + error);
                    bottom = Math.Min(bottom, bar.Value - error);
                }
        if (bars.Count > 0) plot.Add.Bars(bars);
        if (errors.Count > 0)
        {
            var whiskers = plot.Add.ErrorBar(errors.Select(e => e.X).ToArray(), errors.Select(e => e.Y).ToArray(), errors.Select(e => e.Error).ToArray());
            whiskers.Color = Colors.Black;
            whiskers.LineWidth = 1.5f;
        }
        double range = top > bottom ? top - bottom : Math.Max(1, Math.Abs(panel.Baseline));

        for (int c = 0; c < Categories.Count; c++)
            for (int s = 0; s < Series.Count; s++)
            {
                var (position, _) = Slot(c, s);
                if (panel.Get(Categories[c], Series[s].Name) is { } bar)
                {
                    if (bar.Label is null) continue;
                    double error = double.IsFinite(bar.Error) ? bar.Error : 0;
                    var label = plot.Add.Text(bar.Label, position, bar.Value + error + 0.02 * range);
                    label.LabelAlignment = Alignment.LowerCenter;
                    label.LabelFontSize = 11;
                    label.LabelFontName = font;
                }
                else
                {
                    // Written upwards from the baseline where the bar would stand, in the series' colour.
                    var missing = plot.Add.Text(panel.MissingLabel, position, panel.Baseline + 0.02 * range);
                    missing.LabelRotation = -90;
                    missing.LabelAlignment = Alignment.MiddleLeft;
                    missing.LabelFontSize = 12;
                    missing.LabelFontName = font;
                    missing.LabelFontColor = Series[s].Color.Darken(0.3);
                }
            }

        if (panel.Reference is { } reference)
        {
            var line = plot.Add.HorizontalLine(reference);
            line.LineColor = Colors.Black;
            line.LineWidth = 1.2f;
            line.LinePattern = LinePattern.Dashed;
        }

        plot.Title(panel.Title, size: 15);
        plot.YLabel(panel.YLabel, size: 13);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, Categories.Count).Select(c => (double)c).ToArray(), Categories.ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Left.TickLabelStyle.FontSize = 12;
        // Long category names would run into each other: tilt them (ending under their group) when they need more room
        // than the panel has. A name may have two lines ("model\nsampler").
        if (Categories.Sum(c => c.Split('\n').Max(l => l.Length)) * 7.5 > PanelWidth - 120)
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = -30;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            plot.Axes.Bottom.MinimumSize = 90;
        }
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Grid.XAxisStyle.IsVisible = false;
        plot.Font.Set(font);
        // Room above the tallest bar for its label (and below a bar under the baseline, e.g. R̂ a hair under 1).
        double below = bottom < panel.Baseline ? 0.05 * range : 0;
        plot.Axes.SetLimits(-0.6, Categories.Count - 0.4, bottom - below, bottom + range * 1.18);
        return plot;
    }

    /// <summary>Saves <c>{basePath}.png</c> and <c>{basePath}.svg</c>.</summary>
    public FigureFiles Save(string basePath)
    {
        var (width, height) = Size;
        return FigureFiles.SaveMultiplot(BuildMultiplot(), basePath, width, height);
    }

    private (int Columns, int Rows) Grid()
    {
        var count = Math.Max(1, _panels.Count);
        var columns = Math.Clamp(Columns, 1, count);
        return (columns, (count + columns - 1) / columns);
    }
}
