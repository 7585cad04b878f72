using System.Diagnostics;
using System.Text.Json.Nodes;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Storage;

public sealed class RunConditionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-condition-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Manifest Started(string name)
    {
        var folder = RunFolder.Create(Path.Combine(_dir, name), force: false);
        return Manifest.Start(folder.Path, "test");
    }

    [Fact]
    public void Running_manifest_of_this_live_process_is_running()
    {
        Started("live");
        Assert.Equal(RunCondition.Running, RunFolder.Condition(Path.Combine(_dir, "live")));
    }

    [Fact]
    public void Running_manifest_whose_process_is_gone_is_interrupted_never_finished()
    {
        var manifest = Started("dead");
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        // As if another process had written the manifest and was then killed: its pid, status still running.
        var document = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!;
        document["machine"]!["pid"] = gone.Id;
        File.WriteAllText(manifest.FilePath, document.ToJsonString());
        Assert.Equal(RunCondition.Interrupted, RunFolder.Condition(Path.Combine(_dir, "dead")));
        Assert.False(RunFolder.IsFinishedRun(Path.Combine(_dir, "dead"), out _));
    }

    [Fact]
    public void Finished_failed_and_foreign_folders_are_told_apart()
    {
        Started("done").Finish();
        var failed = Started("failed");
        failed.Fail(new InvalidOperationException("boom"));
        Directory.CreateDirectory(Path.Combine(_dir, "foreign"));
        File.WriteAllText(Path.Combine(_dir, "foreign", "manifest.json"), new JsonObject { ["status"] = "whatever" }.ToJsonString());
        Assert.Equal(RunCondition.Finished, RunFolder.Condition(Path.Combine(_dir, "done")));
        Assert.Equal(RunCondition.Failed, RunFolder.Condition(Path.Combine(_dir, "failed")));
        Assert.Equal(RunCondition.NotARun, RunFolder.Condition(Path.Combine(_dir, "foreign")));
        Assert.Equal(RunCondition.NotARun, RunFolder.Condition(Path.Combine(_dir, "missing")));
    }

    [Fact]
    public void Two_runs_never_write_into_the_same_folder()
    {
        string target = Path.Combine(_dir, "contested");
        var first = RunFolder.Create(target, force: false);
        // The second writer finds the folder claimed (not empty) even though no manifest exists yet.
        var e = Assert.Throws<RunFolderException>(() => RunFolder.Create(target, force: false));
        Assert.Contains(target, e.Message);
        Assert.True(File.Exists(Path.Combine(first.Path, RunFolder.ClaimFile)));
    }

    [Fact]
    public void Force_never_clears_a_folder_a_live_run_is_writing()
    {
        // Another live process (a child that sleeps) is the writer of this run.
        var manifest = Started("busy");
        using var other = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        var document = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!;
        document["machine"]!["pid"] = other.Id;
        File.WriteAllText(manifest.FilePath, document.ToJsonString());
        var e = Assert.Throws<RunFolderException>(() => RunFolder.Create(Path.Combine(_dir, "busy"), force: true));
        Assert.Contains("live", e.Message);
        Assert.True(File.Exists(Path.Combine(_dir, "busy", "manifest.json")));
        other.Kill();
    }
}
