using ScottPlot;

namespace Workbench.Studies.Figures;

/// <summary>
/// One named line of a <see cref="LineFigure"/>, with an optional band (e.g. a credible interval) drawn as a translucent
/// fill. <see cref="Color"/>: null takes the next palette colour; set it to give one thing the same colour in every figure.
/// </summary>
public sealed record LineSeries(
    string Name,
    IReadOnlyList<double> X,
    IReadOnlyList<double> Y,
    IReadOnlyList<double>? Lower = null,
    IReadOnlyList<double>? Upper = null)
{
    public Color? Color { get; init; }
}

/// <summary>
/// Several named lines against a common x axis, e.g. running Bayesian-model-average test accuracy vs epoch, one line
/// per network variant. The legend sits to the right of the data area, so it never hides a line.
/// </summary>
public sealed class LineFigure(string title, string xLabel, string yLabel)
{
    private readonly List<LineSeries> _series = [];

    public string Title { get; } = title;
    public string XLabel { get; } = xLabel;
    public string YLabel { get; } = yLabel;
    public int Width { get; init; } = 900;
    public int Height { get; init; } = 560;
    /// <summary>Fixed y limits (e.g. 0 and 1 for an accuracy); null: fitted to the data, bands included.</summary>
    public double? YMin { get; init; }
    public double? YMax { get; init; }
    /// <summary>False for a panel of a <see cref="LineGridFigure"/>, whose header holds the one legend.</summary>
    public bool ShowLegend { get; init; } = true;
    public float TitleSize { get; init; } = 18;
    public float LabelSize { get; init; } = 15;

    public IReadOnlyList<LineSeries> Series => _series;

    public LineFigure Add(LineSeries series)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.X.Count == 0) throw new ArgumentException($"Series '{series.Name}' has no points.", nameof(series));
        if (series.Y.Count != series.X.Count)
            throw new ArgumentException($"Series '{series.Name}' has {series.X.Count} x values and {series.Y.Count} y values.", nameof(series));
        if ((series.Lower is null) != (series.Upper is null))
            throw new ArgumentException($"Series '{series.Name}' needs both a lower and an upper band, or neither.", nameof(series));
        if (series.Lower is not null && (series.Lower.Count != series.X.Count || series.Upper!.Count != series.X.Count))
            throw new ArgumentException($"Series '{series.Name}': the band needs one lower and one upper value per x.", nameof(series));
        _series.Add(series);
        return this;
    }

    public LineFigure Add(string name, IReadOnlyList<double> x, IReadOnlyList<double> y,
        IReadOnlyList<double>? lower = null, IReadOnlyList<double>? upper = null) => Add(new LineSeries(name, x, y, lower, upper));

    /// <summary>The ScottPlot plot (for callers who want to adjust it before saving).</summary>
    public Plot BuildPlot()
    {
        if (_series.Count == 0) throw new InvalidOperationException($"Figure '{Title}' has no series.");
        var font = FigureFonts.EnsureUsable();
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var showMarkers = _series.Max(s => s.X.Count) <= 40;

        // Bands first, so every line is drawn on top of every band.
        for (var i = 0; i < _series.Count; i++)
        {
            var s = _series[i];
            if (s.Lower is null) continue;
            var band = plot.Add.FillY(s.X.ToArray(), s.Lower.ToArray(), s.Upper!.ToArray());
            band.FillColor = (s.Color ?? palette.GetColor(i)).WithAlpha(0.18);
            band.LineWidth = 0;
            band.LegendText = "";
        }
        for (var i = 0; i < _series.Count; i++)
        {
            var s = _series[i];
            var line = plot.Add.Scatter(s.X.ToArray(), s.Y.ToArray(), s.Color ?? palette.GetColor(i));
            line.LegendText = s.Name;
            line.LineWidth = 2;
            line.MarkerSize = showMarkers ? 5 : 0;
        }

        plot.Title(Title, size: TitleSize);
        plot.XLabel(XLabel, size: LabelSize);
        plot.YLabel(YLabel, size: LabelSize);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Font.Set(font);

        // Epochs and iterations are whole numbers: no ticks at 1.2, 1.4, ...
        if (_series.All(s => s.X.All(x => x == Math.Floor(x))))
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

        if (ShowLegend)
        {
            var legend = plot.ShowLegend(Edge.Right);
            legend.Legend.FontSize = 13;
            legend.Legend.FontName = font;
        }
        else plot.HideLegend();

        plot.Axes.AutoScale();
        plot.Axes.Margins(horizontal: 0.02, vertical: 0.06);
        plot.Axes.AutoScale();
        if (YMin is not null || YMax is not null)
        {
            var limits = plot.Axes.GetLimits();
            plot.Axes.SetLimitsY(YMin ?? limits.Bottom, YMax ?? limits.Top);
        }
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
