namespace Workbench.Samplers;

/// <summary>
/// Mean-field VI, Bayes-by-backprop (Blundell et al. 2015) with local reparameterisation (Kingma et al. 2015).
/// METHODS: MFVI — q = N(μ, diag(softplus(ρ)²)); maximise (1/|B|) Σ E_q[log p(yᵢ|xᵢ,θ)] − (T/N) KL(q‖p).
/// </summary>
public sealed class MeanFieldVi(Tempering tempering, double stepSize, double initStd = 1e-3, int totalSteps = 0, double finalStepFraction = 1.0)
    : GaussianVariationalFit("mfvi", tempering, stepSize, initStd, rank: 0, fixedLogVariance: double.NaN, totalSteps, finalStepFraction);
