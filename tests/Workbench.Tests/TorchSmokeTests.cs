using static TorchSharp.torch;

namespace Workbench.Tests;

public class TorchSmokeTests
{
    /// <summary>Fails loudly when TorchSharp's native library cannot load (e.g. the Debian 12 loader fix is missing).</summary>
    [Fact]
    public void Torch_native_library_loads_and_computes()
    {
        using var t = ones(2);
        using var s = t.sum();
        Assert.Equal(2f, s.item<float>());
    }
}
