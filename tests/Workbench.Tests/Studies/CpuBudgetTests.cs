using Workbench.Studies;
using Workbench.Studies.Sampling;
using static Workbench.Tests.Cli.InProcessCli;
using static Workbench.Tests.Studies.LinearModeConnectivityTests;

namespace Workbench.Tests.Studies;

/// <summary>
/// The default thread count is what the process may really use: the least of affinity, cgroup quota, Slurm's and
/// OpenMP's counts, each read from fake file contents and variables here; garbage in one source leaves the others.
/// </summary>
public sealed class CpuBudgetTests
{
    [Fact]
    public void Nothing_but_the_processor_count_gives_the_processor_count()
    {
        Assert.Equal(new CpuBudget(8, "processor count 8"), CpuBudget.From(new CpuSources(8)));
    }

    [Theory]
    [InlineData("0-3,8", 5)]
    [InlineData("0", 1)]
    [InlineData("0-1", 2)]
    [InlineData("2,4-5,7", 4)]
    public void Affinity_list_counts_its_cpus(string list, int cpus)
    {
        Assert.Equal(new CpuBudget(cpus, $"affinity {cpus}"), CpuBudget.From(new CpuSources(16, AffinityList: list)));
    }

    [Theory]
    [InlineData("max 100000", null)]
    [InlineData("150000 100000", 1.5)]
    [InlineData("200000 100000\n", 2.0)]
    [InlineData("50000 100000", 0.5)]
    [InlineData("garbage", null)]
    [InlineData("100000 0", null)]
    [InlineData("", null)]
    public void Cgroup_v2_cpu_max_gives_the_quota_in_cpus(string cpuMax, double? cpus)
    {
        Assert.Equal(cpus, CpuBudget.CgroupV2Quota(cpuMax));
    }

    [Fact]
    public void Fractional_quota_rounds_down_and_never_below_one()
    {
        Assert.Equal(new CpuBudget(1, "cgroup quota 1.5 → 1"), CpuBudget.From(new CpuSources(4, "0-3", ["150000 100000"])));
        Assert.Equal(new CpuBudget(1, "cgroup quota 0.5 → 1"), CpuBudget.From(new CpuSources(4, "0-3", ["50000 100000"])));
        // No limit: the affinity decides.
        Assert.Equal(new CpuBudget(4, "affinity 4"), CpuBudget.From(new CpuSources(4, "0-3", ["max 100000"])));
    }

    [Fact]
    public void The_strictest_cgroup_level_limits()
    {
        var budget = CpuBudget.From(new CpuSources(16, CgroupV2CpuMax: ["max 100000", "300000 100000", "800000 100000"]));
        Assert.Equal(new CpuBudget(3, "cgroup quota 3 → 3"), budget);
    }

    [Fact]
    public void Cgroup_v1_quota_and_period_files_give_the_quota()
    {
        Assert.Equal(2.5, CpuBudget.CgroupV1Quota("250000\n", "100000\n"));
        Assert.Null(CpuBudget.CgroupV1Quota("-1\n", "100000\n"));
        Assert.Null(CpuBudget.CgroupV1Quota("lots", "100000"));
        Assert.Equal(new CpuBudget(2, "cgroup quota 2.5 → 2"), CpuBudget.From(new CpuSources(8, "0-7", CgroupV1Quotas: [("250000", "100000")])));
        Assert.Equal(new CpuBudget(8, "affinity 8"), CpuBudget.From(new CpuSources(8, "0-7", CgroupV1Quotas: [("-1", "100000")])));
    }

    [Fact]
    public void Slurm_and_OpenMP_variables_limit_when_smaller()
    {
        Assert.Equal(new CpuBudget(4, "SLURM_CPUS_PER_TASK=4"), CpuBudget.From(new CpuSources(32, "0-31", SlurmCpusPerTask: "4")));
        Assert.Equal(new CpuBudget(3, "OMP_NUM_THREADS=3"), CpuBudget.From(new CpuSources(32, "0-31", SlurmCpusPerTask: "4", OmpNumThreads: "3")));
        // A nested OpenMP list: the first level is the outer pool.
        Assert.Equal(new CpuBudget(2, "OMP_NUM_THREADS=2"), CpuBudget.From(new CpuSources(32, OmpNumThreads: "2,4")));
        // Larger than the affinity: the affinity is the limit.
        Assert.Equal(new CpuBudget(2, "affinity 2"), CpuBudget.From(new CpuSources(2, "0-1", SlurmCpusPerTask: "8", OmpNumThreads: "16")));
    }

    [Fact]
    public void Garbage_in_a_source_is_ignored_and_the_next_source_decides()
    {
        Assert.Equal(new CpuBudget(3, "cgroup quota 3 → 3"), CpuBudget.From(new CpuSources(8, "0-x", ["300000 100000"], SlurmCpusPerTask: "four")));
        Assert.Equal(new CpuBudget(6, "SLURM_CPUS_PER_TASK=6"), CpuBudget.From(new CpuSources(8, "3-1", ["max max"], [("abc", "100000")], "6", "-2")));
        Assert.Equal(new CpuBudget(5, "OMP_NUM_THREADS=5"), CpuBudget.From(new CpuSources(8, "", ["100000"], [("0", "100000")], "0", "5")));
        Assert.Equal(new CpuBudget(8, "processor count 8"), CpuBudget.From(new CpuSources(8, "a", ["b"], [("c", "d")], "e", "f")));
    }

    [Fact]
    public void This_machine_has_a_budget_within_its_processor_count()
    {
        var budget = CpuBudget.Current;
        Assert.InRange(budget.Cpus, 1, Math.Max(1, Environment.ProcessorCount));
        Assert.False(string.IsNullOrWhiteSpace(budget.Source));
    }

    [Fact]
    public void Zero_threads_means_the_budget_and_more_than_the_budget_is_refused()
    {
        var budget = new CpuBudget(2, "affinity 2");
        Assert.Equal(new ThreadChoice(2, "affinity 2"), ThreadChoice.For(0, budget));
        Assert.Equal(1, ThreadChoice.For(1, budget).Count);
        var refusal = Assert.Throws<OptionException>(() => ThreadChoice.For(3, budget));
        Assert.Contains("--threads 3", refusal.Message);
        Assert.Contains("2 CPU(s)", refusal.Message);
        Assert.Throws<OptionException>(() => ThreadChoice.For(-1, budget));
    }

    [Fact]
    public void Threads_beyond_the_budget_are_refused_in_one_line_with_exit_2()
    {
        string dir = Directory.CreateTempSubdirectory("wb-threads-").FullName;
        try
        {
            string tooMany = (CpuBudget.Current.Cpus + 1).ToString();
            string folder = Path.Combine(dir, "run");
            var run = Run("sample", "--model", "mlp", "--widths", "8", "--steps", "20", "--warmup", "5", "--thin", "5", "--threads", tooMany, "--device", "cpu", "--out", folder);
            Assert.Equal(2, run.Code);
            string line = Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"--threads {tooMany} exceeds the {CpuBudget.Current.Cpus} CPU(s)", line);
            Assert.False(Directory.Exists(folder), "nothing ran");

            string study = Path.Combine(dir, "study");
            string config = Path.Combine(dir, "tiny.json");
            File.WriteAllText(config, Workbench.Tests.ScaleOut.SlurmCluster.TinyStudy);
            run = Run("compare", "--config", config, "--threads", tooMany, "--out", study);
            Assert.Equal(2, run.Code);
            Assert.Contains($"--threads {tooMany} exceeds", Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
            Assert.False(Directory.Exists(study), "nothing ran");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
