namespace Workbench.Tests;
public class SmokeTests { [Fact] public void Torch_loads() => Assert.Equal(2f, Workbench.Architectures.Smoke.OnesSum()); }
