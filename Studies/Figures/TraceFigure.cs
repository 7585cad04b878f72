using ScottPlot;
using SkiaSharp;

namespace Workbench.Studies.Figures;

/// <summary>
/// Trace plots: one small panel per tracked parameter (titled with its name), one line per chain
/// (x = iteration, y = value). Each chain keeps its colour in every panel; one legend in a strip under the title
/// names the chains.
/// </summary>
public sealed class TraceFigure(string title)
{
    private readonly List<string> _parameters = [];
    private readonly List<string> _chains = [];
    private readonly Dictionary<(string Parameter, string Chain), (double[] X, double[] Y)> _traces = [];

    public string Title { get; } = title;
    /// <summary>Panels per row; null: 1 for up to 3 panels, 2 for up to 8, else 3.</summary>
    public int? Columns { get; init; }
    public int PanelWidth { get; init; } = 450;
    public int PanelHeight { get; init; } = 230;
    public int HeaderHeight { get; init; } = 80;
    /// <summary>Label of the x axis, shown under the bottom row of panels.</summary>
    public string XLabel { get; init; } = "iteration";

    public IReadOnlyList<string> Parameters => _parameters;
    public IReadOnlyList<string> Chains => _chains;

    /// <summary>Adds the trace of <paramref name="parameter"/> in <paramref name="chain"/>.</summary>
    public TraceFigure Add(string parameter, string chain, IReadOnlyList<double> iterations, IReadOnlyList<double> values)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(parameter);
        ArgumentException.ThrowIfNullOrWhiteSpace(chain);
        if (iterations.Count != values.Count)
            throw new ArgumentException($"Trace of '{parameter}' in chain '{chain}' has {iterations.Count} iterations and {values.Count} values.");
        if (iterations.Count == 0) throw new ArgumentException($"Trace of '{parameter}' in chain '{chain}' is empty.");
        if (!_traces.TryAdd((parameter, chain), (iterations.ToArray(), values.ToArray())))
            throw new ArgumentException($"Trace of '{parameter}' in chain '{chain}' was already added.");
        if (!_parameters.Contains(parameter)) _parameters.Add(parameter);
        if (!_chains.Contains(chain)) _chains.Add(chain);
        return this;
    }

    public (int Width, int Height) Size
    {
        get
        {
            var (columns, rows) = Grid();
            // A single column gets the width of two panels: long traces need the room.
            return (Math.Max(columns, 2) * PanelWidth, HeaderHeight + rows * PanelHeight);
        }
    }

    /// <summary>The ScottPlot multiplot: the header (title and legend) first, then one plot per parameter.</summary>
    public Multiplot BuildMultiplot()
    {
        if (_parameters.Count == 0) throw new InvalidOperationException($"Figure '{Title}' has no traces.");
        var font = FigureFonts.EnsureUsable();
        var palette = new ScottPlot.Palettes.Category10();

        var header = new Plot();
        header.HideAxesAndGrid();
        header.Title(Title, size: 18);
        var items = _chains.Select((chain, c) => new LegendItem
        {
            LabelText = chain,
            LineColor = palette.GetColor(c),
            LineWidth = 2.5f,
            LabelFontSize = 13,
            LabelFontName = font,
        }).ToList();
        var legend = header.ShowLegend(items, Alignment.LowerCenter);
        legend.Orientation = Orientation.Horizontal;
        legend.FontName = font;
        legend.FontSize = 13;

        var (columns, rows) = Grid();
        var multiplot = new Multiplot(header);
        foreach (var parameter in _parameters)
        {
            var panel = new Plot();
            for (var c = 0; c < _chains.Count; c++)
            {
                if (!_traces.TryGetValue((parameter, _chains[c]), out var trace)) continue;
                var line = panel.Add.ScatterLine(trace.X, trace.Y, palette.GetColor(c));
                line.LineWidth = 1.2f;
            }
            panel.Title(parameter, size: 14);
            if (multiplot.Subplots.Count > _parameters.Count - columns) panel.XLabel(XLabel, size: 12);
            panel.Axes.Bottom.TickLabelStyle.FontSize = 11;
            panel.Axes.Left.TickLabelStyle.FontSize = 11;
            panel.Axes.Margins(horizontal: 0, vertical: 0.08);
            panel.Font.Set(font);
            multiplot.AddPlot(panel);
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

    private (int Columns, int Rows) Grid()
    {
        var count = Math.Max(1, _parameters.Count);
        var columns = Math.Clamp(Columns ?? (count <= 3 ? 1 : count <= 8 ? 2 : 3), 1, count);
        return (columns, (count + columns - 1) / columns);
    }
}
