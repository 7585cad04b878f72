using static TorchSharp.torch;

namespace Workbench.Samplers;

/// <summary>
/// SWA-Gaussian (Maddox et al. 2019). METHODS: SWAG. Runs SGD with momentum on ℓ̃_B (<see cref="PerDatumLogPosterior"/>):
///   v ← μv + ∇ℓ̃_B(θ),   θ ← θ + ηv,
/// and, from step ⌊start·TotalSteps⌋ on, every <see cref="CollectEvery"/> steps collects the iterate into a running
/// mean θ̄ and second moment m₂ and stores its deviation θ − θ̄ (θ̄ updated to include it) in a ring buffer of the last
/// <see cref="Rank"/> snapshots, D̂. A draw is
///   θ̄ + Σ_diag^{1/2} z₁/√2 + D̂ z₂/√(2(K−1)),   Σ_diag = max(m₂ − θ̄², 1e−30),   z₁ ~ N(0, I_P), z₂ ~ N(0, I_K),
/// with K the number of stored deviations (the rank once the buffer is full). Each chain is one independent SWAG fit.
/// Our networks use LayerNorm, so no BatchNorm statistics are re-estimated after sampling.
/// Temperature does not enter: SWAG's covariance is that of the SGD iterates, not a tempered posterior.
/// </summary>
public sealed class Swag : ISampler
{
    /// <summary>The floor of Σ_diag (METHODS: SWAG), so that a coordinate SGD never moved gets a finite square root.</summary>
    public const double MinVariance = 1e-30;

    /// <param name="collectEvery">steps between snapshots; 0 means one epoch ⌈N/B⌉, shortened where needed so that
    /// the collection window (1 − start)·TotalSteps holds at least <paramref name="rank"/> snapshots.</param>
    public Swag(Tempering tempering, int totalSteps, double stepSize, double momentum = 0.9, int rank = 20, int collectEvery = 0, double start = 0.5)
    {
        tempering.ValidateIsotropic("swag");
        if (!(stepSize > 0) || double.IsInfinity(stepSize)) throw new ArgumentException($"swag: step size must be a positive number, got {stepSize}");
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentException($"swag: momentum must be in [0, 1), got {momentum}");
        if (rank < 2) throw new ArgumentException($"swag: rank K must be at least 2 (the draw divides by K − 1), got {rank}");
        if (collectEvery < 0) throw new ArgumentException($"swag: collect_every must be a number of steps ≥ 1, or 0 for one epoch; got {collectEvery}");
        if (!(start >= 0 && start < 1)) throw new ArgumentException($"swag: start must be a fraction of the run in [0, 1), got {start}");
        if (totalSteps <= 0) throw new ArgumentException($"swag: the run needs at least one step, got {totalSteps}");
        Tempering = tempering;
        StepSize = stepSize;
        Momentum = momentum;
        Rank = rank;
        Start = start;
        StartStep = (long)Math.Floor(start * totalSteps);
        long window = totalSteps - StartStep;
        long epoch = (tempering.TrainingSize + tempering.BatchSize - 1) / tempering.BatchSize;
        CollectEvery = collectEvery > 0 ? collectEvery : Math.Max(1, Math.Min(epoch, window / rank));
        if (window < CollectEvery)
            throw new ArgumentException($"swag: no snapshot would be collected: collecting starts at step {StartStep} of {totalSteps} " +
                $"and takes one every {CollectEvery} steps; lower start or collect_every, or run more steps");
    }

    public string Name => "swag";
    public Tempering Tempering { get; }
    public double StepSize { get; }
    public double Momentum { get; }
    public int Rank { get; }
    public double Start { get; }
    /// <summary>Snapshots are taken after steps t = StartStep + j·CollectEvery, j ≥ 1 (t counts steps from 1).</summary>
    public long StartStep { get; }
    public long CollectEvery { get; }

    public SamplerKind Kind => SamplerKind.Fitted;
    public IReadOnlyList<string> ExtraStats => ["collected"];

    public IReadOnlyDictionary<string, object> Hyperparameters => new Dictionary<string, object>
    {
        ["step_size"] = StepSize, ["momentum"] = Momentum, ["rank"] = Rank, ["collect_every"] = CollectEvery,
        ["start"] = Start, ["start_step"] = StartStep, ["min_variance"] = MinVariance,
    };

    public SamplerState Init(Tensor position) => new SwagState(position, Rank);

    public StepInfo Step(SamplerState state, ILogLikelihood target, IReadOnlyList<Generator> generators)
    {
        var s = (SwagState)state;
        var theta = s.Position;
        int chains = (int)theta.shape[0];
        if (generators.Count != chains) throw new ArgumentException($"swag: {chains} chains need {chains} generators, got {generators.Count}");

        using var scope = NewDisposeScope();
        var objective = PerDatumLogPosterior.Evaluate(target, theta, Tempering);
        using (no_grad())
        {
            // SGD with momentum (PyTorch's convention), ascending ℓ̃_B.
            s.Velocity.mul_(HeldScalars.Of(Momentum)).add_(objective.Gradient, HeldScalars.One);
            theta.add_(s.Velocity, alpha: HeldScalars.Of(StepSize));
        }
        s.Iteration++;
        if (s.Iteration > StartStep && (s.Iteration - StartStep) % CollectEvery == 0) s.Collect(theta);
        var collected = Enumerable.Repeat((double)s.Collected, chains).ToArray();
        return objective.ToStepInfo(StepSize) with { Extra = new Dictionary<string, double[]> { ["collected"] = collected } };
    }

    /// <summary>One draw per chain from its SWAG Gaussian, [K, P] in θ's dtype; chain k's noise comes from generator k.</summary>
    public Tensor Draw(SamplerState state, IReadOnlyList<Generator> generators)
    {
        var s = (SwagState)state;
        if (generators.Count != s.Position.shape[0]) throw new ArgumentException($"swag: {s.Position.shape[0]} chains need {s.Position.shape[0]} generators, got {generators.Count}");
        return s.Sample(generators);
    }

    /// <summary>The SWAG Gaussian exists once a snapshot is collected.</summary>
    public bool CanDraw(SamplerState state) => ((SwagState)state).Collected > 0;
}

/// <summary>
/// SWAG's state: θ and the SGD velocity [K, P], the running moments θ̄ and m₂ [K, P] (float64: Σ_diag = m₂ − θ̄²
/// cancels badly in float32), and the last Rank deviations D̂ [K, Rank, P] (θ's dtype) in a ring buffer: snapshot n
/// (from 1) goes to slot (n − 1) mod Rank.
/// </summary>
public sealed class SwagState : SamplerState
{
    private readonly Tensor _scratch, _z1, _z2;

    public SwagState(Tensor position, int rank) : base(position)
    {
        if (position.dim() != 2) throw new ArgumentException($"swag: θ must be [chains, parameters], got [{string.Join(", ", position.shape)}]");
        long k = position.shape[0], p = position.shape[1];
        Rank = rank;
        Velocity = zeros_like(position);
        Mean = zeros([k, p], dtype: ScalarType.Float64, device: position.device);
        SecondMoment = zeros([k, p], dtype: ScalarType.Float64, device: position.device);
        Deviations = zeros([k, rank, p], dtype: position.dtype, device: position.device);
        _scratch = zeros([k, p], dtype: ScalarType.Float64, device: position.device);
        _z1 = zeros([k, p], dtype: ScalarType.Float64, device: position.device);
        _z2 = zeros([k, rank], dtype: position.dtype, device: position.device);
    }

    public int Rank { get; }
    public Tensor Velocity { get; }
    /// <summary>θ̄ [K, P].</summary>
    public Tensor Mean { get; }
    /// <summary>m₂ [K, P], the running mean of θ².</summary>
    public Tensor SecondMoment { get; }
    /// <summary>D̂ [K, Rank, P]: row j of chain k is a deviation θ − θ̄; only the first min(Collected, Rank) rows are filled.</summary>
    public Tensor Deviations { get; }
    /// <summary>Snapshots collected so far (the same for every chain).</summary>
    public long Collected { get; private set; }
    /// <summary>Deviations stored in D̂: min(Collected, Rank).</summary>
    public int Stored => (int)Math.Min(Collected, Rank);

    // The draw buffers (_z1, _z2, _scratch) are refilled before every read.
    public override void Save(StateWriter writer)
    {
        base.Save(writer);
        writer.Tensor("velocity", Velocity);
        writer.Tensor("mean", Mean);
        writer.Tensor("second_moment", SecondMoment);
        writer.Tensor("deviations", Deviations);
        writer.Long("collected", Collected);
    }

    public override void Load(StateReader reader)
    {
        base.Load(reader);
        reader.Tensor("velocity", Velocity);
        reader.Tensor("mean", Mean);
        reader.Tensor("second_moment", SecondMoment);
        reader.Tensor("deviations", Deviations);
        Collected = reader.Long("collected");
    }

    /// <summary>Adds θ [K, P] as a snapshot: θ̄ ← θ̄ + (θ − θ̄)/n, m₂ ← m₂ + (θ² − m₂)/n, then D̂ slot ← θ − θ̄ (new θ̄).</summary>
    public void Collect(Tensor position)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        double n = Collected + 1;
        _scratch.copy_(position);
        Mean.mul_(HeldScalars.Of((n - 1) / n)).add_(_scratch, alpha: HeldScalars.Of(1 / n));
        SecondMoment.mul_(HeldScalars.Of((n - 1) / n)).addcmul_(_scratch, _scratch, value: HeldScalars.Of(1 / n));
        Deviations.select(1, (int)((n - 1) % Rank)).copy_(_scratch.sub_(Mean));
        Collected++;
    }

    /// <summary>Σ_diag = max(m₂ − θ̄², 1e−30) [K, P], float64, owned by the caller.</summary>
    public Tensor DiagonalVariance()
    {
        using var _ = no_grad();
        return SecondMoment.addcmul(Mean, Mean, value: HeldScalars.Of(-1)).clamp_min_(HeldScalars.Of(Swag.MinVariance));
    }

    internal Tensor Sample(IReadOnlyList<Generator> generators)
    {
        if (Collected == 0)
            throw new InvalidOperationException("swag: no snapshot collected yet, so there is no SWAG Gaussian to draw from; " +
                "Draw comes after the fitting steps (collecting starts at start·TotalSteps)");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (int k = 0; k < generators.Count; k++)
        {
            _z1[k].normal_(0, 1, generators[k]);
            _z2[k].normal_(0, 1, generators[k]);
        }
        int stored = Stored;
        // METHODS: SWAG. θ̄ + Σ_diag^{1/2} z₁/√2 + D̂ z₂/√(2(K−1)); with one snapshot D̂ is zero.
        var draw = DiagonalVariance().sqrt_().mul_(_z1).mul_(HeldScalars.Of(1 / Math.Sqrt(2))).add_(Mean, HeldScalars.One);
        if (stored > 1)
        {
            var lowRank = _z2.narrow(1, 0, stored).unsqueeze(1).bmm(Deviations.narrow(1, 0, stored)).squeeze(1);
            draw.add_(lowRank, alpha: HeldScalars.Of(1 / Math.Sqrt(2.0 * (stored - 1))));
        }
        return draw.to_type(Position.dtype).MoveToOuterDisposeScope();
    }

    public override void Dispose()
    {
        Velocity.Dispose();
        Mean.Dispose();
        SecondMoment.Dispose();
        Deviations.Dispose();
        _scratch.Dispose();
        _z1.Dispose();
        _z2.Dispose();
        base.Dispose();
    }
}
