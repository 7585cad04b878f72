using System.Security.Cryptography;

namespace Workbench.Architectures.Masks;

/// <summary>
/// The fixed part of a W-Asymmetric weight matrix (PAPER 1.1): a binary mask M (true = trainable) in which every
/// row has exactly <see cref="NFix"/> fixed entries at random columns, and fixed values F = κ·N(0,1) on them.
/// Generated from (mask seed, layer index) only, so every process builds the same M and F.
/// </summary>
public sealed class WAsymMask
{
    public int Rows { get; }
    public int Columns { get; }
    public int NFix { get; }
    public double Kappa { get; }
    /// <summary>Row-major, length Rows·Columns; true where the entry is trainable.</summary>
    public bool[] Trainable { get; }
    /// <summary>Row-major, length Rows·Columns; κ·z on fixed entries, 0 on trainable ones: (1 − M) ⊙ F.</summary>
    public float[] FixedValues { get; }

    public long FixedCount => (long)Rows * NFix;
    public long TrainableCount => (long)Rows * Columns - FixedCount;

    private WAsymMask(int rows, int columns, int nFix, double kappa, bool[] trainable, float[] fixedValues)
    {
        Rows = rows; Columns = columns; NFix = nFix; Kappa = kappa; Trainable = trainable; FixedValues = fixedValues;
    }

    public static WAsymMask Generate(ulong maskSeed, int layerIndex, int rows, int columns, int nFix, double kappa)
    {
        if (rows <= 0 || columns <= 0) throw new ArgumentException($"layer {layerIndex}: a {rows}×{columns} weight has no entries");
        if (nFix < 0) throw new ArgumentException($"layer {layerIndex}: n_fix must be ≥ 0, got {nFix}");
        if (!(kappa >= 0) || double.IsInfinity(kappa)) throw new ArgumentException($"layer {layerIndex}: κ must be a finite number ≥ 0, got {kappa}");
        nFix = Math.Min(nFix, columns); // n_fix ≥ d_in fixes the whole row

        var trainable = new bool[rows * columns];
        Array.Fill(trainable, true);
        var positions = new KeyedRandom(maskSeed, layerIndex, KeyedStream.MaskPositions);
        var order = new int[columns];
        for (int r = 0; r < rows; r++)
        {
            // A partial Fisher–Yates shuffle picks n_fix distinct columns, independently per row.
            for (int c = 0; c < columns; c++) order[c] = c;
            for (int i = 0; i < nFix; i++)
            {
                int j = i + positions.NextBelow(columns - i);
                (order[i], order[j]) = (order[j], order[i]);
                trainable[r * columns + order[i]] = false;
            }
        }

        var fixedValues = new float[rows * columns];
        var values = new KeyedRandom(maskSeed, layerIndex, KeyedStream.FixedValues);
        for (int i = 0; i < fixedValues.Length; i++)
            if (!trainable[i]) fixedValues[i] = (float)(kappa * values.NextNormal());
        return new WAsymMask(rows, columns, nFix, kappa, trainable, fixedValues);
    }

    /// <summary>
    /// The "filters" form for convolutions (PAPER 1.1): every output channel gets <paramref name="nFixFilters"/> whole
    /// input-channel filters of <paramref name="kernelArea"/> entries fixed. Columns are the flattened C_in·k·k
    /// entries of a [C_out, C_in, k, k] weight; <see cref="NFix"/> then counts fixed entries per row
    /// (filters · k·k). Positions come from the same keyed stream as <see cref="Generate"/> (a per-row partial
    /// Fisher–Yates over input channels), values from the same value stream in row-major order.
    /// </summary>
    public static WAsymMask GenerateFilters(ulong maskSeed, int layerIndex, int rows, int channels, int kernelArea, int nFixFilters, double kappa)
    {
        if (kernelArea <= 0) throw new ArgumentException($"layer {layerIndex}: kernel area must be positive, got {kernelArea}");
        var channelMask = Generate(maskSeed, layerIndex, rows, channels, nFixFilters, kappa);
        int columns = channels * kernelArea;
        var trainable = new bool[rows * columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++)
                for (int a = 0; a < kernelArea; a++)
                    trainable[r * columns + c * kernelArea + a] = channelMask.Trainable[r * channels + c];
        var fixedValues = new float[rows * columns];
        var values = new KeyedRandom(maskSeed, layerIndex, KeyedStream.FixedValues);
        for (int i = 0; i < fixedValues.Length; i++)
            if (!trainable[i]) fixedValues[i] = (float)(kappa * values.NextNormal());
        return new WAsymMask(rows, columns, channelMask.NFix * kernelArea, kappa, trainable, fixedValues);
    }

    /// <summary>SHA-256 (hex) of the mask bytes (1 = trainable) followed by the little-endian float32 fixed values.</summary>
    public string Sha256()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Array.ConvertAll(Trainable, t => t ? (byte)1 : (byte)0));
        var bytes = new byte[FixedValues.Length * sizeof(float)];
        for (int i = 0; i < FixedValues.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), FixedValues[i]);
        hash.AppendData(bytes);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
