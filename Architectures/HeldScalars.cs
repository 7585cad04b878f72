using TorchSharp;

namespace Workbench;

/// <summary>
/// TorchSharp <see cref="Scalar"/>s that stay alive while native code reads them. TorchSharp passes a Scalar's native
/// handle to libtorch without keeping the managed object reachable, so a Scalar made implicitly (<c>t.mul(2.0)</c>,
/// <c>a + b</c>, which is <c>a.add(b, 1)</c>) can be finalized — its native memory freed — during the very call that
/// uses it. Every Scalar in Workbench is therefore one of these constants, a <c>using</c> declaration, or
/// <see cref="Of(double)"/>: a Scalar kept in a per-thread ring of the last <see cref="RingSize"/> made on that thread
/// and disposed when the ring comes round. A call uses its Scalars before it returns, and no expression makes
/// thousands of them, so a Scalar is always disposed long after its last use, on the thread that made it, and never by
/// the finalizer. NativeScalarTests fails the build's tests on any Scalar not held this way. Samplers does not depend
/// on Architectures, so it compiles this file into its own assembly (see Samplers.csproj), as do Studies and Cli.
/// </summary>
internal static class HeldScalars
{
    /// <summary>Scalars each thread keeps before disposing the oldest.</summary>
    public const int RingSize = 1024;

    /// <summary>The int 1 TorchSharp's own <c>add(Tensor)</c> uses as alpha (so results are unchanged).</summary>
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
    public static readonly Scalar Zero = 0.ToScalar();

    [ThreadStatic] private static Scalar?[]? _ring;
    [ThreadStatic] private static int _next;

    // One overload per implicit conversion Workbench uses, so a held Scalar has the type the implicit one had.
    public static Scalar Of(double value) => Keep(value.ToScalar());
    public static Scalar Of(float value) => Keep(value.ToScalar());
    public static Scalar Of(int value) => Keep(value.ToScalar());
    public static Scalar Of(long value) => Keep(value.ToScalar());
    public static Scalar Of(bool value) => Keep(value.ToScalar());

    private static Scalar Keep(Scalar scalar)
    {
        var ring = _ring ??= new Scalar?[RingSize];
        ring[_next]?.Dispose();
        ring[_next] = scalar;
        _next = (_next + 1) % RingSize;
        return scalar;
    }
}
