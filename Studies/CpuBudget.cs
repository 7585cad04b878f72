using System.Globalization;

namespace Workbench.Studies;

/// <summary>What the machine says about the CPUs a process may use: file contents and variables as read, unparsed.</summary>
/// <param name="ProcessorCount">.NET's count, the fallback when no other source says anything.</param>
/// <param name="AffinityList">The CPU affinity list, e.g. "0-3,8" (Cpus_allowed_list of /proc/self/status).</param>
/// <param name="CgroupV2CpuMax">cpu.max of the process's cgroup v2 and of its ancestors, e.g. "max 100000", "150000 100000".</param>
/// <param name="CgroupV1Quotas">cpu.cfs_quota_us and cpu.cfs_period_us of the process's cgroup v1 and of its ancestors.</param>
/// <param name="SlurmCpusPerTask">SLURM_CPUS_PER_TASK.</param>
/// <param name="OmpNumThreads">OMP_NUM_THREADS (a list "4,2" names nested levels; the first is the outer pool).</param>
public sealed record CpuSources(
    int ProcessorCount,
    string? AffinityList = null,
    IReadOnlyList<string>? CgroupV2CpuMax = null,
    IReadOnlyList<(string Quota, string Period)>? CgroupV1Quotas = null,
    string? SlurmCpusPerTask = null,
    string? OmpNumThreads = null);

/// <summary>
/// The CPUs this process may really use, and which limit said so: the smallest of the CPU affinity mask, the cgroup
/// CPU quota (rounded down, at least 1), SLURM_CPUS_PER_TASK and OMP_NUM_THREADS, whichever are present; the processor
/// count when none is. A torch pool larger than this spins on cores that another process needs: two workbench
/// processes with all cores each on a 2-core machine made 11 SGLD steps/s each, against 33 with one thread each.
/// A source that cannot be read or parsed is ignored and the others decide.
/// </summary>
public sealed record CpuBudget(int Cpus, string Source)
{
    private static readonly Lazy<CpuBudget> Machine = new(() => From(ReadSources()));

    /// <summary>This process's budget, read once (affinity and cgroups do not change under a running study).</summary>
    public static CpuBudget Current => Machine.Value;

    public override string ToString() => Source;

    /// <summary>The budget the sources allow; on a tie the earlier source (affinity, cgroup, Slurm, OpenMP) is named.</summary>
    public static CpuBudget From(CpuSources s)
    {
        var limits = new List<CpuBudget>();
        if (AffinityCount(s.AffinityList) is { } affinity) limits.Add(new(affinity, $"affinity {affinity}"));
        var quotas = (s.CgroupV2CpuMax ?? []).Select(CgroupV2Quota)
            .Concat((s.CgroupV1Quotas ?? []).Select(q => CgroupV1Quota(q.Quota, q.Period)))
            .OfType<double>().ToList();
        if (quotas.Count > 0)
        {
            double quota = quotas.Min();
            int cpus = Math.Max(1, (int)Math.Floor(quota));
            limits.Add(new(cpus, $"cgroup quota {quota.ToString("0.##", CultureInfo.InvariantCulture)} → {cpus}"));
        }
        if (PositiveInt(s.SlurmCpusPerTask) is { } slurm) limits.Add(new(slurm, $"SLURM_CPUS_PER_TASK={slurm}"));
        if (PositiveInt(s.OmpNumThreads?.Split(',')[0]) is { } omp) limits.Add(new(omp, $"OMP_NUM_THREADS={omp}"));
        if (limits.Count == 0) return new(Math.Max(1, s.ProcessorCount), $"processor count {Math.Max(1, s.ProcessorCount)}");
        int least = limits.Min(l => l.Cpus);
        return limits.First(l => l.Cpus == least);
    }

    /// <summary>The number of CPUs in an affinity list such as "0-3,8"; null when it is not one.</summary>
    public static int? AffinityCount(string? list)
    {
        if (string.IsNullOrWhiteSpace(list)) return null;
        var cpus = new HashSet<int>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries))
        {
            var ends = part.Split('-');
            if (ends.Length > 2 || !ends.All(e => int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out _))) return null;
            int first = int.Parse(ends[0], CultureInfo.InvariantCulture), last = int.Parse(ends[^1], CultureInfo.InvariantCulture);
            if (last < first || last - first > 1 << 16) return null;
            for (int c = first; c <= last; c++) cpus.Add(c);
        }
        return cpus.Count > 0 ? cpus.Count : null;
    }

    /// <summary>CPUs granted by a cgroup v2 cpu.max "QUOTA PERIOD" (microseconds); null for "max" (no limit) or garbage.</summary>
    public static double? CgroupV2Quota(string? cpuMax)
    {
        var fields = (cpuMax ?? "").Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return fields.Length != 2 || fields[0] == "max" ? null : Ratio(fields[0], fields[1]);
    }

    /// <summary>CPUs granted by cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us; null for -1 (no limit) or garbage.</summary>
    public static double? CgroupV1Quota(string? quota, string? period) => quota?.Trim() == "-1" ? null : Ratio(quota, period);

    private static double? Ratio(string? quota, string? period) =>
        long.TryParse(quota?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long q) && q > 0 &&
        long.TryParse(period?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long p) && p > 0
            ? (double)q / p : null;

    private static int? PositiveInt(string? text) =>
        int.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : null;

    /// <summary>The sources as this machine has them (Linux files; elsewhere only the variables and the processor count).</summary>
    public static CpuSources ReadSources()
    {
        string? affinity = null;
        var v2 = new List<string>();
        var v1 = new List<(string, string)>();
        if (OperatingSystem.IsLinux())
        {
            affinity = ReadOrNull("/proc/self/status")?.Split('\n')
                .FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))?["Cpus_allowed_list:".Length..].Trim();
            foreach (var line in (ReadOrNull("/proc/self/cgroup") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                // "0::/path" is cgroup v2; "4:cpu,cpuacct:/path" a v1 hierarchy.
                var fields = line.Split(':', 3);
                if (fields.Length != 3) continue;
                if (fields[0] == "0" && fields[1] == "")
                {
                    foreach (var dir in SelfAndAncestors("/sys/fs/cgroup", fields[2]))
                        if (ReadOrNull(Path.Combine(dir, "cpu.max")) is { } max) v2.Add(max);
                }
                else if (fields[1].Split(',').Contains("cpu"))
                {
                    foreach (var mount in new[] { "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu" })
                    foreach (var dir in SelfAndAncestors(mount, fields[2]))
                        if (ReadOrNull(Path.Combine(dir, "cpu.cfs_quota_us")) is { } q && ReadOrNull(Path.Combine(dir, "cpu.cfs_period_us")) is { } p)
                            v1.Add((q, p));
                }
            }
        }
        return new CpuSources(Environment.ProcessorCount, affinity, v2, v1,
            Environment.GetEnvironmentVariable("SLURM_CPUS_PER_TASK"), Environment.GetEnvironmentVariable("OMP_NUM_THREADS"));
    }

    /// <summary>A cgroup's folder under a mount and each folder above it up to the mount (every level can limit);
    /// inside a cgroup namespace the recorded path may not exist, and then the mount's own files are the process's.</summary>
    private static IEnumerable<string> SelfAndAncestors(string mount, string cgroupPath)
    {
        if (!Directory.Exists(mount)) yield break;
        var parts = cgroupPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int n = parts.Length; n >= 0; n--)
        {
            string dir = Path.Combine([mount, .. parts.Take(n)]);
            if (Directory.Exists(dir)) yield return dir;
        }
    }

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
