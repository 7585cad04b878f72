using TorchSharp;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Data;
using Workbench.Studies.Sampling;
using static TorchSharp.torch;

namespace Workbench.Studies.ModeConnectivity;

/// <summary>How the learning rate moves over training: constant, or cosine decay to 0 over all steps.</summary>
public enum LearningRateSchedule { None, Cosine }

/// <summary>Point-estimate training settings (PAPER 2.1: AdamW lr 1e-3, weight decay 0.03, batch 64, 25 epochs).
/// <paramref name="Augment"/>: every training batch randomly mirrored and cropped (<see cref="ImageAugmentation"/>); images only.
/// <paramref name="LabelSmoothing"/> ε: cross-entropy against the target (1 − ε)·onehot(y) + ε/C (PAPER 2.3's zoo draws ε ~ U(0, 0.2)).</summary>
public sealed record TrainingOptions(
    int Epochs = 25,
    int BatchSize = 64,
    double LearningRate = 1e-3,
    double WeightDecay = 0.03,
    LearningRateSchedule Schedule = LearningRateSchedule.None,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    bool Augment = false,
    double LabelSmoothing = 0)
{
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1, got {Epochs}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {BatchSize}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"learning rate must be positive, got {LearningRate}");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentException($"weight decay must be ≥ 0, got {WeightDecay}");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"Adam betas must lie in [0, 1), got {Beta1} and {Beta2}");
        if (!(Epsilon > 0)) throw new ArgumentException($"Adam epsilon must be positive, got {Epsilon}");
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentException($"label smoothing must lie in [0, 1), got {LabelSmoothing}");
    }
}

/// <summary>Trained θ [K, P] and each network's mean minibatch training loss per epoch, [epoch][k].</summary>
public sealed record TrainedNetworks(Tensor Theta, double[][] EpochLoss, IReadOnlyList<ChainSeeds> Seeds) : IDisposable
{
    /// <summary>Networks <paramref name="start"/> … start + count − 1 of these (θ a view of this θ; dispose both).</summary>
    public TrainedNetworks Slice(int start, int count) =>
        new(Theta.narrow(0, start, count), EpochLoss.Select(e => e.Skip(start).Take(count).ToArray()).ToArray(), Seeds.Skip(start).Take(count).ToList());

    public void Dispose() => Theta.Dispose();
}

/// <summary>
/// Trains K networks at once with minibatch AdamW on the mean (label-smoothed) cross-entropy: network k starts from its own init seed
/// and walks the training set in its own order (<see cref="ChainSeeds"/> of the run seed), so it ends where it would
/// alone. Decoupled weight decay (Loshchilov and Hutter): θ ← θ(1 − η·wd) − η·m̂/(√v̂ + ε). θ holds only trainable
/// entries, so the decay never touches W-Asym's fixed entries or FiGLU's matrices (they live in the network's buffers).
/// </summary>
public static class NetworkTrainer
{
    /// <param name="chains">which <see cref="ChainSeeds"/> indices of <paramref name="seed"/> to train (one network each).</param>
    public static TrainedNetworks Train(INetwork network, Tensor trainX, Tensor trainY, TrainingOptions options, ulong seed,
        IReadOnlyList<int> chains, Action<int, double[]>? epochDone = null, ProgressTicker? progress = null)
    {
        options.Validate();
        if (chains.Count == 0) throw new ArgumentException("train at least one network");
        long n = trainX.shape[0];
        if (trainY.shape[0] != n) throw new ArgumentException($"{n} inputs but {trainY.shape[0]} labels");
        if (options.BatchSize > n) throw new ArgumentException($"batch size {options.BatchSize} exceeds the training set ({n} examples)");
        if (options.Augment && !ImageAugmentation.Supports(trainX.shape.Skip(1).ToArray()))
            throw new ArgumentException($"augmentation needs images [N, C, H, W]; the training inputs are [{string.Join(", ", trainX.shape)}]");

        var seeds = chains.Select(k => ChainSeeds.For(seed, k)).ToList();
        int k = seeds.Count;
        long stepsPerEpoch = n / options.BatchSize, total = stepsPerEpoch * options.Epochs;
        var sampleShape = trainX.shape.Skip(1).ToArray();

        Tensor theta, m, v;
        theta = InitialPositions(network, seeds);
        m = zeros_like(theta).DetachFromDisposeScope();
        v = zeros_like(theta).DetachFromDisposeScope();
        var epochLoss = new double[options.Epochs][];
        using var stream = new MinibatchStream(n, options.BatchSize, seeds.Select(s => s.DataOrder).ToList());
        // As in sampling runs: network k's augmentation generator comes from its data-order seed.
        var augmentation = options.Augment ? new ImageAugmentation() : null;
        var augment = options.Augment ? ImageAugmentation.GeneratorsFor(seeds.Select(s => s.DataOrder)) : [];
        // TorchSharp hands implicit Scalars to native code without keeping them alive; hold the constant ones (see
        // WeightMatching.Similarity) and the per-step ones below.
        using var beta1 = options.Beta1.ToScalar();
        using var beta2 = options.Beta2.ToScalar();
        using var oneMinusBeta1 = (1 - options.Beta1).ToScalar();
        using var oneMinusBeta2 = (1 - options.Beta2).ToScalar();
        using var epsilon = options.Epsilon.ToScalar();
        long step = 0;
        try
        {
            for (int epoch = 0; epoch < options.Epochs; epoch++)
            {
                var sum = new double[k];
                for (long s = 0; s < stepsPerEpoch; s++, step++)
                {
                    using var scope = NewDisposeScope();
                    var index = stream.Next();                                                            // [K, B]
                    var x = trainX.index_select(0, index.reshape(-1)).view([k, options.BatchSize, .. sampleShape]);
                    if (augmentation is not null) x = augmentation.Apply(x, augment);
                    var y = trainY.index_select(0, index.reshape(-1)).view((long)k, options.BatchSize);
                    // One autograd leaf per segment, gradients accumulated in place (see Theta.Segmented).
                    var leaves = Theta.Segmented(theta.detach(), network.Layout);
                    var logp = nn.functional.log_softmax(network.Forward(leaves, x), 2);
                    var nll = logp.gather(2, y.unsqueeze(2)).squeeze(2).neg();                              // [K, B]
                    // Label smoothing: −Σ_c [(1 − ε)·onehot_c + ε/C]·log p_c = (1 − ε)·NLL + ε·mean_c(−log p_c).
                    if (options.LabelSmoothing > 0)
                        nll = nll.mul(HeldScalars.Of(1 - options.LabelSmoothing)).add(logp.mean([2L]).neg().mul(HeldScalars.Of(options.LabelSmoothing)), HeldScalars.One);
                    var losses = nll.mean([1L]);                                                           // [K]
                    // Σ_k of per-network means: each network's gradient is that of its own mean cross-entropy.
                    losses.sum().backward();
                    var grad = leaves.Gradient();
                    var batchLoss = losses.detach().to_type(ScalarType.Float64).cpu().data<double>().ToArray();
                    for (int i = 0; i < k; i++) sum[i] += batchLoss[i];

                    double rate = Rate(options, step, total);
                    double t = step + 1;
                    using var decay = (1 - rate * options.WeightDecay).ToScalar();
                    using var stepSize = (-rate / (1 - Math.Pow(options.Beta1, t))).ToScalar();
                    using var vCorrection = (1 - Math.Pow(options.Beta2, t)).ToScalar();
                    using (no_grad())
                    {
                        m.mul_(beta1).add_(grad, oneMinusBeta1);
                        v.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
                        var denominator = v.div(vCorrection).sqrt_().add_(epsilon, HeldScalars.One);
                        theta.mul_(decay).addcdiv_(m, denominator, stepSize);
                    }
                    GC.KeepAlive(decay); GC.KeepAlive(stepSize); GC.KeepAlive(vCorrection);
                    progress?.Advance();
                }
                epochLoss[epoch] = sum.Select(total => total / stepsPerEpoch).ToArray();
                epochDone?.Invoke(epoch, epochLoss[epoch]);
            }
        }
        catch
        {
            theta.Dispose();
            throw;
        }
        finally
        {
            m.Dispose();
            v.Dispose();
            foreach (var g in augment) g.Dispose();
        }
        return new TrainedNetworks(theta, epochLoss, seeds);
    }

    /// <summary>θ_0 [K, P]: where <see cref="Train"/> starts each network (its init seed), outside any dispose scope.</summary>
    public static Tensor InitialPositions(INetwork network, IReadOnlyList<ChainSeeds> seeds)
    {
        using var _ = no_grad();
        var initial = seeds.Select(s => { using var g = new Generator(s.Init); return network.InitialPosition(g); }).ToList();
        var theta = stack(initial).DetachFromDisposeScope();
        foreach (var t in initial) t.Dispose();
        return theta;
    }

    /// <summary>The learning rate at 0-based <paramref name="step"/> of <paramref name="total"/>.</summary>
    public static double Rate(TrainingOptions options, long step, long total) => options.Schedule switch
    {
        LearningRateSchedule.None => options.LearningRate,
        LearningRateSchedule.Cosine => options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / Math.Max(1, total))),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Schedule, "unknown schedule"),
    };
}
