using System.Runtime.CompilerServices;

namespace Workbench.Tests;

internal static class ReproducibleMath
{
    /// <summary>As the `workbench` entry point does, before any test touches torch (see <see cref="Workbench.Studies.Reproducibility"/>).</summary>
    [ModuleInitializer]
    internal static void Pin() => Workbench.Studies.Reproducibility.Pin();
}
