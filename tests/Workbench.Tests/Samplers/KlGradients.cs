using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

/// <summary>The check the KL tests share: each gradient against its reference, within a tolerance relative to the
/// reference's largest entry.</summary>
internal static class KlGradients
{
    /// <param name="pairs">(name, computed, reference) per gradient.</param>
    public static void AssertMatch(IEnumerable<(string Name, Tensor Mine, Tensor Reference)> pairs, double relativeTolerance, string against = "the reference")
    {
        foreach (var (name, mine, reference) in pairs)
        {
            double scale = reference.abs().max().to_type(ScalarType.Float64).item<double>();
            double error = (mine - reference).abs().max().to_type(ScalarType.Float64).item<double>();
            Assert.True(error < relativeTolerance * scale, $"∂KL/∂{name}: max error {error} against {against} (scale {scale})");
        }
    }
}
