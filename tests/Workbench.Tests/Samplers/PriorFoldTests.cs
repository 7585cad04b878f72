using Workbench.Samplers;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

public class PriorFoldTests
{
    [Theory]
    [InlineData(1, 7L)]           // the scalar tail alone
    [InlineData(3, 150_001L)]     // several chains, several 65,536-entry chunks per row, a tail not a multiple of 8
    public void Prior_fold_equals_the_fold_and_norms_written_with_torch_ops(int chains, long p)
    {
        // Reference in float64 from the same float32 inputs. The kernel's float32 elementwise fold rounds once per entry
        // (relative 2^-24 ≈ 6e-8) and its sums are float32 over ≤ 64 vectors before float64 totals (relative ≲ 64·2^-24 ≈
        // 4e-6), so 1e-6 on g and 2e-5 on the sums of squares hold for a correct kernel; a wrong λ or a missed entry fails.
        using var g = new Generator(11);
        using var gradient = randn([chains, p], generator: g);
        using var position = randn([chains, p], generator: g);
        const double lambda = 0.37;
        using var expected = gradient.to_type(ScalarType.Float64) - position.to_type(ScalarType.Float64) * HeldScalars.Of(lambda);
        var expectedGradientSquares = expected.pow(HeldScalars.Two).sum(1).data<double>().ToArray();
        var expectedPositionSquares = position.to_type(ScalarType.Float64).pow(HeldScalars.Two).sum(1).data<double>().ToArray();

        Assert.True(PriorFold.Applies(gradient, position));
        var (gradientSquares, positionSquares) = PriorFold.Apply(gradient, position, lambda);
        Assert.True(gradient.to_type(ScalarType.Float64).allclose(expected, rtol: 1e-6, atol: 1e-6), "g − λθ in place");
        for (int k = 0; k < chains; k++)
        {
            Assert.True(Math.Abs(gradientSquares[k] - expectedGradientSquares[k]) < 2e-5 * expectedGradientSquares[k], $"chain {k}: ‖g‖² {gradientSquares[k]} vs {expectedGradientSquares[k]}");
            Assert.True(Math.Abs(positionSquares[k] - expectedPositionSquares[k]) < 2e-5 * expectedPositionSquares[k], $"chain {k}: ‖θ‖² {positionSquares[k]} vs {expectedPositionSquares[k]}");
        }
    }

    [Fact]
    public void Log_prior_from_squares_equals_the_log_prior_of_the_position()
    {
        // Both compute −½‖θ‖²/σ² − (P/2) ln(2πσ²) in float64 from the same sums: equal to rounding (1e-12 relative).
        var tempering = new Tempering(1000, 10, 1.0, 0.8);
        using var position = randn([2, 50], dtype: ScalarType.Float64, generator: new Generator(3));
        var direct = tempering.LogPrior(position);
        var squares = position.pow(HeldScalars.Two).sum(1).data<double>().ToArray();
        var fromSquares = tempering.LogPriorFromSquares(squares, 50);
        for (int k = 0; k < 2; k++) Assert.True(Math.Abs(direct[k] - fromSquares[k]) < 1e-12 * Math.Abs(direct[k]));
    }
}
