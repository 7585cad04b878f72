using System.Diagnostics;
using System.Text;
using Workbench.Studies.Storage;
using Xunit.Abstractions;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Storage;

/// <summary>
/// A run whose disk fills up at any moment: on small tmpfs mounts of growing size, so that the disk fills while the
/// splits, the sampled tables, the checkpoint, the figures or the diagnostics are written, every run either finishes
/// whole or exits 1 with one line naming the file and the free space, a `failed` manifest, and no truncated or
/// temporary file left behind. Skipped, saying why, where this process may not mount a tmpfs (not root, or no mount
/// namespace rights).
/// </summary>
public sealed class FullDiskTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-full-disk-").FullName;

    public void Dispose()
    {
        Unmount();
        Directory.Delete(_dir, recursive: true);
    }

    private string Mount => Path.Combine(_dir, "disk");

    private static (int Code, string Output) Execute(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    private void Unmount()
    {
        if (Directory.Exists(Mount)) Execute("umount", Mount);
    }

    // The run of ResumeTests' kill tests with --checkpoint-every 0 (the case the issue reported): about 640 KiB whole.
    private static readonly string[] RunArgs =
    [
        "sample", "--model", "mlp", "--variant", "w-asym", "--widths", "8", "--chains", "2", "--steps", "400", "--warmup", "100",
        "--thin", "5", "--batch-size", "16", "--track", "3", "--seed", "5", "--device", "cpu", "--threads", "1", "--checkpoint-every", "0", "--eval-every", "1", "--eval-train", "true",
    ];

    [SkippableFact]
    public void A_disk_that_fills_at_any_moment_leaves_a_failed_run_naming_the_file_and_nothing_truncated()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "tmpfs mounts need Linux");
        Directory.CreateDirectory(Mount);
        var probe = Execute("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", Mount);
        Skip.If(probe.Code != 0, $"this process may not mount a tmpfs ({probe.Output.Trim()})");
        Unmount();

        var failedOn = new HashSet<string>();
        int finished = 0;
        // 40 KiB (the disk fills with the first table) to 4 MiB (the run fits), in steps that land in every phase.
        foreach (int kib in new[] { 40, 120, 200, 280, 360, 440, 520, 600, 680, 760, 4096 })
        {
            var mounted = Execute("mount", "-t", "tmpfs", "-o", $"size={kib}k", "tmpfs", Mount);
            Assert.True(mounted.Code == 0, mounted.Output);
            try
            {
                string folder = Path.Combine(Mount, "run");
                var (code, _, error) = Run([.. RunArgs, "--out", folder]);
                log.WriteLine($"{kib} KiB: exit {code} {error.Trim()}");
                Assert.True(code is 0 or 1, $"{kib} KiB: exit {code}: {error}");
                var manifest = Manifest.Load(folder);
                if (code == 0)
                {
                    finished++;
                    Assert.True(RunFolder.IsFinishedRun(folder, out var why), why);
                }
                else
                {
                    Assert.Single(error.Trim().Split('\n'));
                    Assert.Contains("No space left on device", error);
                    Assert.Matches(@"\(\d+(\.\d)? (bytes|KiB|MiB|GiB) free on its file system\)", error);
                    Assert.Equal(RunStatus.Failed, manifest.Status);
                    string failure = manifest.Get("error")!.ToString();
                    var file = System.Text.RegularExpressions.Regex.Match(failure, @"'([^']+)'").Groups[1].Value;
                    Assert.StartsWith(folder, file);
                    Assert.False(file.EndsWith(".tmp", StringComparison.Ordinal), $"names its temporary, not the file: {file}");
                    failedOn.Add(Path.GetFileName(file).Split('.', StringSplitOptions.RemoveEmptyEntries)[0]);
                    Assert.False(RunFolder.IsFinishedRun(folder, out _));
                }
                AssertNothingTruncated(folder, kib);
            }
            finally
            {
                Unmount();
            }
        }
        log.WriteLine($"failed on: {string.Join(", ", failedOn)}");
        Assert.Equal(1, finished);
        // The sweep reached several phases: tables, checkpoint, figures (each a different file the disk filled on).
        Assert.True(failedOn.Count >= 3, $"the disk filled only on {string.Join(", ", failedOn)}");
    }

    /// <summary>No temporary file; every table that exists reads whole; every figure that exists is complete.</summary>
    private static void AssertNothingTruncated(string folder, int kib)
    {
        var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories);
        Assert.DoesNotContain(files, f => f.EndsWith(".tmp", StringComparison.Ordinal));
        foreach (var file in files)
        {
            switch (Path.GetExtension(file))
            {
                case ".parquet":
                    Assert.True(ParquetTable.Read(file).Columns.Count > 0, $"{kib} KiB: {file}");
                    break;
                case ".png":
                    var png = File.ReadAllBytes(file);
                    Assert.True(png.Length > 12 && Encoding.ASCII.GetString(png, png.Length - 8, 4) == "IEND", $"{kib} KiB: truncated {file}");
                    break;
                case ".svg":
                    Assert.EndsWith("</svg>", File.ReadAllText(file).TrimEnd());
                    break;
                case ".json":
                    System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file));
                    break;
            }
        }
    }
}
