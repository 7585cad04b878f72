using Workbench.Studies.Storage;

namespace Workbench.Tests.Storage;

public class RunFolderTests
{
    [Fact]
    public void Existing_non_empty_folder_needs_force()
    {
        using var temp = new TempFolder();
        var path = temp.Combine("run");
        var folder = RunFolder.Create(path, force: false);
        Assert.True(Directory.Exists(folder.Path));
        Manifest.Start(folder.Path, "compare");

        var error = Assert.Throws<RunFolderException>(() => RunFolder.Create(path, force: false));
        Assert.Contains(path, error.Message);
        Assert.Contains("--force", error.Message);
        Assert.Contains("--out", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.True(File.Exists(Path.Combine(path, Manifest.FileName)));
    }

    [Fact]
    public void An_output_folder_that_cannot_be_written_says_so_rather_than_blaming_another_run()
    {
        // A folder under a file cannot be created, whoever runs the test (a read-only mount would need privileges).
        using var temp = new TempFolder();
        File.WriteAllText(temp.Combine("notes.txt"), "x");
        var path = temp.Combine("notes.txt", "run");
        var error = Assert.Throws<RunFolderException>(() => RunFolder.Create(path, force: false));
        Assert.StartsWith($"Cannot create output folder '{path}'", error.Message);
        Assert.DoesNotContain("claimed", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Force_clears_a_run_folder_and_a_study_folder_of_runs()
    {
        using var temp = new TempFolder();
        var run = RunFolder.Create(temp.Combine("run"), force: false);
        Manifest.Start(run.Path, "compare");
        File.WriteAllText(run.File("draws.parquet"), "x");
        Directory.CreateDirectory(run.File("figures"));

        var again = RunFolder.Create(run.Path, force: true);
        Assert.Equal([RunFolder.ClaimFile], Directory.EnumerateFileSystemEntries(again.Path).Select(Path.GetFileName)); // cleared, then claimed anew

        var study = temp.Combine("study");
        foreach (var name in new[] { "standard", "w_asym" })
            Manifest.Start(RunFolder.Create(Path.Combine(study, name), force: false).Path, "compare");
        RunFolder.Create(study, force: true);
        Assert.Equal([RunFolder.ClaimFile], Directory.EnumerateFileSystemEntries(study).Select(Path.GetFileName)); // cleared, then claimed anew
    }

    [Fact]
    public void Force_refuses_to_delete_a_folder_that_is_not_a_run()
    {
        using var temp = new TempFolder();
        var user = temp.Combine("thesis");
        Directory.CreateDirectory(Path.Combine(user, "chapter1"));
        File.WriteAllText(Path.Combine(user, "notes.txt"), "precious");
        // Another tool's manifest.json does not make a folder a Workbench folder.
        File.WriteAllText(Path.Combine(user, "manifest.json"), """{ "name": "my web app" }""");

        var error = Assert.Throws<RunFolderException>(() => RunFolder.Create(user, force: true));
        Assert.Contains(user, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(user, "notes.txt")));
        Assert.True(Directory.Exists(Path.Combine(user, "chapter1")));

        // A study-like folder with one stray file is refused too.
        var mixed = temp.Combine("mixed");
        Manifest.Start(RunFolder.Create(Path.Combine(mixed, "run1"), force: false).Path, "compare");
        File.WriteAllText(Path.Combine(mixed, "todo.txt"), "keep");
        Assert.Throws<RunFolderException>(() => RunFolder.Create(mixed, force: true));
        Assert.True(File.Exists(Path.Combine(mixed, "todo.txt")));

        var file = temp.Combine("a-file");
        File.WriteAllText(file, "");
        Assert.Throws<RunFolderException>(() => RunFolder.Create(file, force: true));
    }

    [Fact]
    public void Only_a_finished_run_with_all_its_tables_counts_as_a_result()
    {
        using var temp = new TempFolder();
        var run = RunFolder.Create(temp.Combine("run"), force: false);
        Assert.False(RunFolder.IsFinishedRun(run.Path, out var reason));
        Assert.Contains(Manifest.FileName, reason);

        var manifest = Manifest.Start(run.Path, "compare");
        var writer = new ParquetTableWriter(run.TablePath("draws"), [TableColumn.Long("draw"), TableColumn.Double("lp")],
            new ParquetTableWriterOptions { FlushEvery = 10 });
        for (var i = 0; i < 25; i++) writer.Append((long)i, -1.0 * i);
        manifest.SetTable("draws", writer.RowCount);
        Assert.False(RunFolder.IsFinishedRun(run.Path, out reason));
        Assert.Contains("running", reason);

        manifest.Finish();
        Assert.False(RunFolder.IsFinishedRun(run.Path, out reason));
        Assert.Contains("draws", reason);

        writer.Complete();
        Assert.True(RunFolder.IsFinishedRun(run.Path, out reason), reason);

        manifest.SetTable("draws", 24);
        Assert.False(RunFolder.IsFinishedRun(run.Path, out reason));
        Assert.Contains("25 rows", reason);
    }
}
