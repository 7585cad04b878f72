using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Workbench.Studies.Metanetworks;

/// <summary>The metanetworks of PAPER 2.3 by name, with the label figures and reports use.</summary>
public static class MetanetKinds
{
    public const string Mlp = "mlp";
    public const string DeepSets = "deepsets";
    public const string StatNN = "statnn";
    public const string Cnn1d = "cnn1d";
    public static readonly IReadOnlyList<string> All = [Mlp, DeepSets, StatNN, Cnn1d];

    public static string Label(string kind) => kind switch
    {
        Mlp => "MLP",
        DeepSets => "DeepSets",
        StatNN => "StatNN",
        Cnn1d => "1D-CNN",
        _ => throw new ArgumentException($"unknown metanet '{kind}' (use {string.Join(", ", All)})"),
    };

    /// <summary>
    /// A freshly initialised metanet (under the caller's <c>torch.manual_seed</c>) mapping a batch of the inputs
    /// <see cref="MetanetFeatures.Build"/> makes to one predicted (standardised) accuracy per network, shape [B].
    /// <paramref name="inputShape"/> is one network's input shape (the batch dimension left out).
    /// </summary>
    public static Module<Tensor, Tensor> Create(string kind, long[] inputShape, int hidden) => kind switch
    {
        Mlp or StatNN => new MetanetMlp(inputShape[0], hidden),
        DeepSets => new DeepSetsMetanet(inputShape[1], hidden),
        Cnn1d => new Cnn1dMetanet(inputShape[1], hidden),
        _ => throw new ArgumentException($"unknown metanet '{kind}' (use {string.Join(", ", All)})"),
    };
}

/// <summary>Two hidden ReLU layers on a feature vector: the MLP metanet (on θ) and StatNN's head (on the statistics).</summary>
public sealed class MetanetMlp : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> body;

    public MetanetMlp(long inputs, int hidden) : base(nameof(MetanetMlp))
    {
        body = Sequential(Linear(inputs, hidden), ReLU(), Linear(hidden, hidden), ReLU(), Linear(hidden, 1));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => body.forward(x).squeeze(-1);
}

/// <summary>
/// DeepSets over θ's entries (Zaheer et al. 2017): each element is [value, one-hot of its tensor]; φ (two ReLU layers)
/// per element, mean pooling over the elements, ρ (one hidden ReLU layer) to the prediction. Mean pooling rather than a
/// sum keeps the pooled scale independent of how many elements a network has.
/// </summary>
public sealed class DeepSetsMetanet : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> phi;
    private readonly Module<Tensor, Tensor> rho;

    public DeepSetsMetanet(long elementFeatures, int hidden) : base(nameof(DeepSetsMetanet))
    {
        phi = Sequential(Linear(elementFeatures, hidden), ReLU(), Linear(hidden, hidden), ReLU());
        rho = Sequential(Linear(hidden, hidden), ReLU(), Linear(hidden, 1));
        RegisterComponents();
    }

    /// <param name="x">[B, elements, features]</param>
    public override Tensor forward(Tensor x) => rho.forward(phi.forward(x).mean([1])).squeeze(-1);
}

/// <summary>
/// A 1D-CNN over the flattened θ (in the spirit of the paper's DMC baseline): three Conv1d(kernel 5) + ReLU blocks with
/// 16 channels, each followed by max-pooling by 4 while the sequence stays at least 16 long, then adaptive average
/// pooling to 8 positions and a ReLU layer to the prediction. Adaptive pooling makes the head's size independent of θ's length.
/// </summary>
public sealed class Cnn1dMetanet : Module<Tensor, Tensor>
{
    private const int Channels = 16, Pooled = 8;
    private readonly Module<Tensor, Tensor> body;

    public Cnn1dMetanet(long length, int hidden) : base(nameof(Cnn1dMetanet))
    {
        var layers = new List<Module<Tensor, Tensor>>();
        long remaining = length;
        for (int block = 0; block < 3; block++)
        {
            layers.Add(Conv1d(block == 0 ? 1 : Channels, Channels, 5, padding: 2));
            layers.Add(ReLU());
            if (remaining / 4 >= 16)
            {
                layers.Add(MaxPool1d(4));
                remaining /= 4;
            }
        }
        layers.Add(AdaptiveAvgPool1d(Pooled));
        layers.Add(Flatten());
        layers.Add(Linear(Channels * Pooled, hidden));
        layers.Add(ReLU());
        layers.Add(Linear(hidden, 1));
        body = Sequential(layers);
        RegisterComponents();
    }

    /// <param name="x">[B, 1, length]</param>
    public override Tensor forward(Tensor x) => body.forward(x).squeeze(-1);
}
