using ScottPlot;

namespace Workbench.Studies.Figures;

/// <summary>
/// A symmetric matrix of barriers between draws as a heat map: row and column i are the same draw, ordered by chain
/// then draw, row 0 at the top; black lines mark where one chain's draws end and the next chain's begin.
/// </summary>
public sealed class BarrierMatrixFigure(string title, string colorLabel, double[,] values, IReadOnlyList<int> chainOfRow)
{
    public int Width { get; init; } = 760;
    public int Height { get; init; } = 640;

    public Plot Build()
    {
        int n = values.GetLength(0);
        if (n == 0 || values.GetLength(1) != n) throw new ArgumentException($"a barrier matrix must be square and not empty, got {values.GetLength(0)}×{values.GetLength(1)}");
        if (chainOfRow.Count != n) throw new ArgumentException($"{n} rows but {chainOfRow.Count} chain labels");
        var font = FigureFonts.EnsureUsable();
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(values);
        // Cell i spans [i, i + 1] in x and, row 0 being the top, [n − i − 1, n − i] in y.
        heatmap.Rectangle = new CoordinateRect(0, n, 0, n);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = colorLabel;
        bar.LabelStyle.FontSize = 13;

        var ticksX = new List<Tick>();
        var ticksY = new List<Tick>();
        int start = 0;
        for (int i = 1; i <= n; i++)
        {
            if (i < n && chainOfRow[i] == chainOfRow[i - 1]) continue;
            double middle = (start + i) / 2.0;
            ticksX.Add(new Tick(middle, $"chain {chainOfRow[start]}"));
            ticksY.Add(new Tick(n - middle, $"chain {chainOfRow[start]}"));
            if (i < n)
            {
                var vertical = plot.Add.VerticalLine(i, width: 2, color: Colors.Black);
                var horizontal = plot.Add.HorizontalLine(n - i, width: 2, color: Colors.Black);
                vertical.LinePattern = horizontal.LinePattern = LinePattern.Solid;
            }
            start = i;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticksX.ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticksY.ToArray());
        plot.Axes.SetLimits(0, n, 0, n);
        plot.Title(title, size: 16);
        plot.XLabel("draw (by chain, then draw)", size: 13);
        plot.YLabel("draw (by chain, then draw)", size: 13);
        plot.Grid.IsVisible = false;
        plot.Font.Set(font);
        return plot;
    }

    /// <summary>Saves <c>{basePath}.png</c> and <c>{basePath}.svg</c>.</summary>
    public FigureFiles Save(string basePath)
    {
        var files = FigureFiles.For(basePath);
        var plot = Build();
        FigureFiles.Save(plot, files, Width, Height);
        return files;
    }
}
