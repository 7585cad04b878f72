using ScottPlot;

namespace Workbench.Studies.Figures;

/// <summary>
/// Picks the font every figure uses. ScottPlot draws no text at all, and raises no error, when it finds no font
/// files; this turns that silent failure into a clear one before anything is drawn.
/// </summary>
public static class FigureFonts
{
    public const string Preferred = "DejaVu Sans";

    private static readonly Lock Gate = new();
    private static string? _chosen;

    /// <summary>
    /// Makes <see cref="Preferred"/> ScottPlot's default font (else keeps a usable default) and returns the family.
    /// Throws <see cref="InvalidOperationException"/> when no font with glyphs is installed.
    /// </summary>
    public static string EnsureUsable()
    {
        lock (Gate)
        {
            if (_chosen is not null) return _chosen;
            string? family = null;
            if (IsUsable(Preferred, exactName: true)) family = Preferred;
            else if (!string.IsNullOrEmpty(Fonts.Default) && IsUsable(Fonts.Default, exactName: false)) family = Fonts.Default;
            if (family is null)
                throw new InvalidOperationException(
                    $"No usable font for figures: ScottPlot found none, so figures would have no text. Install {Preferred} (Debian/Ubuntu: apt-get install fonts-dejavu-core).");
            Fonts.Default = family;
            Fonts.Sans = family;
            return _chosen = family;
        }
    }

    private static bool IsUsable(string family, bool exactName)
    {
        // GetTypeface falls back to another family rather than returning null, so check what came back.
        var typeface = Fonts.GetTypeface(family, bold: false, italic: false);
        return typeface is not null && typeface.GlyphCount > 0
               && (!exactName || string.Equals(typeface.FamilyName, family, StringComparison.OrdinalIgnoreCase));
    }
}
