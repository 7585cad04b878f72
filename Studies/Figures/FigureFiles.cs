using ScottPlot;
using SkiaSharp;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Figures;

/// <summary>The two files of a figure: the same base name as PNG (for viewing) and SVG (for papers).</summary>
public sealed record FigureFiles(string Png, string Svg)
{
    /// <summary>
    /// The paths for <paramref name="basePath"/> (a trailing .png or .svg is dropped); creates the folder.
    /// </summary>
    public static FigureFiles For(string basePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(basePath);
        var full = Path.GetFullPath(basePath);
        if (Path.GetExtension(full) is ".png" or ".svg") full = full[..^4];
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return new FigureFiles(full + ".png", full + ".svg");
    }

    /// <summary>Saves <paramref name="plot"/> as both files, each written whole or not at all (<see cref="AtomicFile"/>).</summary>
    public static void Save(Plot plot, FigureFiles files, int width, int height)
    {
        AtomicFile.Write(files.Png, temp => plot.SavePng(temp, width, height));
        AtomicFile.Write(files.Svg, temp => plot.SaveSvg(temp, width, height));
    }

    /// <summary>
    /// Saves a multi-panel figure as PNG and SVG. The SVG draws each panel onto Skia's SVG canvas over a white
    /// background: Multiplot.Render starts with a clear, which an SVG canvas writes as an unfilled (black) rectangle.
    /// </summary>
    public static FigureFiles SaveMultiplot(Multiplot multiplot, string basePath, int width, int height)
    {
        var files = For(basePath);
        AtomicFile.Write(files.Png, temp => multiplot.SavePng(temp, width, height));
        // Rendered into memory first: Skia writes through a native callback, and an I/O error (a full disk) thrown
        // inside that callback cannot be caught and aborts the process; the file write after it fails like any other.
        var svg = new MemoryStream();
        using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), svg))
        using (var white = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Fill })
        {
            canvas.DrawRect(new SKRect(0, 0, width, height), white);
            var plots = multiplot.GetPlots();
            var rects = multiplot.Layout.GetSubplotRectangles(multiplot.Subplots, new PixelRect(0, width, height, 0));
            for (var i = 0; i < plots.Length; i++) plots[i].Render(canvas, rects[i]);
        }
        AtomicFile.Write(files.Svg, temp => File.WriteAllBytes(temp, svg.ToArray()));
        return files;
    }
}
