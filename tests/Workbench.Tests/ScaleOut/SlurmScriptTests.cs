using Workbench.Studies.Sampling;
using Workbench.Studies.ScaleOut;
using static Workbench.Tests.Cli.InProcessCli;
using static Workbench.Tests.Studies.LinearModeConnectivityTests;

namespace Workbench.Tests.ScaleOut;

/// <summary>The sbatch script 'workbench submit --slurm' writes: one array task per cell, the same build, absolute quoted paths.</summary>
public sealed class SlurmScriptTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-sbatch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly WorkbenchLauncher Dotnet = new("/usr/bin/dotnet", ["/opt/wb/workbench.dll"]);

    private static string[] Directives(string script) => script.Split('\n').Where(l => l.StartsWith("#SBATCH ")).ToArray();

    [Fact]
    public void Array_has_one_task_per_cell_and_K_only_with_max_parallel()
    {
        Assert.Contains("#SBATCH --array=0-3", Directives(SlurmScript.Text("/p", "tiny", 4, Dotnet, new SlurmOptions())));
        Assert.Contains("#SBATCH --array=0-3%2", Directives(SlurmScript.Text("/p", "tiny", 4, Dotnet, new SlurmOptions(MaxParallel: 2))));
        Assert.Contains("#SBATCH --array=0-0", Directives(SlurmScript.Text("/p", "tiny", 1, Dotnet, new SlurmOptions())));
        Assert.Throws<OptionException>(() => SlurmScript.Text("/p", "tiny", 4, Dotnet, new SlurmOptions(MaxParallel: 0)));
    }

    [Fact]
    public void Options_appear_only_when_given()
    {
        var bare = Directives(SlurmScript.Text("/p", "my study", 2, Dotnet, new SlurmOptions()));
        Assert.Equal(["--job-name", "--array", "--output", "--error", "--chdir"], bare.Select(d => d["#SBATCH ".Length..].Split('=')[0]));
        Assert.Contains("#SBATCH --job-name=workbench-my-study", bare);

        var all = Directives(SlurmScript.Text("/p", "s", 2, Dotnet, new SlurmOptions("cpu", "01:30:00", 4, "8G")));
        Assert.Contains("#SBATCH --partition=cpu", all);
        Assert.Contains("#SBATCH --time=01:30:00", all);
        Assert.Contains("#SBATCH --cpus-per-task=4", all);
        Assert.Contains("#SBATCH --mem=8G", all);
    }

    [Fact]
    public void Task_runs_the_same_build_on_the_absolute_plan_with_its_array_index()
    {
        string script = SlurmScript.Text("plans/tiny", "tiny", 4, Dotnet, new SlurmOptions());
        string plan = Path.GetFullPath("plans/tiny");
        Assert.Contains($"#SBATCH --output=\"{plan}/slurm/logs/%A_%a.out\"", script);
        Assert.Contains($"#SBATCH --error=\"{plan}/slurm/logs/%A_%a.err\"", script);
        Assert.Contains($"\nexec '/usr/bin/dotnet' '/opt/wb/workbench.dll' run-cell '{plan}' --index \"$SLURM_ARRAY_TASK_ID\"\n", script);
        Assert.StartsWith("#!/bin/bash\n", script);
    }

    [Fact]
    public void Paths_with_spaces_and_quotes_stay_one_word()
    {
        string script = SlurmScript.Text("/data/my plans/it's", "tiny", 2, new WorkbenchLauncher("/opt/my tools/dotnet", ["/opt/my tools/workbench.dll"]), new SlurmOptions());
        Assert.Contains("exec '/opt/my tools/dotnet' '/opt/my tools/workbench.dll' run-cell '/data/my plans/it'\\''s' --index", script);
        Assert.Contains("#SBATCH --output=\"/data/my plans/it's/slurm/logs/%A_%a.out\"", script);
        // sbatch expands % in --output and reads no escapes inside "…": such a folder is refused, not written wrong.
        Assert.Throws<OptionException>(() => SlurmScript.Text("/data/100%", "tiny", 2, Dotnet, new SlurmOptions()));
    }

    [Fact]
    public void Launcher_is_the_running_host_and_dll()
    {
        Assert.Equal(new[] { "/usr/share/dotnet/dotnet", "/opt/wb/workbench.dll" },
            Flat(WorkbenchLauncher.Of("/opt/wb/workbench.dll", "/usr/share/dotnet/dotnet", null, null)));
        Assert.Equal(new[] { "/opt/wb/workbench" }, Flat(WorkbenchLauncher.Of("/opt/wb/workbench.dll", "/opt/wb/workbench", null, null)));
        Assert.Equal(new[] { "/sdk/dotnet", "/opt/wb/workbench.dll" },
            Flat(WorkbenchLauncher.Of("/opt/wb/workbench.dll", "/opt/vstest/testhost", "/sdk/dotnet", null)));
        static string[] Flat(WorkbenchLauncher l) => [l.Executable, .. l.Arguments];
    }

    [Fact]
    public void Submit_dry_run_writes_the_script_into_the_plan_and_refuses_without_slurm_or_a_plan()
    {
        string config = Path.Combine(_dir, "tiny.json"), plan = Path.Combine(_dir, "plan");
        File.WriteAllText(config, SlurmCluster.TinyStudy);
        var run = Run("plan", "--config", config, "--out", plan);
        Assert.True(run.Code == 0, run.Err + run.Out);

        run = Run("submit", plan, "--slurm", "--max-parallel", "2", "--dry-run");
        Assert.True(run.Code == 0, run.Err + run.Out);
        string script = File.ReadAllText(Path.Combine(plan, "slurm", "submit.sbatch"));
        Assert.Contains("#SBATCH --array=0-3%2", script);
        Assert.Contains($"'{Path.Combine(AppContext.BaseDirectory, "workbench.dll")}' run-cell '{plan}'", script);
        Assert.True(Directory.Exists(Path.Combine(plan, "slurm", "logs")));
        Assert.False(File.Exists(Path.Combine(plan, "slurm", "jobs.txt")));

        run = Run("submit", plan, "--dry-run");
        Assert.Equal(2, run.Code);
        Assert.Contains("--slurm", run.Err);
        run = Run("submit", _dir, "--slurm", "--dry-run");
        Assert.Equal(2, run.Code);
        Assert.Single(run.Err.TrimEnd().Split('\n'));

        run = Run("status", plan);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("4 cells: 0 done, 0 running, 0 interrupted, 0 failed, 4 pending", run.Out);
    }
}
