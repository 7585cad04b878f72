using Workbench.Architectures;
using Workbench.Studies.ModeConnectivity;
using static TorchSharp.torch;

namespace Workbench.Tests.Studies;

public sealed class LossBarrierTests
{
    [Fact]
    public void Grid_has_exact_ends_and_midpoint()
    {
        var grid = LossBarrier.Grid(25);
        Assert.Equal(25, grid.Length);
        Assert.Equal(0.0, grid[0]);
        Assert.Equal(0.5, grid[12]);
        Assert.Equal(1.0, grid[^1]);
    }

    [Fact]
    public void Barriers_of_hand_made_curves()
    {
        double[] lambdas = [0, 0.25, 0.5, 0.75, 1];
        // A bump: ends 1 and 3, chord at ½ is 2; the curve peaks at λ = ¾ (4.0 against the chord's 2.5).
        double[] bump = [1, 2.5, 3, 4, 3];
        Assert.Equal(1.0, LossBarrier.Midpoint(lambdas, bump), 12);
        Assert.Equal(1.5, LossBarrier.Entezari(lambdas, bump), 12);
        // Below the chord everywhere: the midpoint barrier is negative, Entezari's is 0 (at the ends).
        double[] dip = [1, 0.5, 0.2, 0.5, 1];
        Assert.Equal(-0.8, LossBarrier.Midpoint(lambdas, dip), 12);
        Assert.Equal(0.0, LossBarrier.Entezari(lambdas, dip), 12);
        Assert.Throws<ArgumentException>(() => LossBarrier.Midpoint([0, 0.4, 1], [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => LossBarrier.Entezari([0, 0.5], [1, 2]));
    }

    [Fact]
    public void Entezari_barrier_is_at_least_the_midpoint_barrier_on_random_curves()
    {
        var random = new Random(7);
        var lambdas = LossBarrier.Grid(25);
        for (int trial = 0; trial < 200; trial++)
        {
            var losses = lambdas.Select(_ => random.NextDouble() * 3).ToArray();
            Assert.True(LossBarrier.Entezari(lambdas, losses) >= LossBarrier.Midpoint(lambdas, losses) - 1e-12);
        }
    }

    [Fact]
    public void A_network_interpolated_with_itself_has_a_flat_path_and_zero_barrier()
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp", Variant.WAsym, Inputs: 12, Outputs: 3, Widths: [16]));
        using var g = new Generator(1);
        var theta = network.InitialPosition(g);
        var x = randn([50, 12], generator: g);
        var y = randint(0, 3, [50], generator: g);
        var path = InterpolationPath.Evaluate(network, theta, theta, LossBarrier.Grid(25), x, y, chunk: 16);
        Assert.All(path, p => Assert.Equal(path[0].Loss, p.Loss, 5));
        Assert.Equal(0.0, LossBarrier.Midpoint(path.Select(p => p.Lambda).ToList(), path.Select(p => p.Loss).ToList()), 5);
        // The ends are the networks themselves: the same loss as a plain forward pass.
        var logp = nn.functional.log_softmax(network.Forward(theta.unsqueeze(0), x.unsqueeze(0)), 2);
        double expected = -logp.gather(2, y.view(1, -1, 1)).mean().item<float>();
        Assert.Equal(expected, path[0].Loss, 5);
    }
}
