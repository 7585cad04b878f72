using TorchSharp;
using static TorchSharp.torch;

namespace Workbench.Architectures;

public enum Variant { Standard, WAsym, SigmaAsym }

public static class VariantNames
{
    public static string ToName(this Variant v) => v switch
    {
        Variant.Standard => "standard",
        Variant.WAsym => "w-asym",
        Variant.SigmaAsym => "sigma-asym",
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    public static readonly IReadOnlyList<string> All = ["standard", "w-asym", "sigma-asym"];

    public static Variant Parse(string name) => name switch
    {
        "standard" => Variant.Standard,
        "w-asym" => Variant.WAsym,
        "sigma-asym" => Variant.SigmaAsym,
        _ => throw new ArgumentException($"unknown variant '{name}' (use standard, w-asym or sigma-asym)"),
    };
}

/// <summary>A fixed random tensor a network owns (W-Asym F and mask, FiGLU F), with the hash the manifest records.</summary>
public sealed record FixedTensorRecord(string Layer, string Kind, long[] Shape, long FixedEntries, string Sha256, IReadOnlyDictionary<string, double> Settings);

/// <summary>
/// A network as a pure function of a flat trainable vector. Chains are a batch dimension: θ is [K, P] and inputs
/// are [K, B, …sample shape], giving outputs [K, B, outputs]; a single chain is K = 1.
/// </summary>
public interface INetwork : IDisposable
{
    string Name { get; }
    Variant Variant { get; }
    ParameterLayout Layout { get; }
    long TrainableCount => Layout.Count;
    /// <summary>Entries held fixed (W-Asym F); FiGLU's fixed matrices are counted too.</summary>
    long FixedCount { get; }
    int Outputs { get; }
    IReadOnlyList<FixedTensorRecord> FixedTensors { get; }

    Tensor Forward(Theta theta, Tensor x);

    /// <summary>Sizes, in layout order, of the blocks of θ that a variational posterior's low-rank factors do not
    /// couple: one block per layer (the segments that share a name before the first '.').</summary>
    IReadOnlyList<long> VariationalBlocks => GaussianParameters.LayerBlocks(Layout);

    /// <summary>
    /// The forward pass under a Gaussian over θ per chain (VI): outputs [K, B, outputs] for one draw of the noise.
    /// <paramref name="mean"/> and <paramref name="std"/> are [K, P], <paramref name="factors"/> [K, r, P] already
    /// scaled (block covariance diag(σ²) + Σ_k f_k f_kᵀ) or null; all three may require grad. Chain k's noise comes
    /// from <paramref name="generators"/>[k]. This default uses plain reparameterisation (one θ per chain per call);
    /// networks with Linear layers override it with local reparameterisation (noise per example on pre-activations).
    /// </summary>
    Tensor ForwardGaussian(Tensor mean, Tensor std, Tensor? factors, Tensor x, IReadOnlyList<Generator> generators)
    {
        using var scope = NewDisposeScope();
        var q = new GaussianParameters(mean, std, factors, generators);
        return Forward(q.Sample(VariationalBlocks), x).MoveToOuterDisposeScope();
    }

    /// <summary>Whether K chains as one batched computation beat K single-chain computations on <paramref name="device"/>
    /// (the "auto" chain mode asks). True for MLPs (one batched matmul); convnets say false on the CPU, where grouped
    /// convolutions are slower than one chain at a time (<c>workbench bench --only convnets</c>).</summary>
    bool BatchesChainsWell(Device device) => true;

    /// <summary>Examples per evaluation pass (no gradient) when <paramref name="chains"/> parameter vectors are evaluated at
    /// once, so that a pass's activations stay in the hundreds of MB: 1,000 for MLPs; convnets, whose activations grow
    /// with the image, take fewer.</summary>
    int EvaluationChunk(long chains) => 1000;

    /// <summary>A fresh initial θ of shape [P] (PyTorch's default U(±1/√fan_in) for Linear, 1/0 for norms).</summary>
    Tensor InitialPosition(Generator generator);

    /// <summary>Moves the fixed buffers to a device and dtype; θ and inputs must match.</summary>
    void To(Device device, ScalarType dtype);
}
