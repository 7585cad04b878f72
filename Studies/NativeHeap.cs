using System.Runtime.InteropServices;

namespace Workbench.Studies;

/// <summary>
/// Hands memory the C library's allocator holds but no longer uses back to the operating system. glibc raises its
/// mmap threshold after large blocks are freed (up to 32 MiB), so later activations of a few to tens of MiB come
/// from the per-thread heaps, and what they free stays there, fragmented: the metanetwork study on the 2,000-network MLP
/// zoo grew from 1.5 GB to 9.4 GB over eight epochs of one fit that never held more than about 1 GB of live tensors
/// (README, "Metanetworks"). <see cref="Trim"/> (malloc_trim) releases those free pages; a no-op where there is no glibc.
/// </summary>
public static class NativeHeap
{
    /// <summary>M_MMAP_THRESHOLD of glibc's mallopt, and the most its dynamic threshold rises to on 64-bit systems.</summary>
    private const int MmapThreshold = -3;
    public const int DynamicThresholdMax = 32 << 20;

    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Releases the allocator's free memory; returns whether anything was released (false without glibc).</summary>
    public static bool Trim() => Call(() => MallocTrim(0));

    /// <summary>
    /// Blocks of at least <paramref name="bytes"/> are mapped on their own and returned to the operating system when
    /// freed (glibc's mmap threshold fixed at that size). DeepSets' batches allocate and free activations of 16 MiB
    /// every step, which a risen threshold puts on the heap, fragmented: on the 2,000-network MLP zoo, 8 epochs of
    /// DeepSets peaked at 2.0 GB with the default and 1.09 GB with 8 MiB, 38 s against 51 s. Call it again with
    /// <see cref="DynamicThresholdMax"/> afterwards: the threshold the default reaches once large blocks were freed.
    /// Returns whether it took effect (false without glibc).
    /// </summary>
    public static bool MapBlocksAbove(int bytes) => Call(() => MallOpt(MmapThreshold, bytes));

    /// <summary>A glibc call that returns 1 on success; false, and never tried again, where the C library lacks it (musl).</summary>
    private static bool Call(Func<int> glibc)
    {
        if (_unavailable) return false;
        try
        {
            return glibc() == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return false;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in this project; a few calls per epoch.
    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallOpt(int parameter, int value);
#pragma warning restore SYSLIB1054
}
