namespace Workbench.Samplers; internal static class Placeholder {}
