using System.Reflection;
using System.Text.RegularExpressions;
using Workbench.Studies.Sampling;

namespace Workbench.Studies.Comparisons;

/// <summary>
/// The study configs shipped in the repository's configs/ folder, carried in the assembly and runnable by name
/// (`workbench compare --preset NAME`); each file is also a documented example of the config format.
/// </summary>
public static partial class StudyPresets
{
    private const string Prefix = "configs/";

    public static IReadOnlyList<string> Names { get; } = typeof(StudyPresets).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..^".json".Length]).Order(StringComparer.Ordinal).ToList();

    /// <summary>The preset's JSON text as shipped (comments included).</summary>
    public static string Text(string name)
    {
        if (!Names.Contains(name)) throw new OptionException($"unknown preset '{name}' (available: {string.Join(", ", Names)})");
        using var stream = typeof(StudyPresets).Assembly.GetManifestResourceStream(Prefix + name + ".json")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static StudyConfig Get(string name, bool fullSize = false) => StudyConfig.Parse($"preset {name}", Text(name), fullSize);

    /// <summary>The first comment line of a preset: what it is for (for `--list-presets`).</summary>
    public static string Description(string name) =>
        FirstComment().Match(Text(name)) is { Success: true } m ? m.Groups[1].Value.Trim() : "";

    [GeneratedRegex(@"^\s*//(.*)$", RegexOptions.Multiline)]
    private static partial Regex FirstComment();
}
