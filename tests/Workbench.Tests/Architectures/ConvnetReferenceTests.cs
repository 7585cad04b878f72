using TorchSharp;
using Workbench.Architectures;
using static TorchSharp.torch;

namespace Workbench.Tests.Architectures;

/// <summary>
/// The standard convnets against a plain single-network forward pass written here from their definitions (PAPER 1.3 for
/// the ResNets: 3×3 stem at stride 1, basic blocks with stride 2 where a stage starts, option-B 1×1 shortcuts, GroupNorm(1, C)
/// everywhere, global average pooling, Linear head), reading the weights out of θ by segment name. Parameter counts cannot
/// catch a wrong stride or padding; this does: any difference in the layer arithmetic changes the logits.
/// </summary>
public class ConvnetReferenceTests
{
    private static Tensor W(INetwork net, Tensor theta, string name)
    {
        var s = net.Layout[name];
        return theta.narrow(0, s.Offset, s.Count).view(s.Shape);
    }

    private static Tensor Norm(INetwork net, Tensor theta, string name, Tensor x) =>
        nn.functional.group_norm(x, 1, W(net, theta, $"{name}.weight"), W(net, theta, $"{name}.bias"), 1e-5);

    private static Tensor Conv(INetwork net, Tensor theta, string name, Tensor x, long stride, long padding) =>
        nn.functional.conv2d(x, W(net, theta, $"{name}.weight"), strides: [stride, stride], padding: [padding, padding]);

    private static Tensor Head(INetwork net, Tensor theta, Tensor h) =>
        nn.functional.linear(h.mean([2, 3]), W(net, theta, "head.weight"), W(net, theta, "head.bias"));

    private static Tensor ResNetReference(ResNet net, Tensor theta, Tensor x)
    {
        var h = nn.functional.relu(Norm(net, theta, "stem_gn", Conv(net, theta, "stem", x, stride: 1, padding: 1)));
        Assert.Equal(x.shape[2], h.shape[2]); // the stem keeps the image size
        for (int s = 1; s <= 3; s++)
            for (int b = 1; b <= net.Spec.BlocksPerStage; b++)
            {
                string block = $"s{s}b{b}";
                long stride = s > 1 && b == 1 ? 2 : 1;
                var inner = nn.functional.relu(Norm(net, theta, $"{block}_gn1", Conv(net, theta, $"{block}_conv1", h, stride, 1)));
                inner = Norm(net, theta, $"{block}_gn2", Conv(net, theta, $"{block}_conv2", inner, 1, 1));
                bool projected = net.Layout.Segments.Any(seg => seg.Name == $"{block}_skip.weight");
                var shortcut = projected ? Norm(net, theta, $"{block}_skipgn", Conv(net, theta, $"{block}_skip", h, stride, 0)) : h;
                h = nn.functional.relu(inner.add(shortcut, HeldScalars.One));
            }
        Assert.Equal((x.shape[2] + 3) / 4, h.shape[2]); // two stride-2 stages
        return Head(net, theta, h);
    }

    private static Tensor CnnReference(Cnn net, Tensor theta, Tensor x)
    {
        var h = x;
        int convs = net.Layout.Segments.Count(seg => seg.Name.StartsWith("conv", StringComparison.Ordinal));
        for (int c = 1; c <= convs; c++)
            h = nn.functional.relu(Norm(net, theta, $"gn{c}", Conv(net, theta, $"conv{c}", h, stride: c % 2 == 1 ? 1 : 2, padding: 1)));
        return Head(net, theta, h);
    }

    [Theory]
    [InlineData("resnet8", 32)]
    [InlineData("resnet20", 16)]
    [InlineData("cnn", 32)]
    [InlineData("cnn", 28)]
    public void Standard_convnet_computes_its_reference_forward_pass(string model, int side)
    {
        using var net = ModelCatalog.Create(new ModelOptions(model, InputShape: [3, side, side]));
        using var g = new Generator(21);
        using var theta = net.InitialPosition(g);
        // Norm affines start at 1 and 0; move them so that a misplaced γ or β shows.
        using (no_grad()) theta.add_(randn(theta.shape, generator: g).mul(HeldScalars.Of(0.1)), HeldScalars.One);
        using var x = randn([3, 3, side, side], generator: g);
        using var expected = net is ResNet r ? ResNetReference(r, theta, x) : CnnReference((Cnn)net, theta, x);
        using var actual = net.Forward(theta.unsqueeze(0), x.unsqueeze(0));
        Assert.Equal([1L, 3, 10], actual.shape);
        Assert.True(actual.squeeze(0).allclose(expected, rtol: 1e-4, atol: 1e-5),
            $"{model}: max |Δ| = {(actual.squeeze(0) - expected).abs().max().item<float>()}");
    }
}
