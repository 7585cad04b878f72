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
}
