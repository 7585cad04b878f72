using Workbench.Architectures;
using Workbench.Studies.ModeConnectivity;
using static TorchSharp.torch;

namespace Workbench.Tests.Studies;

public sealed class NetworkTrainerTests
{
    /// <summary>A learnable toy task: the class is which of 3 input directions a point leans to most.</summary>
    private static (Tensor X, Tensor Y) Toy(int n, ulong seed)
    {
        using var g = new Generator(seed);
        var x = randn([n, 12], generator: g);
        var y = x.narrow(1, 0, 3).argmax(1);
        return (x, y);
    }

    private static INetwork Small(Variant variant = Variant.Standard) =>
        ModelCatalog.Create(new ModelOptions("mlp", variant, Inputs: 12, Outputs: 3, Widths: [16]));

    [Fact]
    public void Training_lowers_the_loss_of_a_small_mlp()
    {
        using var network = Small();
        var (x, y) = Toy(256, 1);
        using var trained = NetworkTrainer.Train(network, x, y, new TrainingOptions(Epochs: 6, BatchSize: 32, LearningRate: 1e-2), seed: 3, chains: [0, 1]);
        for (int k = 0; k < 2; k++)
            Assert.True(trained.EpochLoss[^1][k] < 0.6 * trained.EpochLoss[0][k], $"network {k}: epoch losses {string.Join(", ", trained.EpochLoss.Select(e => e[k]))}");
    }

    [Fact]
    public void Same_seeds_give_identical_networks_and_different_seeds_do_not()
    {
        using var network = Small(Variant.WAsym);
        var (x, y) = Toy(128, 2);
        var options = new TrainingOptions(Epochs: 2, BatchSize: 16);
        using var a = NetworkTrainer.Train(network, x, y, options, seed: 5, chains: [0, 1]);
        using var b = NetworkTrainer.Train(network, x, y, options, seed: 5, chains: [0, 1]);
        using var c = NetworkTrainer.Train(network, x, y, options, seed: 6, chains: [0, 1]);
        Assert.True(a.Theta.equal(b.Theta).all().item<bool>());
        Assert.False(a.Theta.equal(c.Theta).all().item<bool>());
        Assert.False(a.Theta[0].equal(a.Theta[1]).all().item<bool>());
    }

    [Fact]
    public void Networks_trained_together_equal_the_same_networks_trained_one_at_a_time()
    {
        using var network = Small(Variant.SigmaAsym);
        var (x, y) = Toy(128, 4);
        var options = new TrainingOptions(Epochs: 2, BatchSize: 16, WeightDecay: 0.1, Schedule: LearningRateSchedule.Cosine);
        using var together = NetworkTrainer.Train(network, x, y, options, seed: 9, chains: [0, 1, 2]);
        for (int k = 0; k < 3; k++)
        {
            using var alone = NetworkTrainer.Train(network, x, y, options, seed: 9, chains: [k]);
            double gap = (together.Theta[k] - alone.Theta[0]).abs().max().item<float>();
            Assert.True(gap < 1e-4, $"network {k}: max |θ_together − θ_alone| = {gap}");
            Assert.Equal(alone.EpochLoss[^1][0], together.EpochLoss[^1][k], 4);
        }
    }

    [Fact]
    public void Decoupled_weight_decay_subtracts_lr_times_decay_times_theta()
    {
        // One step (16 examples, batch 16): the Adam update does not depend on the decay, so wd = 0.5 and wd = 0 differ
        // by exactly η·wd·θ_0 (AdamW), not by a gradient term as L2 regularisation would.
        using var network = Small();
        var (x, y) = Toy(16, 5);
        var plain = new TrainingOptions(Epochs: 1, BatchSize: 16, LearningRate: 1e-3, WeightDecay: 0);
        using var a = NetworkTrainer.Train(network, x, y, plain, seed: 1, chains: [0]);
        using var b = NetworkTrainer.Train(network, x, y, plain with { WeightDecay = 0.5 }, seed: 1, chains: [0]);
        using var g = new Generator(TestSeeds(1).Init);
        var theta0 = network.InitialPosition(g);
        var expected = a.Theta[0] - theta0 * HeldScalars.Of(1e-3 * 0.5);
        Assert.True((b.Theta[0] - expected).abs().max().item<float>() < 1e-6);
    }

    /// <summary>Tiny images [n, 3, 4, 4]: the class is the brightest channel, so mirrors and shifts keep the label.</summary>
    private static (Tensor X, Tensor Y) ToyImages(int n, ulong seed)
    {
        using var g = new Generator(seed);
        var x = randn([n, 3, 4, 4], generator: g);
        var y = x.mean([2L, 3L]).argmax(1);
        return (x, y);
    }

    [Fact]
    public void Augmented_training_is_reproducible_differs_from_plain_and_does_not_depend_on_the_networks_beside_it()
    {
        using var network = ModelCatalog.Create(new ModelOptions("mlp", Inputs: 48, Outputs: 3, Widths: [16]));
        var (x, y) = ToyImages(96, 6);
        var augmented = new TrainingOptions(Epochs: 2, BatchSize: 16, Augment: true);
        using var a = NetworkTrainer.Train(network, x, y, augmented, seed: 2, chains: [0, 1]);
        using var b = NetworkTrainer.Train(network, x, y, augmented, seed: 2, chains: [0, 1]);
        using var plain = NetworkTrainer.Train(network, x, y, augmented with { Augment = false }, seed: 2, chains: [0, 1]);
        using var alone = NetworkTrainer.Train(network, x, y, augmented, seed: 2, chains: [1]);
        Assert.True(a.Theta.equal(b.Theta).all().item<bool>());
        Assert.False(a.Theta.equal(plain.Theta).all().item<bool>());
        double gap = (a.Theta[1] - alone.Theta[0]).abs().max().item<float>();
        Assert.True(gap < 1e-4, $"max |θ_together − θ_alone| = {gap}: network 1 was augmented differently beside network 0");
    }

    [Fact]
    public void Augmented_training_refuses_feature_data()
    {
        using var network = Small();
        var (x, y) = Toy(32, 1);
        var e = Assert.Throws<ArgumentException>(() => NetworkTrainer.Train(network, x, y, new TrainingOptions(Epochs: 1, BatchSize: 16, Augment: true), seed: 0, chains: [0]));
        Assert.Contains("augmentation needs images", e.Message);
    }

    private static Workbench.Samplers.ChainSeeds TestSeeds(ulong seed) => Workbench.Samplers.ChainSeeds.For(seed, 0);

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.35)]
    public void Label_smoothing_trains_on_the_cross_entropy_against_the_smoothed_target(double epsilon)
    {
        // One step on the whole set: the epoch loss is the loss at θ_0, which must be −Σ_c [(1 − ε)·onehot_c + ε/C]·log p_c.
        using var network = Small();
        var (x, y) = Toy(32, 8);
        using var trained = NetworkTrainer.Train(network, x, y, new TrainingOptions(Epochs: 1, BatchSize: 32, LabelSmoothing: epsilon), seed: 2, chains: [0]);
        using var g = new Generator(TestSeeds(2).Init);
        var theta0 = network.InitialPosition(g);
        var logp = nn.functional.log_softmax(network.Forward(theta0.unsqueeze(0), x.unsqueeze(0)), 2)[0].to_type(ScalarType.Float64);   // [32, 3]
        var target = (nn.functional.one_hot(y, 3).to_type(ScalarType.Float64) * HeldScalars.Of(1 - epsilon)).add(HeldScalars.Of(epsilon / 3), HeldScalars.One);
        double expected = (-(target * logp).sum(1)).mean().item<double>();
        Assert.Equal(expected, trained.EpochLoss[0][0], 5);
        if (epsilon > 0)
        {
            double plain = (-logp.gather(1, y.unsqueeze(1))).mean().item<double>();
            Assert.True(Math.Abs(expected - plain) > 1e-3, "smoothing should change the loss");
        }
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    public void Label_smoothing_outside_zero_to_one_is_refused(double epsilon) =>
        Assert.Throws<ArgumentException>(() => new TrainingOptions(LabelSmoothing: epsilon).Validate());
}
