namespace Workbench.Architectures;
public static class Smoke { public static float OnesSum() { using var t = TorchSharp.torch.ones(2); using var s = t.sum(); return s.item<float>(); } }
