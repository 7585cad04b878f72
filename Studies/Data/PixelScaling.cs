namespace Workbench.Studies.Data;

/// <summary>
/// How image bytes become network inputs: x/255, then optionally (x − mean)/sd per channel. Built as a 256-entry
/// table per channel, so converting an image set is one table look-up per pixel.
/// </summary>
internal sealed class PixelScaling
{
    // PAPER: MNIST inputs normalised with mean 0.1307, sd 0.3081 (full MNIST training set statistics).
    public static readonly PixelScaling Mnist = new("(x/255 - 0.1307)/0.3081", [0.1307], [0.3081]);

    // The usual CIFAR-10 training set statistics per channel (R, G, B).
    public static readonly PixelScaling Cifar10 = new(
        "per channel (x/255 - mean)/sd, mean (0.4914, 0.4822, 0.4465), sd (0.2470, 0.2435, 0.2616)",
        [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);

    public static PixelScaling UnitInterval(int channels) =>
        new("x/255 (no normalisation)", new double[channels], Enumerable.Repeat(1.0, channels).ToArray());

    private readonly float[][] _table;

    private PixelScaling(string description, double[] mean, double[] sd)
    {
        Description = description;
        _table = new float[mean.Length][];
        for (int c = 0; c < mean.Length; c++)
        {
            _table[c] = new float[256];
            for (int b = 0; b < 256; b++) _table[c][b] = (float)((b / 255.0 - mean[c]) / sd[c]);
        }
    }

    public string Description { get; }
    public int Channels => _table.Length;

    /// <summary>Converts <paramref name="source"/> (channel-major planes of <paramref name="plane"/> pixels each).</summary>
    public void Convert(ReadOnlySpan<byte> source, Span<float> target, int plane)
    {
        for (int start = 0, c = 0; start < source.Length; start += plane, c = (c + 1) % _table.Length)
        {
            float[] table = _table[c];
            var from = source.Slice(start, plane);
            var to = target.Slice(start, plane);
            for (int i = 0; i < from.Length; i++) to[i] = table[from[i]];
        }
    }
}
