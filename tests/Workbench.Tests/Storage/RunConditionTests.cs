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

    /// <summary>Rewrites a running manifest as if <paramref name="host"/>'s process <paramref name="pid"/> wrote it.</summary>
    private static void WrittenBy(Manifest manifest, string host, int pid)
    {
        var document = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!;
        document["machine"]!["machine_name"] = host;
        document["machine"]!["pid"] = pid;
        File.WriteAllText(manifest.FilePath, document.ToJsonString());
    }

    [Fact]
    public void A_running_folder_carries_a_heartbeat_naming_its_writer_until_it_finishes()
    {
        var manifest = Started("beating");
        var beat = Heartbeat.Read(manifest.Folder);
        Assert.NotNull(beat);
        Assert.Equal(Environment.MachineName, beat.Host);
        Assert.Equal(Environment.ProcessId, beat.Pid);
        Assert.True(beat.Age(DateTimeOffset.UtcNow) < Heartbeat.StaleAfter);
        manifest.Finish();
        Assert.Null(Heartbeat.Read(manifest.Folder));
        Assert.False(File.Exists(Path.Combine(manifest.Folder, Heartbeat.FileName)));
    }

    [Fact]
    public void A_released_or_failed_folder_keeps_no_heartbeat()
    {
        var released = Started("released");
        released.Release();
        Assert.Null(Heartbeat.Read(released.Folder));
        var failed = Started("failed-beat");
        failed.Fail(new IOException("disk"));
        Assert.Null(Heartbeat.Read(failed.Folder));
    }

    [Theory]
    // Another node's writer: alive exactly while its own heartbeat is younger than StaleAfter (60 s).
    [InlineData(5, true, true)]
    [InlineData(59, true, true)]
    [InlineData(61, true, false)]
    [InlineData(3600, true, false)]
    // A heartbeat of another process of that node says nothing about the manifest's writer.
    [InlineData(5, false, false)]
    public void A_run_on_another_node_is_running_while_its_heartbeat_is_fresh(int ageSeconds, bool sameWriter, bool running)
    {
        var manifest = Started($"remote-{ageSeconds}-{sameWriter}");
        manifest.Finish(); // this process stops beating; the folder is then rewritten as another node's
        var document = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!;
        document["status"] = RunStatus.Running;
        File.WriteAllText(manifest.FilePath, document.ToJsonString());
        WrittenBy(manifest, "node-elsewhere-7", 4242);
        Heartbeat.Write(manifest.Folder, "node-elsewhere-7", sameWriter ? 4242 : 4243, DateTimeOffset.UtcNow.AddSeconds(-ageSeconds));
        Assert.Equal(running ? RunCondition.Running : RunCondition.Interrupted, RunFolder.Condition(manifest.Folder));
        if (running)
        {
            var e = Assert.Throws<RunFolderException>(() => RunFolder.Reclaim(manifest.Folder));
            Assert.Contains("pid 4242 on node-elsewhere-7", e.Message);
        }
    }

    [Fact]
    public void A_run_on_another_node_without_a_heartbeat_is_interrupted()
    {
        var manifest = Started("remote-silent");
        manifest.Finish();
        var document = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!;
        document["status"] = RunStatus.Running;
        File.WriteAllText(manifest.FilePath, document.ToJsonString());
        WrittenBy(manifest, "node-elsewhere-7", 4242);
        Assert.Equal(RunCondition.Interrupted, RunFolder.Condition(manifest.Folder));
    }

    [Fact]
    public void A_live_pid_here_whose_heartbeat_stopped_minutes_ago_is_a_reused_pid()
    {
        // A sleeping child stands for an unrelated process that got the dead writer's pid.
        using var other = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        var manifest = Started("reused");
        manifest.Finish();
        var document = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!;
        document["status"] = RunStatus.Running;
        File.WriteAllText(manifest.FilePath, document.ToJsonString());
        WrittenBy(manifest, Environment.MachineName, other.Id);
        Heartbeat.Write(manifest.Folder, Environment.MachineName, other.Id, DateTimeOffset.UtcNow - Heartbeat.PidReusedAfter - TimeSpan.FromSeconds(5));
        Assert.Equal(RunCondition.Interrupted, RunFolder.Condition(manifest.Folder));
        // The same live pid with a recent beat (or none, as older Workbench versions wrote) is the writer.
        Heartbeat.Write(manifest.Folder, Environment.MachineName, other.Id, DateTimeOffset.UtcNow.AddSeconds(-30));
        Assert.Equal(RunCondition.Running, RunFolder.Condition(manifest.Folder));
        File.Delete(Path.Combine(manifest.Folder, Heartbeat.FileName));
        Assert.Equal(RunCondition.Running, RunFolder.Condition(manifest.Folder));
        other.Kill();
    }
}
