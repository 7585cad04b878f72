using System.Diagnostics;
using System.Globalization;

namespace Workbench.Studies;

/// <summary>
/// Sign of life for a long loop (training a study's networks, a zoo member, a metanetwork): one log line at most every
/// <see cref="Every"/> — how far, the time so far and an ETA from the mean pace — so that no study is silent for longer
/// than that however large its data (an epoch on 60,000 images takes minutes).
/// </summary>
public sealed class ProgressTicker
{
    /// <summary>The longest a study runs without a progress line (issue #16: "at least every ~10 s").</summary>
    public static readonly TimeSpan DefaultEvery = TimeSpan.FromSeconds(10);

    private readonly TextWriter _log;
    private readonly string _what;
    private readonly string _unit;
    private readonly Func<TimeSpan> _elapsed;
    private TimeSpan _lastLine;

    /// <param name="what">what advances, for the line's start ("training", "metanet run 0").</param>
    /// <param name="total">how many units the loop has in all (steps, networks).</param>
    /// <param name="elapsed">the clock (tests pass their own); by default a stopwatch started now.</param>
    public ProgressTicker(TextWriter log, string what, long total, string unit = "steps", TimeSpan? every = null, Func<TimeSpan>? elapsed = null)
    {
        if (total < 0) throw new ArgumentOutOfRangeException(nameof(total), total, "a loop has at least zero units");
        _log = log;
        _what = what;
        _unit = unit;
        Total = total;
        Every = every ?? DefaultEvery;
        if (elapsed is null)
        {
            var clock = Stopwatch.StartNew();
            elapsed = () => clock.Elapsed;
        }
        _elapsed = elapsed;
    }

    public long Total { get; }
    public long Done { get; private set; }
    public TimeSpan Every { get; }

    /// <summary>Counts <paramref name="units"/> more done; writes a line when <see cref="Every"/> has passed since the last.</summary>
    public void Advance(long units = 1)
    {
        Done += units;
        var now = _elapsed();
        if (now - _lastLine < Every || Done >= Total) return;
        _lastLine = now;
        _log.WriteLine(Line(now));
    }

    /// <summary>The progress line for the time <paramref name="now"/>: "training: 1,200/4,000 steps (30%), 40s, ETA 1m33s".</summary>
    public string Line(TimeSpan now)
    {
        double fraction = Total == 0 ? 1 : (double)Done / Total;
        string eta = Done == 0 ? "" : $", ETA {Duration(now.TotalSeconds / Done * (Total - Done))}";
        return string.Create(CultureInfo.InvariantCulture,
            $"  {_what}: {Done:N0}/{Total:N0} {_unit} ({fraction * 100:F0}%), {Duration(now.TotalSeconds)}{eta}");
    }

    /// <summary>A duration as a person reads it: 42s, 5m03s, 2h07m.</summary>
    public static string Duration(double seconds) =>
        seconds < 60 ? string.Create(CultureInfo.InvariantCulture, $"{seconds:F0}s")
        : seconds < 3600 ? string.Create(CultureInfo.InvariantCulture, $"{(int)(seconds / 60)}m{(int)(seconds % 60):00}s")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):00}m");
}
