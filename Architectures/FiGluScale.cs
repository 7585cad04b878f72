using System.Globalization;

namespace Workbench.Architectures;

/// <summary>
/// The sd of the entries of FiGLU's fixed matrix F (σ-Asym, PAPER 1.2), given either as a number (the sd itself, for
/// every layer) or as <c>c/sqrt(d)</c>: sd c/√d, d being the number of features F mixes (an MLP hidden layer's width, a
/// convnet's channels). The paper's reference code uses both: its MNIST MLP draws F ~ N(0, 1); its ResNets and metanet
/// zoos draw sd 1/√C. With sd 1 on a d-wide LayerNorm output, F x has sd ≈ √d and the sigmoid gate is nearly a binary
/// mask; with 1/√d, F x has sd ≈ 1.
/// </summary>
public readonly record struct FiGluScale(double Factor, bool OverSqrtWidth)
{
    /// <summary>sd 1 in every layer: the paper's reference MLP code.</summary>
    public static FiGluScale One => new(1, false);

    /// <summary>sd 1/√d: the paper's ResNets and zoos.</summary>
    public static FiGluScale InverseSqrtWidth => new(1, true);

    /// <summary>A plain number is an sd used as it is.</summary>
    public static implicit operator FiGluScale(double std) => new(std, false);

    /// <summary>The sd of F's entries in a FiGLU over <paramref name="width"/> features.</summary>
    public double StdFor(int width)
    {
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "FiGLU needs at least one feature");
        return OverSqrtWidth ? Factor / Math.Sqrt(width) : Factor;
    }

    /// <summary>Whether the scale gives a usable sd: a positive finite factor.</summary>
    public bool IsValid => Factor > 0 && double.IsFinite(Factor);

    /// <summary>What <see cref="Parse"/> reads back: "0.0625", "1/sqrt(d)", "0.5/sqrt(d)".</summary>
    public override string ToString()
    {
        string factor = Factor.ToString("R", CultureInfo.InvariantCulture);
        return OverSqrtWidth ? $"{factor}/sqrt(d)" : factor;
    }

    /// <summary>What the forms mean, for option descriptions and errors.</summary>
    public const string Forms = "a positive number (the sd of F's entries) or C/sqrt(d) (sd C/√d, d = the features F mixes: an MLP layer's width, a convnet's channels), e.g. 1/sqrt(d)";

    /// <summary>Reads "0.0625", "1e-2", "1/sqrt(d)", "0.5/sqrt(d)" or "1/√d" (spaces and case ignored); null and a reason if
    /// <paramref name="text"/> is none of these or not positive.</summary>
    public static FiGluScale? TryParse(string? text, out string error)
    {
        error = $"must be {Forms}; got '{text}'";
        if (string.IsNullOrWhiteSpace(text)) return null;
        string t = string.Concat(text.Where(c => !char.IsWhiteSpace(c))).ToLowerInvariant();
        bool over = false;
        foreach (var suffix in new[] { "/sqrt(d)", "/√d", "/√(d)" })
            if (t.EndsWith(suffix, StringComparison.Ordinal))
            {
                t = t[..^suffix.Length];
                over = true;
                break;
            }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double factor)) return null;
        var scale = new FiGluScale(factor, over);
        if (!scale.IsValid)
        {
            error = $"must be positive and finite ({Forms}); got '{text}'";
            return null;
        }
        return scale;
    }

    /// <summary><see cref="TryParse"/>, throwing <see cref="ArgumentException"/> with the reason.</summary>
    public static FiGluScale Parse(string text) => TryParse(text, out string error) ?? throw new ArgumentException($"FiGLU sd {error}");
}
