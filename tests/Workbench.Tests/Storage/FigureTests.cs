using System.Buffers.Binary;
using System.Xml.Linq;
using Workbench.Studies.Figures;

namespace Workbench.Tests.Storage;

public class FigureTests
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static (int Width, int Height) PngSize(string file)
    {
        var bytes = File.ReadAllBytes(file);
        Assert.Equal(PngSignature, bytes[..8]);
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static IReadOnlyList<string> SvgTexts(string file)
    {
        var svg = XDocument.Load(file);
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        return svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToArray();
    }

    [Fact]
    public void Default_font_is_available()
    {
        var family = FigureFonts.EnsureUsable();

        Assert.Equal(FigureFonts.Preferred, family);
        Assert.False(string.IsNullOrEmpty(ScottPlot.Fonts.Default));
        Assert.Equal(FigureFonts.Preferred, ScottPlot.Fonts.Default);
        Assert.True(ScottPlot.Fonts.GetTypeface(ScottPlot.Fonts.Default, false, false).GlyphCount > 0);
    }

    [Fact]
    public void Figures_are_written_as_png_and_svg()
    {
        using var temp = new TempFolder();
        double[] epochs = [1, 2, 3, 4, 5];
        var line = new LineFigure("Running BMA test accuracy", "epoch", "test accuracy") { YMin = 0, YMax = 1 }
            .Add("standard", epochs, [0.5, 0.7, 0.8, 0.85, 0.87], [0.45, 0.65, 0.75, 0.8, 0.83], [0.55, 0.75, 0.85, 0.9, 0.91])
            .Add("W-Asym", epochs, [0.6, 0.8, 0.86, 0.9, 0.92]);
        var lineFiles = line.Save(temp.Combine("figures", "bma_accuracy.png"));

        Assert.Equal(temp.Combine("figures", "bma_accuracy.png"), lineFiles.Png);
        Assert.Equal(temp.Combine("figures", "bma_accuracy.svg"), lineFiles.Svg);
        Assert.Equal((900, 560), PngSize(lineFiles.Png));
        var lineTexts = SvgTexts(lineFiles.Svg);
        Assert.Contains(lineTexts, t => t.Contains("Running BMA test accuracy"));
        Assert.Contains(lineTexts, t => t.Contains("W-Asym"));
        Assert.Contains(lineTexts, t => t.Contains("epoch"));

        double[] iterations = [0, 10, 20, 30];
        var trace = new TraceFigure("Traces")
            .Add("w[0]", "chain 0", iterations, [0.1, 0.2, 0.15, 0.3])
            .Add("w[0]", "chain 1", iterations, [-0.1, 0.0, 0.05, 0.1])
            .Add("lp", "chain 0", iterations, [-10, -8, -7, -7.5])
            .Add("lp", "chain 1", iterations, [-12, -9, -8, -7])
            .Add("b[3]", "chain 0", iterations, [1, 1.1, 0.9, 1]);
        var traceFiles = trace.Save(temp.Combine("figures", "traces"));

        Assert.Equal(trace.Size, PngSize(traceFiles.Png));
        var traceTexts = SvgTexts(traceFiles.Svg);
        foreach (var label in new[] { "Traces", "w[0]", "lp", "b[3]", "chain 0", "chain 1", "iteration" })
            Assert.Contains(traceTexts, t => t.Contains(label));
    }

    [Fact]
    public void Figures_refuse_mismatched_series()
    {
        var line = new LineFigure("t", "x", "y");
        Assert.Throws<ArgumentException>(() => line.Add("a", [1, 2, 3], [1, 2]));
        Assert.Throws<ArgumentException>(() => line.Add("a", [1, 2], [1, 2], lower: [0, 1]));
        Assert.Throws<InvalidOperationException>(() => line.Save(Path.Combine(Path.GetTempPath(), "never-written")));
        var trace = new TraceFigure("t").Add("w[0]", "chain 0", [0, 1], [0, 1]);
        Assert.Throws<ArgumentException>(() => trace.Add("w[0]", "chain 0", [0, 1], [0, 1]));
    }
}
