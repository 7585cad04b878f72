using System.Runtime.InteropServices;

namespace Workbench.Studies;

/// <summary>
/// Bit-for-bit reproducible CPU arithmetic from one process to the next. libtorch's CPU matrix products go through
/// Intel MKL, whose kernels may split a product differently depending on how its operands happen to be aligned in
/// memory: two identical one-thread runs then differ in the last bit of an evaluation (seen in eval.parquet's nll).
/// MKL's conditional numerical reproducibility mode <c>MKL_CBWR=AUTO,STRICT</c> removes that (same kernels, no
/// measurable cost on the workbench's runs). MKL reads the variable once, when first used, so <see cref="Pin"/> must
/// run before any torch computation: the `workbench` entry point and the test assembly call it first.
/// </summary>
public static class Reproducibility
{
    public const string Variable = "MKL_CBWR";
    public const string Mode = "AUTO,STRICT";

    /// <summary>Sets MKL_CBWR=AUTO,STRICT in the native environment unless the user set MKL_CBWR.</summary>
    public static void Pin()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not null) return;
        // .NET's Environment.SetEnvironmentVariable does not reach the C library's environment on Unix, which MKL reads.
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(Variable, Mode);
        else if (SetEnv(Variable, Mode, 0) != 0) return; // best effort: an unreproducible last bit, never a failed run
        else Environment.SetEnvironmentVariable(Variable, Mode);
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in this project; one call at start-up.
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
#pragma warning restore SYSLIB1054
}
