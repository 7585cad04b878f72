namespace Workbench.Samplers;

/// <summary>
/// The tempering contract (METHODS: Tempering contract), shared by every method and written into every manifest.
/// Per-datum log posterior on a batch: ℓ̃_B(θ) = (1/|B|) Σ_{i∈B} log p(yᵢ|xᵢ,θ) + (1/N) log p(θ);
/// target p_T(θ) ∝ exp(N·ℓ̃(θ)/T); prior N(0, σ²I) on the trainable entries only.
/// </summary>
public sealed record Tempering(long TrainingSize, int BatchSize, double Temperature, double PriorStd)
{
    public const string Convention = "per-datum: l_B(theta) = mean_{i in B} log p(y_i|x_i,theta) + (1/N) log p(theta); target p_T ∝ exp(N l(theta) / T)";

    /// <summary>λ = 1/(Nσ²): the Gaussian prior as weight decay on the mean loss.</summary>
    public double WeightDecay => 1.0 / (TrainingSize * PriorStd * PriorStd);

    public void Validate()
    {
        if (TrainingSize <= 0) throw new ArgumentException($"the training set is empty (N = {TrainingSize})");
        if (BatchSize <= 0) throw new ArgumentException($"batch size must be positive, got {BatchSize}");
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be a positive number, got {Temperature}");
        if (!(PriorStd > 0) || double.IsInfinity(PriorStd)) throw new ArgumentException($"prior sd must be a positive number, got {PriorStd}");
    }

    /// <summary>log p(θ) of N(0, σ²I) for each row of θ [K, P].</summary>
    public double[] LogPrior(TorchSharp.torch.Tensor position)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        long p = position.shape[1];
        var squares = position.square().sum(1, type: TorchSharp.torch.ScalarType.Float64);
        double normaliser = -0.5 * p * Math.Log(2 * Math.PI * PriorStd * PriorStd);
        return squares.mul(-0.5 / (PriorStd * PriorStd)).add(normaliser).data<double>().ToArray();
    }

    /// <summary>log p(θ) of N(0, σ²I) from each row's ‖θ‖² (<paramref name="squares"/>) and its length P.</summary>
    public double[] LogPriorFromSquares(double[] squares, long p)
    {
        double normaliser = -0.5 * p * Math.Log(2 * Math.PI * PriorStd * PriorStd);
        return squares.Select(s => -0.5 / (PriorStd * PriorStd) * s + normaliser).ToArray();
    }

    public IReadOnlyDictionary<string, object> ToManifest() => new Dictionary<string, object>
    {
        ["convention"] = Convention,
        ["training_size"] = TrainingSize,
        ["batch_size"] = BatchSize,
        ["temperature"] = Temperature,
        ["prior_std"] = PriorStd,
        ["prior_variance"] = PriorStd * PriorStd,
        ["weight_decay_equivalent"] = WeightDecay,
    };
}
