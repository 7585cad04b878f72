namespace Workbench.Studies.Benchmarks;

/// <summary>
/// Floating-point operations of one gradient step of an MLP, counted from its matrix products only (LayerNorm,
/// activations, the loss and the update are elementwise and left out): a product of [B, in] by [in, out] is 2·B·in·out.
/// Forward: one per layer. Backward: the weight gradient of every layer, and the gradient of the layer's input for
/// every layer but the first (nothing needs ∂/∂x of the data).
/// </summary>
public static class StepFlops
{
    /// <summary>FLOPs of forward + backward for <paramref name="batch"/> examples through the layer widths
    /// [inputs, hidden…, outputs], one chain.</summary>
    public static double Mlp(int batch, IReadOnlyList<int> widths)
    {
        if (batch < 1) throw new ArgumentException($"batch must be at least 1, got {batch}");
        if (widths.Count < 2 || widths.Any(w => w < 1)) throw new ArgumentException($"an MLP needs ≥ 2 positive widths, got [{string.Join(",", widths)}]");
        double total = 0;
        for (int l = 0; l + 1 < widths.Count; l++)
        {
            double product = 2.0 * batch * widths[l] * widths[l + 1];
            total += product                   // forward
                + product                      // weight gradient
                + (l > 0 ? product : 0);       // input gradient
        }
        return total;
    }

    /// <summary>FLOPs of one [n, n] × [n, n] matrix product.</summary>
    public static double SquareMatmul(int n) => 2.0 * n * n * n;
}
