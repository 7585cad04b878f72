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

    /// <summary>libgomp's spin count before an idle OpenMP worker sleeps (see <see cref="Pin"/>).</summary>
    public const string SpinVariable = "GOMP_SPINCOUNT";

    /// <summary>
    /// Sets MKL_CBWR=AUTO,STRICT in the native environment unless the user set MKL_CBWR, and GOMP_SPINCOUNT=0 unless the
    /// user set it or OMP_WAIT_POLICY. libtorch's OpenMP workers otherwise spin for up to 300,000 iterations after every
    /// parallel region; two Workbench processes on one 2-core machine then spend their cores spinning against each other
    /// (measured: together 0.28 of one process's SGLD steps/s with the default spin, 1.25 with 0 — `workbench bench
    /// --only shared-machine`), and the workbench's own parallel kernels (noise, Adam) wait behind the spinning workers.
    /// </summary>
    public static void Pin()
    {
        SetIfUnset(Variable, Mode);
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null) SetIfUnset(SpinVariable, "0");
    }

    private static void SetIfUnset(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is not null) return;
        // .NET's Environment.SetEnvironmentVariable does not reach the C library's environment on Unix, which MKL and
        // libgomp read.
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(name, value);
        else if (SetEnv(name, value, 0) != 0) return; // best effort: a slower or unreproducible run, never a failed one
        else Environment.SetEnvironmentVariable(name, value);
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in this project; one call at start-up.
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
#pragma warning restore SYSLIB1054
}
