using System.Diagnostics;
using Workbench.Studies.Storage;
using Xunit.Abstractions;
using static Workbench.Tests.Cli.InProcessCli;
using static Workbench.Tests.Studies.LinearModeConnectivityTests;

namespace Workbench.Tests.ScaleOut;

/// <summary>
/// plan → submit --slurm → (a real job array on a one-node Slurm) → status → collect. Skipped, saying why, where no
/// Slurm can be started (see <see cref="SlurmCluster"/>).
/// </summary>
public sealed class SlurmEndToEndTests(ITestOutputHelper log) : IDisposable
{
    // A space in the plan's path: the script must quote it for bash and for sbatch's --output.
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-slurm e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public void A_planned_study_runs_as_a_Slurm_job_array_and_collects()
    {
        using var cluster = SlurmCluster.Start();
        log.WriteLine($"install {cluster.Install.TotalSeconds:0.0} s, daemons up {cluster.Startup.TotalSeconds:0.0} s");

        string config = Path.Combine(_dir, "tiny.json"), plan = Path.Combine(_dir, "plan dir");
        File.WriteAllText(config, SlurmCluster.TinyStudy);
        var run = Run("plan", "--config", config, "--out", plan);
        Assert.True(run.Code == 0, run.Err + run.Out);

        var clock = Stopwatch.StartNew();
        run = Run("submit", plan, "--slurm", "--max-parallel", "2");
        Assert.True(run.Code == 0, run.Err + run.Out);
        string job = File.ReadAllLines(Path.Combine(plan, "slurm", "jobs.txt")).Single();
        Assert.Contains($"job: {job}", run.Out);

        // No accounting here: wait until the job leaves the queue, then read each task's end from scontrol.
        while (SlurmCluster.Execute("squeue", "-h", "-j", job).Output.Trim().Length > 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"job {job} still queued after 3 minutes: {SlurmCluster.Execute("squeue", "-h", "-j", job).Output}");
            Thread.Sleep(250);
        }
        log.WriteLine($"job array of 4 tasks (at most 2 at once): {clock.Elapsed.TotalSeconds:0.0} s from sbatch to an empty queue");
        var tasks = SlurmCluster.Execute("scontrol", "-o", "show", "job", job).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string logs = Path.Combine(plan, "slurm", "logs");
        string Logs() => string.Join("\n", Directory.GetFiles(logs).Order().Select(f => $"{Path.GetFileName(f)}: {File.ReadAllText(f)}"));
        Assert.Equal(4, tasks.Length);
        Assert.All(tasks, t => Assert.True(t.Contains("JobState=COMPLETED") && t.Contains("ExitCode=0:0"), t + "\n" + Logs()));
        Assert.Equal(8, Directory.GetFiles(logs).Length); // one .out and one .err per task

        run = Run("status", plan);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("4 cells: 4 done, 0 running, 0 interrupted, 0 failed, 0 pending", run.Out);
        Assert.Contains($"slurm job {job}: not in the queue (ended)", run.Out);

        run = Run("collect", plan);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.True(File.Exists(Path.Combine(plan, "report.md")));
        Assert.Equal(RunStatus.Finished, Manifest.Load(plan).Status);
    }
}
