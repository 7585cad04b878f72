using System.Diagnostics;
using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Cli;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Cli;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("standard", 935_434L, 0L)]
    [InlineData("w-asym", 834_570L, 100_864L)]
    public void Describe_prints_the_papers_counts_as_json(string variant, long trainable, long fixedCount)
    {
        var (code, output, _) = Run("describe", "--model", "mlp-mnist-lmc", "--variant", variant);
        Assert.Equal(0, code);
        var json = JsonNode.Parse(output)!;
        Assert.Equal(trainable, json["trainable_parameters"]!.GetValue<long>());
        Assert.Equal(fixedCount, json["fixed_parameters"]!.GetValue<long>());
    }

    [Fact]
    public void WAsym_mask_is_identical_across_processes()
    {
        // Another process (a fresh runtime) builds the same W-Asym network from the same mask seed; every M and F
        // hash must agree with this process's, and a different seed must change them.
        static string[] InProcess(ulong seed)
        {
            using var net = ModelCatalog.Create(new ModelOptions("mlp-mnist-lmc", Variant.WAsym, MaskSeed: seed));
            return net.FixedTensors.Select(f => f.Sha256).ToArray();
        }
        string[] OtherProcess(ulong seed)
        {
            string cli = Path.Combine(AppContext.BaseDirectory, "workbench.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { cli, "describe", "--model", "mlp-mnist-lmc", "--variant", "w-asym", "--mask-seed", seed.ToString() })
                start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"describe failed in a child process: {error}");
            return JsonNode.Parse(output)!["fixed_tensors"]!.AsArray().Select(f => f!["sha256"]!.GetValue<string>()).ToArray();
        }

        var here = InProcess(5);
        Assert.Equal(4, here.Length);
        Assert.Equal(here, OtherProcess(5));
        Assert.NotEqual(here, OtherProcess(6));
    }

    [Theory]
    [InlineData("--chains", "0", "--chains")]
    [InlineData("--warmup", "5000", "--warmup")]
    [InlineData("--lr", "-1", "--lr")]
    [InlineData("--variant", "triangular", "--variant")]
    [InlineData("--model", "resnet1000", "resnet1000")]
    [InlineData("--widths", "12,x", "--widths")]
    [InlineData("--device", "tpu", "--device")]
    [InlineData("--data", "does/not/exist", "does/not/exist")]
    [InlineData("--chains", "many", "many")]
    [InlineData("--sampler", "nuts", "nuts")]
    [InlineData("--max-epochs", "0", "--max-epochs")]
    [InlineData("--max-grad-evals", "0", "--max-grad-evals")]
    [InlineData("--max-grad-evals", "lots", "lots")]
    [InlineData("--max-wall-time", "-1", "--max-wall-time")]
    [InlineData("--progress-every", "-1", "--progress-every")]
    [InlineData("--progress-draws", "0", "--progress-draws")]
    public void Bad_options_give_one_line_naming_the_problem_and_exit_2(string option, string value, string named)
    {
        var args = new List<string> { "sample", "--steps", "10", "--warmup", "0", "--out", Path.Combine(_dir, "run") };
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        var (code, output, error) = Run([.. args]);
        Assert.Equal(2, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.False(File.Exists(Path.Combine(_dir, "run", "manifest.json")) && !output.Contains("finished"), "a rejected run must not leave a manifest behind");
    }

    /// <summary>Options that conflict or that the run would ignore: refused up front, one line, exit 2, no run folder.</summary>
    [Theory]
    [InlineData("--param step_size", "--lr 0.01 --param step_size=0.02")]
    [InlineData("--n-fix applies to --variant w-asym", "--n-fix 4 --variant standard")]
    [InlineData("--kappa applies to --variant w-asym", "--kappa 2 --variant sigma-asym")]
    [InlineData("--batch-size does not apply to hmc", "--sampler hmc --batch-size 64")]
    [InlineData("overflows the noise scale", "--lr 1e308")]
    [InlineData("overflows the noise scale", "--lr 1e10 --temperature 1e300")]
    public void Conflicting_or_ignored_options_are_refused_with_one_line_and_exit_2(string named, string options)
    {
        var folder = Path.Combine(_dir, "refused");
        var (code, _, error) = Run(["sample", "--model", "mlp", "--widths", "8", "--steps", "10", "--warmup", "0", "--out", folder,
            .. options.Split(' ')]);
        Assert.Equal(2, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(named, lines[0]);
        Assert.False(Directory.Exists(folder), "a refused run must not create its folder");
    }

    [Fact]
    public void Existing_run_folder_is_not_overwritten_without_force()
    {
        string folder = Path.Combine(_dir, "taken");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "mine");
        var (code, _, error) = Run("sample", "--steps", "10", "--warmup", "0", "--out", folder);
        Assert.Equal(2, code);
        Assert.Contains(folder, error);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(folder, "notes.txt")));
    }

    [Fact]
    public void Help_lists_the_commands()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "sample", "compare", "describe" }) Assert.Contains(command, output);
    }
}
