using TorchSharp;
using Workbench.Architectures;
using static TorchSharp.torch;

namespace Workbench.Studies.Sampling;

/// <summary>Metrics of one draw and of the running Bayesian model average, per chain, on one split.</summary>
public sealed record DrawMetrics(double Nll, double Accuracy, double Rmse, double BmaNll, double BmaAccuracy, double BmaRmse)
{
    /// <summary>Classification only (NaN otherwise): Brier score and ECE (15 bins) of the draw and of the running BMA, MCE of the BMA.</summary>
    public double Brier { get; init; } = double.NaN;
    public double Ece { get; init; } = double.NaN;
    public double BmaBrier { get; init; } = double.NaN;
    public double BmaEce { get; init; } = double.NaN;
    public double BmaMce { get; init; } = double.NaN;
}

/// <summary>
/// Evaluates draws on a fixed split and keeps, per chain, the running Bayesian model average
/// p̄(y|x) = (1/S) Σ_s p(y|x, θ_s) as a log-sum-exp of per-draw log-probabilities (METHODS: Predictive metrics).
/// Classification keeps log p̄ over classes; regression keeps the Gaussian mixture density of the observed y and
/// the running mean prediction.
/// </summary>
public sealed class PredictiveEvaluator : IDisposable
{
    private readonly INetwork _network;
    private readonly Tensor _x, _y;
    private readonly bool _classification;
    private readonly double _noiseStd;
    private readonly int? _chunk;
    private Tensor? _logSum;     // classification: [K, N, C] log Σ_s p_s; regression: [K, N] log Σ_s N(y; f_s, s²)
    private Tensor? _meanSum;    // regression: [K, N] Σ_s f_s
    private int _draws;

    public PredictiveEvaluator(INetwork network, Tensor x, Tensor y, bool classification, double noiseStd, int? chunk = null)
    {
        _network = network; _x = x; _y = y; _classification = classification; _noiseStd = noiseStd; _chunk = chunk;
    }

    public long Examples => _x.shape[0];

    /// <summary>How many leading examples <see cref="LastPointValues"/> reports (0: none).</summary>
    public int TrackedPoints { get; init; }

    /// <summary>
    /// Per chain, for the first <see cref="TrackedPoints"/> examples, the last added draw's probability of the true
    /// class (classification) or log-density of the observed y (regression): the function-space view of a draw.
    /// </summary>
    public double[][] LastPointValues { get; private set; } = [];

    /// <summary>Adds the draws θ [K, P] to the running averages and returns per-chain metrics.</summary>
    public DrawMetrics[] Add(Tensor theta)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long k = theta.shape[0];
        int chunk = _chunk ?? _network.EvaluationChunk(k);
        var outputs = new List<Tensor>();
        for (long start = 0; start < Examples; start += chunk)
        {
            long size = Math.Min(chunk, Examples - start);
            var xs = _x.narrow(0, start, size).unsqueeze(0).expand([k, .. _x.shape.Select((d, i) => i == 0 ? size : d)]);
            outputs.Add(_network.Forward(theta, xs));
        }
        var f = cat(outputs, 1); // [K, N, outputs]
        int points = (int)Math.Min(TrackedPoints, Examples);
        _draws++;
        // Scalars held in locals until the end: TorchSharp's Scalar has a finalizer and its native calls do not keep
        // an implicit one alive, so under GC pressure (large arrays below) it could be freed mid-call.
        using var logDraws = Math.Log(_draws).ToScalar();
        using var draws = ((double)_draws).ToScalar();
        var metrics = new DrawMetrics[k];
        if (_classification)
        {
            var logp = nn.functional.log_softmax(f, 2);
            var y = _y.unsqueeze(0).expand(k, -1).unsqueeze(2);
            Accumulate(ref _logSum, logp);
            var bma = _logSum!.sub(logDraws);
            var nll = logp.gather(2, y).squeeze(2).mean([1]).neg().to_type(ScalarType.Float64).data<double>().ToArray();
            var acc = logp.argmax(2).eq(y.squeeze(2)).to_type(ScalarType.Float64).mean([1]).data<double>().ToArray();
            var bmaNll = bma.gather(2, y).squeeze(2).mean([1]).neg().to_type(ScalarType.Float64).data<double>().ToArray();
            var bmaAcc = bma.argmax(2).eq(y.squeeze(2)).to_type(ScalarType.Float64).mean([1]).data<double>().ToArray();
            if (points > 0) LastPointValues = Rows(logp.narrow(1, 0, points).gather(2, y.narrow(1, 0, points)).squeeze(2).exp(), k);
            var labels = _y.cpu();
            // A chain whose draw is not finite (it diverged) gets NaN metrics rather than an error for the others.
            var finite = logp.isfinite().all(2).all(1).logical_and(bma.isfinite().all(2).all(1)).cpu().data<bool>().ToArray();
            for (int c = 0; c < k; c++)
            {
                metrics[c] = new DrawMetrics(nll[c], acc[c], double.NaN, bmaNll[c], bmaAcc[c], double.NaN);
                if (!finite[c]) continue;
                var draw = logp[c].cpu();
                var average = bma[c].cpu();
                var calibration = Metrics.Calibration.Compute(draw, labels);
                var bmaCalibration = Metrics.Calibration.Compute(average, labels);
                metrics[c] = metrics[c] with
                {
                    Brier = Metrics.Brier.Compute(draw, labels), Ece = calibration.Ece,
                    BmaBrier = Metrics.Brier.Compute(average, labels), BmaEce = bmaCalibration.Ece, BmaMce = bmaCalibration.Mce,
                };
            }
        }
        else
        {
            var pred = f.squeeze(2);
            var y = _y.unsqueeze(0).expand(k, -1);
            var residual = pred - y;
            using var precisionHalf = (-0.5 / (_noiseStd * _noiseStd)).ToScalar();
            using var constant = (-Math.Log(_noiseStd * Math.Sqrt(2 * Math.PI))).ToScalar();
            var logp = residual.pow(HeldScalars.Two).mul(precisionHalf).add(constant, HeldScalars.One);
            Accumulate(ref _logSum, logp);
            if (points > 0) LastPointValues = Rows(logp.narrow(1, 0, points), k);
            if (_meanSum is null) { _meanSum = pred.detach().clone(); _meanSum.DetachFromDisposeScope(); }
            else _meanSum.add_(pred, HeldScalars.One);
            var nll = logp.mean([1]).neg().to_type(ScalarType.Float64).data<double>().ToArray();
            var rmse = residual.pow(HeldScalars.Two).mean([1]).sqrt().to_type(ScalarType.Float64).data<double>().ToArray();
            var bmaNll = _logSum!.sub(logDraws).mean([1]).neg().to_type(ScalarType.Float64).data<double>().ToArray();
            var bmaRmse = _meanSum.div(draws).sub(y).pow(HeldScalars.Two).mean([1]).sqrt().to_type(ScalarType.Float64).data<double>().ToArray();
            for (int c = 0; c < k; c++) metrics[c] = new DrawMetrics(nll[c], double.NaN, rmse[c], bmaNll[c], double.NaN, bmaRmse[c]);
        }
        return metrics;
    }

    /// <summary>log p̄(y|x) of each chain's running BMA so far, [K, N, C] (classification; null before the first draw).</summary>
    public Tensor? LogMeanProbabilities()
    {
        if (_logSum is null || !_classification) return null;
        using var logDraws = Math.Log(_draws).ToScalar(); // held: see Add
        var result = _logSum.sub(logDraws);
        GC.KeepAlive(logDraws);
        return result;
    }

    public Tensor Labels => _y;

    private static double[][] Rows(Tensor values, long chains)
    {
        var flat = values.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        int width = (int)(flat.Length / chains);
        return Enumerable.Range(0, (int)chains).Select(c => flat.AsSpan(c * width, width).ToArray()).ToArray();
    }

    /// <summary>Entries <c>{name}.*</c>: the running BMA sums and the number of evaluated draws, so an evaluator
    /// restored by <see cref="Load"/> returns the metrics this one would have returned next.</summary>
    public void Save(Samplers.StateWriter writer, string name)
    {
        writer.Long($"{name}.draws", _draws);
        if (_logSum is not null) writer.Tensor($"{name}.log_sum", _logSum);
        if (_meanSum is not null) writer.Tensor($"{name}.mean_sum", _meanSum);
    }

    /// <summary>Restores what <see cref="Save"/> wrote (the evaluator must be fresh or its sums are replaced).</summary>
    public void Load(Samplers.StateReader reader, string name)
    {
        _logSum?.Dispose();
        _meanSum?.Dispose();
        _logSum = reader.Has($"{name}.log_sum") ? reader.NewTensor($"{name}.log_sum", _x.device) : null;
        _meanSum = reader.Has($"{name}.mean_sum") ? reader.NewTensor($"{name}.mean_sum", _x.device) : null;
        _draws = checked((int)reader.Long($"{name}.draws"));
    }

    private static void Accumulate(ref Tensor? logSum, Tensor logp)
    {
        if (logSum is null)
        {
            logSum = logp.detach().clone();
            logSum.DetachFromDisposeScope();
            return;
        }
        var updated = logaddexp(logSum, logp);
        updated.DetachFromDisposeScope();
        logSum.Dispose();
        logSum = updated;
    }

    public void Dispose()
    {
        _logSum?.Dispose();
        _meanSum?.Dispose();
    }
}
