using ScottPlot;

namespace Workbench.Studies.Figures;

/// <summary>
/// Multiplot layout of the multi-panel figures: the first subplot is a full-width strip of fixed height on top (title
/// and legend); the others fill a grid below it, row by row.
/// </summary>
internal sealed class HeaderAndGridLayout(int headerHeight, int rows, int columns) : IMultiplotLayout
{
    public PixelRect[] GetSubplotRectangles(SubplotCollection subplots, PixelRect figureRect)
    {
        var rects = new PixelRect[subplots.Count];
        rects[0] = new PixelRect(figureRect.Left, figureRect.Right, figureRect.Top + headerHeight, figureRect.Top);
        var cellWidth = figureRect.Width / columns;
        var cellHeight = (figureRect.Height - headerHeight) / rows;
        for (var i = 1; i < rects.Length; i++)
        {
            var row = (i - 1) / columns;
            var column = (i - 1) % columns;
            var left = figureRect.Left + column * cellWidth;
            var top = figureRect.Top + headerHeight + row * cellHeight;
            rects[i] = new PixelRect(left, left + cellWidth, top + cellHeight, top);
        }
        return rects;
    }
}
