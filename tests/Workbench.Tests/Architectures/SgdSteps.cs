using TorchSharp;
using Workbench.Architectures;
using static TorchSharp.torch;

namespace Workbench.Tests.Architectures;

/// <summary>Plain gradient descent on one chain's mean cross-entropy, for "the network can learn" checks.</summary>
internal static class SgdSteps
{
    /// <summary>Runs <paramref name="steps"/> steps from a fresh initial θ (seed <paramref name="seed"/>) on x [1, B, …]
    /// and labels y [B]; returns the loss before the first step and at the last.</summary>
    public static (float First, float Last) Run(INetwork net, ulong seed, Tensor x, Tensor y, double lr, int steps = 15)
    {
        using var g = new Generator(seed);
        using var theta = net.InitialPosition(g).unsqueeze(0).requires_grad_(true);
        float first = 0, last = 0;
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var loss = nn.functional.cross_entropy(net.Forward(theta, x).squeeze(0), y);
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
            var grad = autograd.grad([loss], [theta])[0];
            using (no_grad()) theta.sub_(grad.mul(HeldScalars.Of(lr)));
        }
        return (first, last);
    }
}
