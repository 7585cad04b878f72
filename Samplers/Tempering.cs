namespace Workbench.Samplers;

/// <summary>
/// The tempering contract (METHODS: Tempering contract), shared by every method and written into every manifest.
/// Per-datum log posterior on a batch: ℓ̃_B(θ) = (1/|B|) Σ_{i∈B} log p(yᵢ|xᵢ,θ) + (1/N) log p(θ);
/// target p_T(θ) ∝ exp(N·ℓ̃(θ)/T); prior N(0, σ²I) on the trainable entries only, or, with
/// <see cref="PriorPrecision"/> set, the paper's per-layer prior N(0, 1/(precision·fan)) (Gaussian VI only).
/// </summary>
public sealed record Tempering(long TrainingSize, int BatchSize, double Temperature, double PriorStd)
{
    /// <summary>
    /// The per-layer prior of the paper's reference ELRG code: every entry of a layer (weight and bias) ~ N(0, 1/(λ·fan)),
    /// λ this precision, fan = out_features for a Linear and in_channels for a convolution (the network says which:
    /// <see cref="VariationalPiece.Fan"/>); normalisation layers are point estimates with no prior. Null: the isotropic
    /// N(0, σ²I) with σ = <see cref="PriorStd"/>. Only the Gaussian VI methods (mfvi, elrg) implement it.
    /// </summary>
    public double? PriorPrecision { get; init; }

    public bool PerLayerPrior => PriorPrecision is not null;

    /// <summary>The prior sd of a piece of θ with fan <paramref name="fan"/>: 1/√(λ·fan) per layer, else σ.</summary>
    public double PriorStdFor(long fan)
    {
        if (PriorPrecision is not { } precision) return PriorStd;
        if (fan <= 0) throw new ArgumentException("a per-layer prior (prior_precision) needs every variational piece of θ to have a fan; this network does not give one");
        return 1 / Math.Sqrt(precision * fan);
    }

    public const string Convention = "per-datum: l_B(theta) = mean_{i in B} log p(y_i|x_i,theta) + (1/N) log p(theta); target p_T ∝ exp(N l(theta) / T)";

    /// <summary>λ = 1/(Nσ²): the Gaussian prior as weight decay on the mean loss.</summary>
    public double WeightDecay => 1.0 / (TrainingSize * PriorStd * PriorStd);

    public void Validate()
    {
        if (TrainingSize <= 0) throw new ArgumentException($"the training set is empty (N = {TrainingSize})");
        if (BatchSize <= 0) throw new ArgumentException($"batch size must be positive, got {BatchSize}");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be a positive number, got {Temperature}");
        if (!(PriorStd > 0) || double.IsInfinity(PriorStd)) throw new ArgumentException($"prior sd must be a positive number, got {PriorStd}");
        if (PriorPrecision is { } p && (!(p > 0) || double.IsInfinity(p))) throw new ArgumentException($"prior precision must be a positive number, got {p}");
    }

    /// <summary><see cref="Validate"/> for a method that implements only the isotropic prior N(0, σ²I).</summary>
    public void ValidateIsotropic(string method)
    {
        Validate();
        if (PerLayerPrior)
            throw new ArgumentException($"{method}: the per-layer prior (prior_precision) is implemented for mfvi and elrg only; use prior_std (N(0, σ²I)) with {method}");
    }

    /// <summary>log p(θ) of N(0, σ²I) for each row of θ [K, P].</summary>
    public double[] LogPrior(TorchSharp.torch.Tensor position)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        long p = position.shape[1];
        var squares = position.pow(HeldScalars.Two).sum(1, type: TorchSharp.torch.ScalarType.Float64);
        double normaliser = -0.5 * p * Math.Log(2 * Math.PI * PriorStd * PriorStd);
        return squares.mul(HeldScalars.Of(-0.5 / (PriorStd * PriorStd))).add(HeldScalars.Of(normaliser), HeldScalars.One).data<double>().ToArray();
    }

    /// <summary>log p(θ) of N(0, σ²I) from each row's ‖θ‖² (<paramref name="squares"/>) and its length P.</summary>
    public double[] LogPriorFromSquares(double[] squares, long p)
    {
        double normaliser = -0.5 * p * Math.Log(2 * Math.PI * PriorStd * PriorStd);
        return squares.Select(s => -0.5 / (PriorStd * PriorStd) * s + normaliser).ToArray();
    }

    /// <summary>The manifest's <c>tempering</c>: the convention, N, |B|, T and the prior (σ, σ² and the weight-decay
    /// equivalent for the isotropic prior; the precision for the per-layer one).</summary>
    public IReadOnlyDictionary<string, object> ToManifest()
    {
        var node = new Dictionary<string, object>
        {
            ["convention"] = Convention,
            ["training_size"] = TrainingSize,
            ["batch_size"] = BatchSize,
            ["temperature"] = Temperature,
        };
        if (PriorPrecision is { } precision)
        {
            node["prior"] = "per-layer: N(0, 1/(prior_precision * fan)), fan = out_features (Linear) or in_channels (conv); norm layers are point estimates";
            node["prior_precision"] = precision;
        }
        else
        {
            node["prior"] = "isotropic: N(0, prior_std^2 I)";
            node["prior_std"] = PriorStd;
            node["prior_variance"] = PriorStd * PriorStd;
            node["weight_decay_equivalent"] = WeightDecay;
        }
        return node;
    }
}
