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
}
