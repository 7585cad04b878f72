using Workbench.Studies.Storage;
using static Workbench.Tests.Cli.InProcessCli;
using static Workbench.Tests.Studies.LinearModeConnectivityTests;

namespace Workbench.Tests.ScaleOut;

/// <summary>
/// plan → run-cell → collect gives the study a local `compare` gives (same config, same seeds): every number of the
/// summary that does not measure time is equal, and collect refuses a study with cells not finished.
/// </summary>
public sealed class PlanTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-plan-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Config()
    {
        string path = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(path, SlurmCluster.TinyStudy);
        return path;
    }

    [Fact]
    public void A_planned_study_run_cell_by_cell_equals_a_local_study()
    {
        string config = Config(), local = Path.Combine(_dir, "local"), plan = Path.Combine(_dir, "plan");
        var run = Run("compare", "--config", config, "--out", local);
        Assert.True(run.Code == 0, run.Err + run.Out);

        run = Run("plan", "--config", config, "--out", plan);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("4 cells", run.Out);
        Assert.False(File.Exists(Path.Combine(plan, "runs", "m-standard-sgld-seed0", "draws.parquet")), "plan runs no cell");

        // Nothing finished yet: collect names the cells and writes no report.
        run = Run("collect", plan);
        Assert.Equal(2, run.Code);
        Assert.Contains("4 of 4 cells are not finished", run.Err);
        Assert.False(File.Exists(Path.Combine(plan, "report.md")));

        // Out of order, as array tasks finish; a finished cell run again is left alone.
        foreach (int i in new[] { 2, 0, 3, 1, 0 })
        {
            run = Run("run-cell", plan, "--index", i.ToString());
            Assert.True(run.Code == 0, run.Err + run.Out);
        }
        Assert.Contains("already finished", run.Out);
        run = Run("run-cell", plan, "--index", "4");
        Assert.Equal(2, run.Code);

        run = Run("collect", plan);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Equal(RunStatus.Finished, Manifest.Load(plan).Status);
        Assert.True(File.Exists(Path.Combine(plan, "report.md")));

        var a = ParquetLikeCsv(Path.Combine(local, "summary.csv"));
        var b = ParquetLikeCsv(Path.Combine(plan, "summary.csv"));
        Assert.Equal(a.Count, b.Count);
        string[] timed = ["seconds_to_target", "wall_seconds"];
        foreach (var (column, values) in a)
            if (!timed.Contains(column)) Assert.True(values.SequenceEqual(b[column]), $"summary column {column}: local [{string.Join(";", values)}], planned [{string.Join(";", b[column])}]");

        // A cell that finished with a diverged chain (as a node's run-cell would leave it): collect says so and exits 3.
        string cell = Path.Combine(plan, "runs", "m-standard-sgld-seed0", Manifest.FileName);
        var document = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(cell))!;
        document["status"] = RunStatus.FinishedWithDivergences;
        document["divergences"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["chain"] = 1, ["iteration"] = 5 });
        File.WriteAllText(cell, document.ToJsonString());
        run = Run("collect", plan);
        Assert.True(run.Code == 3, run.Err + run.Out);
        Assert.Contains("study finished with divergences", run.Out);
        Assert.Equal(RunStatus.FinishedWithDivergences, Manifest.Load(plan).Status);
    }

    [Fact]
    public void A_study_run_as_two_jobs_equals_one_run_in_one_process()
    {
        string config = Config(), one = Path.Combine(_dir, "one"), two = Path.Combine(_dir, "two");
        var run = Run("compare", "--config", config, "--out", one);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Equal(1, (int?)Manifest.Load(one).Get("jobs")!["jobs"]);

        run = Run("compare", "--config", config, "--out", two, "--jobs", "2");
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("2 at once as 'run-cell' processes with 1 torch thread(s) each", run.Out);
        var jobs = Manifest.Load(two).Get("jobs")!;
        Assert.Equal(2, (int?)jobs["jobs"]);
        Assert.Equal(1, (int?)jobs["threads_per_job"]);
        Assert.Equal(RunStatus.Finished, Manifest.Load(two).Status);
        // Each cell's process wrote its own log, and its run records the threads it had and why.
        var cell = Manifest.Load(Path.Combine(two, "runs", "m-w-asym-sgld-seed1"));
        Assert.Contains("running", File.ReadAllText(Path.Combine(two, "logs", "m-w-asym-sgld-seed1.log")));
        Assert.Equal(1, (int?)cell.Get("machine")!["torch_threads"]);
        Assert.StartsWith("--threads 1", (string?)cell.Get("machine")!["thread_source"]);
        AssertSameSummary(one, two);

        // A study folder resumes with jobs too: lost runs are run again by run-cell processes.
        Directory.Delete(Path.Combine(two, "runs", "m-standard-sgld-seed1"), recursive: true);
        Directory.Delete(Path.Combine(two, "runs", "m-w-asym-sgld-seed0"), recursive: true);
        run = Run("resume", two, "--jobs", "3");
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("--jobs 3 is more than the 2 cell(s) to run; running 2 at once", run.Out);
        Assert.Contains("2 runs, 2 at once", run.Out);
        AssertSameSummary(one, two);

        run = Run("compare", "--config", config, "--out", Path.Combine(_dir, "zero"), "--jobs", "0");
        Assert.Equal(2, run.Code);
        Assert.Contains("--jobs must be at least 1", run.Err);
    }

    private static void AssertSameSummary(string a, string b)
    {
        var x = ParquetLikeCsv(Path.Combine(a, "summary.csv"));
        var y = ParquetLikeCsv(Path.Combine(b, "summary.csv"));
        Assert.Equal(x.Keys, y.Keys);
        string[] timed = ["seconds_to_target", "wall_seconds"];
        foreach (var (column, values) in x)
            if (!timed.Contains(column)) Assert.True(values.SequenceEqual(y[column]), $"summary column {column}: [{string.Join(";", values)}] vs [{string.Join(";", y[column])}]");
    }

    /// <summary>summary.csv as column → values (the table has no quoted commas).</summary>
    private static Dictionary<string, List<string>> ParquetLikeCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        return header.Select((h, j) => (h, lines.Skip(1).Select(l => l.Split(',')[j]).ToList())).ToDictionary(x => x.h, x => x.Item2);
    }
}
