using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Studies.Data;

/// <summary>
/// The usual CIFAR-10 training augmentation, drawn independently for every example of a minibatch: zero-pad the image
/// by <see cref="Pad"/> pixels on each side, cut an H×W window at an offset (dy, dx) uniform on {0, …, 2·pad}², and
/// mirror it left–right with probability <see cref="FlipProbability"/>. The zeros are zeros of the network's input,
/// i.e. of the normalised image (the data set's mean colour), not black pixels.
/// <para>
/// Vectorised: the batch is padded once and each output pixel is gathered from its example's padded image; a flip
/// reverses that example's column indices (a mirrored crop of the padded image is the crop read right to left), so
/// there is no per-example loop over tensors. The random choices come from per-chain CPU generators, whatever the
/// batch's device, so a chain augments the same on CPU and GPU, alone or batched with others.
/// </para>
/// </summary>
public sealed class ImageAugmentation
{
    /// <summary>The usual CIFAR-10 padding.</summary>
    public const int DefaultPad = 4;

    /// <summary>
    /// What a chain's data-order seed is XORed with before SplitMix64 mixes it into the chain's augmentation seed
    /// (<see cref="SeedFor"/>): the bytes of "AUGMENTS" in ASCII. Top bit clear, so the result stays a valid torch seed.
    /// </summary>
    public const ulong SeedConstant = 0x4155_474D_454E_5453UL;

    public ImageAugmentation(int pad = DefaultPad, double flipProbability = 0.5)
    {
        if (pad < 0) throw new ArgumentOutOfRangeException(nameof(pad), pad, "the padding must be ≥ 0");
        if (!(flipProbability >= 0 && flipProbability <= 1)) throw new ArgumentOutOfRangeException(nameof(flipProbability), flipProbability, "the flip probability must lie in [0, 1]");
        Pad = pad;
        FlipProbability = flipProbability;
    }

    /// <summary>Zero padding on each side; crop offsets range over {0, …, 2·Pad}.</summary>
    public int Pad { get; }

    /// <summary>Chance that an example is mirrored left–right.</summary>
    public double FlipProbability { get; }

    /// <summary>
    /// The seed of chain k's augmentation generator: SplitMix64's first output from state (data-order seed ^
    /// <see cref="SeedConstant"/>), masked to 63 bits. A function of the chain's data-order seed only, so batched and
    /// sequential chains augment alike; mixed so that it is not the data-order generator's seed shifted.
    /// </summary>
    public static ulong SeedFor(ulong dataOrderSeed) => new SplitMix64(dataOrderSeed ^ SeedConstant).NextUInt64() & 0x7FFF_FFFF_FFFF_FFFFUL;

    /// <summary>One CPU generator per chain, seeded by <see cref="SeedFor"/> of its data-order seed; the caller disposes them.</summary>
    public static Generator[] GeneratorsFor(IEnumerable<ulong> dataOrderSeeds) => dataOrderSeeds.Select(s => new Generator(SeedFor(s))).ToArray();

    /// <summary>Whether examples of this shape can be augmented: images [C, H, W].</summary>
    public static bool Supports(IReadOnlyList<long> sampleShape) => sampleShape.Count == 3;

    /// <summary>Why a data set cannot be augmented, for the option's one-line error (null when it can): the caller
    /// puts the option's name in front.</summary>
    public static string? Refusal(Dataset data) => Supports(data.SampleShape) ? null
        : $"applies only to image data [C, H, W]; {data.Name} is {(data.Kind == "csv" ? "CSV feature" : "feature")} data (each example [{string.Join(", ", data.SampleShape)}])";

    /// <summary>
    /// The augmented batch, same shape, dtype and device as <paramref name="x"/> [K, B, C, H, W]. Chain k's choices
    /// come from <paramref name="generators"/>[k]: first B uniforms (flip where u &lt; <see cref="FlipProbability"/>),
    /// then B·2 offsets (dy, dx), row by row.
    /// </summary>
    public Tensor Apply(Tensor x, IReadOnlyList<Generator> generators)
    {
        if (x.dim() != 5) throw new ArgumentException($"augmentation takes a batch of images [K, B, C, H, W], got [{string.Join(", ", x.shape)}]");
        long k = x.shape[0], b = x.shape[1], c = x.shape[2], h = x.shape[3], w = x.shape[4];
        if (generators.Count != k) throw new ArgumentException($"a batch of {k} chains needs {k} generators, got {generators.Count}");
        using var scope = NewDisposeScope();
        // TorchSharp hands implicit Scalars to native code without keeping them alive (see WeightMatching.Similarity): hold them.
        using var probability = FlipProbability.ToScalar();
        using var one = 1.ToScalar();
        var flips = new Tensor[k];
        var offsets = new Tensor[k];
        for (int i = 0; i < k; i++)
        {
            flips[i] = rand(b, generator: generators[i]).lt(probability);
            offsets[i] = randint(0, 2 * Pad + 1, [b, 2], generator: generators[i]);
        }
        var flip = stack(flips).to(x.device);          // [K, B] bool
        var offset = stack(offsets).to(x.device);      // [K, B, 2] int64: (dy, dx)
        var dy = offset.select(2, 0).view(k, b, 1, 1, 1);
        var dx = offset.select(2, 1).view(k, b, 1, 1, 1);

        // Output pixel (i, j) of an example reads padded pixel (dy + i, dx + j), or (dy + i, dx + W − 1 − j) if mirrored.
        var straight = arange(HeldScalars.Zero, HeldScalars.Of(w), HeldScalars.One, ScalarType.Int64, x.device);
        var columns = where(flip.view(k, b, 1, 1, 1), straight.flip(0).view(1, 1, 1, 1, w), straight.view(1, 1, 1, 1, w)).add(dx, one);
        var rows = arange(HeldScalars.Zero, HeldScalars.Of(h), HeldScalars.One, ScalarType.Int64, x.device).view(1, 1, 1, h, 1).add(dy, one);

        var padded = Pad == 0 ? x : nn.functional.pad(x, [Pad, Pad, Pad, Pad]);
        var cropped = padded.gather(3, rows.expand(k, b, c, h, padded.shape[4]));   // [K, B, C, H, W + 2·pad]
        return cropped.gather(4, columns.expand(k, b, c, h, w)).MoveToOuterDisposeScope();
    }
}
