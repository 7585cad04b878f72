namespace Workbench.Samplers;

/// <summary>
/// Low-rank plus diagonal Gaussian VI, the paper's BNN posterior (Tomczak et al. 2020). METHODS: ELRG — per layer
/// q = N(μ, diag(σ²) + (1/r) Σ_{k=1..r} v_k v_kᵀ), a draw μ + σ⊙ε + √(1/r) Σ_k z_k v_k, local reparameterisation,
/// KL by the matrix determinant lemma. With a finite <paramref name="fixedLogVariance"/> (the paper's MLP runs: −10)
/// log σ² stays there and only μ and V are learned; NaN learns σ too.
/// </summary>
public sealed class Elrg : GaussianVariationalFit
{
    public Elrg(Tempering tempering, double stepSize, double initStd = 1e-3, int rank = 4, double fixedLogVariance = double.NaN,
        int totalSteps = 0, double finalStepFraction = 1.0)
        : base("elrg", tempering, stepSize, initStd, rank, fixedLogVariance, totalSteps, finalStepFraction)
    {
        if (rank < 1) throw new ArgumentException($"elrg: rank must be at least 1, got {rank} (rank 0 is mfvi)");
    }

    public override IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object>(base.Hyperparameters)
    {
        ["rank"] = Rank,
        ["fixed_log_var"] = LearnsVariance ? "learned" : FixedLogVariance,
    };
}
