namespace Workbench.Samplers;

/// <summary>
/// How Gaussian VI starts a piece's raw low-rank factors v_k (q's covariance term (1/r) Σ_k v_k v_kᵀ): entries i.i.d.
/// N(0, sd²) with sd = Scale·sd(μ₀ over the piece)/√r when <paramref name="RelativeToMean"/> (μ₀ = θ₀, the fit's
/// initial mean; sd the unbiased sample sd, per chain), else sd = Scale.
/// </summary>
public sealed record FactorInit(double Scale, bool RelativeToMean)
{
    /// <summary>The paper's reference ELRG code for a Linear weight: 0.5·sd(W₀)/√r.</summary>
    public static FactorInit LinearWeight { get; } = new(0.5, RelativeToMean: true);

    /// <summary>The reference code for a Linear bias: 0.01.</summary>
    public static FactorInit LinearBias { get; } = new(0.01, RelativeToMean: false);

    /// <summary>The reference code for a convolution (its low-rank convolution starts at zero; the stochastic gradient
    /// moves it off zero at the first step).</summary>
    public static FactorInit Zero { get; } = new(0, RelativeToMean: false);
}

/// <summary>
/// One stretch of θ (a parameter segment, in layout order) as Gaussian VI sees it; the pieces of a target cover θ.
/// <paramref name="Block"/>: consecutive pieces with the same number form one block, whose entries the low-rank factors
/// may couple (one block per layer; blocks are independent). <paramref name="Deterministic"/>: a point estimate, as the
/// paper's reference code trains normalisation layers — no variance, no factors, no prior and no KL term; its mean is
/// fitted by the same optimiser on the expected log-likelihood. <paramref name="Fan"/>: the layer's fan for the per-layer
/// prior N(0, 1/(precision·fan)) (<see cref="Tempering.PriorPrecision"/>; 0 when it has none). <paramref name="FactorInit"/>:
/// how its factors start; null takes the method's init_std. Every piece of one block must agree in Deterministic and Fan.
/// </summary>
public sealed record VariationalPiece(long Count, int Block, bool Deterministic = false, long Fan = 0, FactorInit? FactorInit = null)
{
    /// <summary>One variational piece per block, with no fan and the method's init_std (targets that say no more).</summary>
    public static IReadOnlyList<VariationalPiece> OnePerBlock(IReadOnlyList<long> blocks) =>
        blocks.Select((size, b) => new VariationalPiece(size, b)).ToList();
}

/// <summary>
/// The blocks of θ for the KL term: sizes in order and each block's prior sd; NaN marks a deterministic block (not
/// part of q: no KL term, zero KL gradient).
/// </summary>
public sealed record KlBlocks(long[] Sizes, double[] PriorStd)
{
    public static KlBlocks Uniform(IReadOnlyList<long> sizes, double priorStd) => new(sizes.ToArray(), sizes.Select(_ => priorStd).ToArray());

    public bool IsDeterministic(int block) => double.IsNaN(PriorStd[block]);

    /// <summary>The blocks of <paramref name="pieces"/>: consecutive pieces sharing a block number, the prior sd from
    /// <paramref name="tempering"/> and the block's fan; throws when a block's pieces disagree.</summary>
    public static KlBlocks From(IReadOnlyList<VariationalPiece> pieces, Tempering tempering)
    {
        var sizes = new List<long>();
        var priors = new List<double>();
        VariationalPiece? first = null;
        for (int i = 0; i < pieces.Count; i++)
        {
            var piece = pieces[i];
            if (first is not null && piece.Block == first.Block)
            {
                if (piece.Deterministic != first.Deterministic || piece.Fan != first.Fan)
                    throw new ArgumentException($"block {piece.Block}: its pieces disagree in being deterministic or in their fan ({first} vs {piece})");
                sizes[^1] += piece.Count;
                continue;
            }
            first = piece;
            sizes.Add(piece.Count);
            priors.Add(piece.Deterministic ? double.NaN : tempering.PriorStdFor(piece.Fan));
        }
        return new KlBlocks(sizes.ToArray(), priors.ToArray());
    }
}
