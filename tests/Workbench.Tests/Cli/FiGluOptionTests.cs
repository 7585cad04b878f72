using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Cli;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using static Workbench.Tests.Cli.InProcessCli;

namespace Workbench.Tests.Cli;

/// <summary>Issue #15: --figlu-std (and the config key figlu_std) for every command that builds a σ-Asym network.</summary>
public sealed class FiGluOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-figlu-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The sd recorded with each FiGLU F of a manifest's or describe's model node.</summary>
    private static double[] FiGluStds(JsonNode model) => model["fixed_tensors"]!.AsArray().Where(f => f!["kind"]!.GetValue<string>() == "figlu")
        .Select(f => f!["settings"]!["std"]!.GetValue<double>()).ToArray();

    [Fact]
    public void Sample_records_the_figlu_sd_in_its_manifest_and_a_resume_reads_it_back()
    {
        string folder = Path.Combine(_dir, "sample");
        var (code, _, error) = Run("sample", "--model", "mlp", "--widths", "16,64", "--variant", "sigma-asym", "--figlu-std", "1/sqrt(d)",
            "--steps", "12", "--warmup", "4", "--thin", "4", "--chains", "1", "--threads", "1", "--eval-train", "false", "--out", folder);
        Assert.True(code == 0, error);
        var manifest = Manifest.Load(folder);
        Assert.Equal("1/sqrt(d)", manifest.Get("config")!["figlu_std"]!.GetValue<string>());
        Assert.Equal("1/sqrt(d)", manifest.Get("model")!["figlu_std"]!.GetValue<string>());
        Assert.Equal([0.25, 0.125], FiGluStds(manifest.Get("model")!));
        Assert.Equal(FiGluScale.InverseSqrtWidth, SamplingRun.OptionsFromManifest(manifest, folder, threads: null).Model.FiGluStd);
    }

    [Fact]
    public void Describe_and_zoo_take_the_figlu_sd()
    {
        var (code, output, error) = Run("describe", "--model", "mlp", "--widths", "8", "--variant", "sigma-asym", "--figlu-std", "0.125");
        Assert.True(code == 0, error);
        Assert.Equal([0.125], FiGluStds(JsonNode.Parse(output)!));

        string zoo = Path.Combine(_dir, "zoo");
        (code, _, error) = Run("zoo", "--preset", "zoo-mlp", "--variants", "sigma-asym", "--networks", "1", "--epochs-max", "1",
            "--train-examples", "256", "--eval-examples", "64", "--figlu-std", "2/sqrt(d)", "--out", zoo);
        Assert.True(code == 0, error);
        var manifest = Manifest.Load(zoo);
        Assert.Equal("2/sqrt(d)", manifest.Get("config")!["figlu_std"]!.GetValue<string>());
        Assert.Equal([2 / Math.Sqrt(16)], FiGluStds(manifest.Get("variants")!["sigma-asym"]!));
    }

    [Fact]
    public void A_study_config_takes_the_figlu_sd_as_text_and_writes_it_back()
    {
        const string json = """
            { "name": "f", "models": [ { "model": "mlp", "widths": [ 16 ], "figlu_std": "0.5/sqrt(d)" }, { "label": "b", "model": "mlp", "figlu_std": 0.2 } ],
              "samplers": [ { "name": "sgld" } ], "budget": { "steps": 10 } }
            """;
        var config = StudyConfig.Parse("test", json);
        Assert.Equal(new FiGluScale(0.5, true), config.Models[0].Options.FiGluStd);
        Assert.Equal(new FiGluScale(0.2, false), config.Models[1].Options.FiGluStd);
        var written = config.ToJson();
        Assert.Equal("0.5/sqrt(d)", written["models"]![0]!["figlu_std"]!.GetValue<string>());
        Assert.Equal(0.2, written["models"]![1]!["figlu_std"]!.GetValue<double>());
        Assert.Equal(written.ToJsonString(), StudyConfig.Parse("again", written.ToJsonString()).ToJson().ToJsonString());
    }

    [Theory]
    [InlineData("make-run")]
    [InlineData("bnn-depth8")]
    [InlineData("bnn-depth16")]
    public void The_bnn_presets_use_one_over_root_d_and_say_so(string preset)
    {
        var config = StudyPresets.Get(preset);
        Assert.All(config.Models, m => Assert.Equal(FiGluScale.InverseSqrtWidth, m.Options.FiGluStd));
        Assert.Contains("1/√d", config.Question);
        // The report of a study with σ-Asym cells names the sd and why it is the study's choice.
        var plan = new StudyPlan(preset, config.Question, 0.9, [new StudyCell("c", config.Models[0].Label, "sigma-asym", "sgld", 0, "runs/c")], config.ToJson());
        string paragraph = StudyReport.FiGluParagraph(plan)!;
        Assert.Contains($"`{config.Models[0].Label}` sd 1/sqrt(d) (d = the hidden width), set by the study", paragraph);
        Assert.Null(StudyReport.FiGluParagraph(plan with { Cells = [new StudyCell("c", config.Models[0].Label, "w-asym", "sgld", 0, "runs/c")] }));
    }

    [Theory]
    [InlineData("sample", "0")]
    [InlineData("sample", "1/sqrt(x)")]
    [InlineData("compare", "abc")]
    [InlineData("describe", "-1")]
    [InlineData("lmc", "1,nope")]
    [InlineData("lmc", "1,1")]
    [InlineData("merge", "1,2")]
    [InlineData("mli", "0/sqrt(d)")]
    [InlineData("zoo", "sqrt(d)")]
    public void A_bad_figlu_sd_is_one_line_and_exit_2(string command, string value)
    {
        string[] args = command == "describe" ? ["describe", "--model", "mlp", "--figlu-std", value]
            : [command, "--figlu-std", value, "--out", Path.Combine(_dir, "bad")];
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("--figlu-std", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")), "nothing is written for a bad option");
    }
}
