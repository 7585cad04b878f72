using System.Text.Json.Nodes;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Storage;

public class ManifestTests
{
    [Fact]
    public void Manifest_is_rewritten_atomically_with_status()
    {
        using var temp = new TempFolder();
        var manifest = Manifest.Start(temp.Path, "compare", new JsonObject { ["steps"] = 1000, ["variants"] = new JsonArray("standard", "w_asym") },
            commandLine: ["workbench", "compare", "--out", "x"], torchThreads: 2);

        var onDisk = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!.AsObject();
        Assert.Equal(RunStatus.Running, (string?)onDisk["status"]);
        Assert.Equal(1, (int?)onDisk["schema_version"]);
        Assert.Equal("compare", (string?)onDisk["study"]);
        Assert.Equal(1000, (int?)onDisk["config"]!["steps"]);
        Assert.Equal("--out", (string?)onDisk["command_line"]![2]);
        Assert.Equal(2, (int?)onDisk["machine"]!["torch_threads"]);
        Assert.Null(onDisk["ended_utc"]);
        Assert.StartsWith("compare-", (string?)onDisk["run_id"]);

        // Hold the old file open: a rewrite by rename leaves this handle on the old content.
        using var oldFile = new FileStream(manifest.FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        manifest.Set("seeds", new JsonObject { ["data"] = 1, ["chains"] = new JsonArray(11, 12) });
        manifest.SetTable("draws", 2500);
        manifest.Finish();

        using (var reader = new StreamReader(oldFile)) Assert.Contains("\"running\"", reader.ReadToEnd());
        Assert.Equal(new[] { Manifest.FileName }, Directory.GetFiles(temp.Path).Select(Path.GetFileName));

        var loaded = Manifest.Load(temp.Path);
        Assert.Equal(RunStatus.Finished, loaded.Status);
        Assert.NotNull(loaded.EndedUtc);
        Assert.True(loaded.EndedUtc >= loaded.StartedUtc);
        Assert.Equal(12, (int?)loaded.Get("seeds")!["chains"]![1]);
        Assert.Equal(2500, loaded.Tables["draws"]);
        Assert.Equal(manifest.RunId, loaded.RunId);
    }

    [Fact]
    public void Failed_run_records_status_and_error_message()
    {
        using var temp = new TempFolder();
        var manifest = Manifest.Start(temp.Path, "compare");
        manifest.Fail(new InvalidOperationException("chain 3 diverged"));

        var loaded = Manifest.Load(Path.Combine(temp.Path, Manifest.FileName));
        Assert.Equal(RunStatus.Failed, loaded.Status);
        Assert.Equal("InvalidOperationException: chain 3 diverged", loaded.Error);
        Assert.NotNull(loaded.EndedUtc);
        Assert.Throws<ArgumentException>(() => manifest.Set("status", "finished"));
    }

    [Fact]
    public void Manifest_records_provenance_with_snake_case_keys()
    {
        using var temp = new TempFolder();
        var manifest = Manifest.Start(temp.Path, "compare");
        manifest.SetFrom("tempering", new { PriorTemperature = 1.0, LikelihoodTemperature = 0.5 });

        var json = JsonNode.Parse(File.ReadAllText(manifest.FilePath))!.AsObject();
        var versions = json["package_versions"]!.AsObject();
        Assert.Equal(["TorchSharp", "Parquet.Net", "ScottPlot", "System.CommandLine", "Microsoft.Data.Analysis"], versions.Select(p => p.Key));
        Assert.Equal("6.1.0", (string?)versions["Parquet.Net"]);
        Assert.Equal("5.1.59", (string?)versions["ScottPlot"]);
        Assert.Equal("0.107.0", (string?)versions["TorchSharp"]);
        Assert.Equal(Environment.ProcessorCount, (int?)json["machine"]!["processor_count"]);
        Assert.Equal(0.5, (double?)json["tempering"]!["likelihood_temperature"]);
        Assert.False(string.IsNullOrEmpty((string?)json["workbench_version"]));
        Assert.All(json.Select(p => p.Key), key => Assert.Matches("^[a-z_]+$", key));
    }

    [Fact]
    public void Git_commit_is_read_from_dot_git_including_worktrees_and_packed_refs()
    {
        using var temp = new TempFolder();
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        const string other = "89abcdef0123456789abcdef0123456789abcdef";
        var common = Directory.CreateDirectory(temp.Combine("main", ".git")).FullName;
        File.WriteAllText(Path.Combine(common, "HEAD"), "ref: refs/heads/main\n");
        Directory.CreateDirectory(Path.Combine(common, "refs", "heads"));
        File.WriteAllText(Path.Combine(common, "refs", "heads", "main"), commit + "\n");
        File.WriteAllText(Path.Combine(common, "packed-refs"), $"# pack-refs with: peeled\n{other} refs/heads/storage\n");
        var nested = Directory.CreateDirectory(temp.Combine("main", "src", "deep")).FullName;
        Assert.Equal(commit, Provenance.GitCommit(nested));

        // A worktree: ".git" is a file pointing at a folder whose "commondir" leads back to the main .git.
        var worktreeGit = Directory.CreateDirectory(Path.Combine(common, "worktrees", "wt")).FullName;
        File.WriteAllText(Path.Combine(worktreeGit, "HEAD"), "ref: refs/heads/storage\n");
        File.WriteAllText(Path.Combine(worktreeGit, "commondir"), "../..\n");
        var worktree = Directory.CreateDirectory(temp.Combine("wt")).FullName;
        File.WriteAllText(Path.Combine(worktree, ".git"), $"gitdir: {worktreeGit}\n");
        Assert.Equal(other, Provenance.GitCommit(worktree));

        // A branch with no commits yet (HEAD names a ref that does not exist) has no commit to record.
        File.WriteAllText(Path.Combine(common, "HEAD"), "ref: refs/heads/unborn\n");
        Assert.Null(Provenance.GitCommit(nested));
    }
}
