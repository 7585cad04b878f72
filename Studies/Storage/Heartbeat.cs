using System.Globalization;
using System.Text.Json.Nodes;

namespace Workbench.Studies.Storage;

/// <summary>
/// A running folder's sign of life, readable from any node that mounts it: <c>.workbench-heartbeat</c> names the
/// writing host and process and the time, rewritten every <see cref="Interval"/> while the manifest says
/// <c>running</c>. On the writer's own machine the pid decides whether a run is alive; from another machine (a
/// cluster node reading a shared folder) a heartbeat younger than <see cref="StaleAfter"/> does.
/// </summary>
public sealed class Heartbeat : IDisposable
{
    public const string FileName = ".workbench-heartbeat";

    /// <summary>How often a live writer rewrites its heartbeat.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A heartbeat older than this reads as a dead writer from another machine: six missed beats, which covers a
    /// briefly starved thread pool and the clock offsets of NTP-synchronised nodes.
    /// </summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(60);

    /// <summary>
    /// On the writer's own machine a live pid whose heartbeat stopped this long ago is another process that reused
    /// the pid (a writer's timer never stalls for minutes while its process lives).
    /// </summary>
    public static readonly TimeSpan PidReusedAfter = TimeSpan.FromMinutes(5);

    private readonly string _path;
    private readonly Timer? _timer;
    private readonly Lock _gate = new();
    private bool _stopped;

    private Heartbeat(string folder)
    {
        _path = Path.Combine(folder, FileName);
        Beat();
        _timer = new Timer(_ => Beat(), null, Interval, Interval);
    }

    /// <summary>Writes the first beat now and then one every <see cref="Interval"/> until <see cref="Dispose"/>.</summary>
    public static Heartbeat Start(string folder) => new(folder);

    /// <summary>What a folder's heartbeat file says, or null when there is none or it cannot be read.</summary>
    public sealed record Reading(string Host, int Pid, DateTimeOffset Time)
    {
        /// <summary>How long ago the beat was written; a clock ahead of ours counts as zero.</summary>
        public TimeSpan Age(DateTimeOffset now) => now > Time ? now - Time : TimeSpan.Zero;
    }

    public static Reading? Read(string folder)
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, FileName)));
            string? host = node?["host"]?.GetValue<string>();
            int? pid = node?["pid"]?.GetValue<int>();
            string? time = node?["time_utc"]?.GetValue<string>();
            if (host is null || pid is null || time is null) return null;
            return new Reading(host, pid.Value, DateTimeOffset.Parse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException
                                      or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Writes the heartbeat for a given time: the timer's beat, and tests that need an old one.</summary>
    internal static void Write(string folder, string host, int pid, DateTimeOffset time) =>
        AtomicFile.WriteAllText(Path.Combine(folder, FileName), new JsonObject
        {
            ["host"] = host,
            ["pid"] = pid,
            ["time_utc"] = time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["interval_s"] = Interval.TotalSeconds,
        }.ToJsonString() + "\n");

    private void Beat()
    {
        lock (_gate)
        {
            if (_stopped) return;
            // The folder is gone (deleted, or a test's temporary folder cleaned up): nothing left to keep alive.
            if (!File.Exists(Path.Combine(Path.GetDirectoryName(_path)!, Manifest.FileName)))
            {
                _stopped = true;
                _timer?.Dispose();
                return;
            }
            try
            {
                Write(Path.GetDirectoryName(_path)!, Environment.MachineName, Environment.ProcessId, DateTimeOffset.UtcNow);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A beat that cannot be written (folder removed, disk full for a moment) is skipped; the run itself
                // reports its own write failures. Readers then see an older beat, never a torn one.
            }
        }
    }

    /// <summary>Stops beating; with <paramref name="remove"/> deletes the file (a writer letting go of a folder).</summary>
    public void Stop(bool remove = false)
    {
        lock (_gate)
        {
            if (!_stopped)
            {
                _stopped = true;
                _timer?.Dispose();
            }
            if (remove)
            {
                try { File.Delete(_path); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
    }

    public void Dispose() => Stop();
}
