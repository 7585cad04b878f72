using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Cli;

namespace Workbench.Tests.Studies;

/// <summary>The BNN presets carry the paper's reference ELRG settings (bnn/ code), and resnet20-bnn its W-Asym masks.</summary>
public class BnnPresetTests
{
    private static JsonNode Config(string preset)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = WorkbenchCli.Run(["compare", "--preset", preset, "--print-config"], output, error);
        Assert.True(code == 0, error.ToString());
        return JsonNode.Parse(output.ToString())!;
    }

    private static JsonNode Elrg(JsonNode config) =>
        config["samplers"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "elrg")!;

    [Theory]
    [InlineData("make-run")]
    [InlineData("bnn-depth8")]
    [InlineData("bnn-depth16")]
    public void Mlp_presets_use_the_per_layer_prior_with_precision_0_01(string preset)
    {
        var elrg = Elrg(Config(preset));
        Assert.Equal(0.01, elrg["prior_precision"]!.GetValue<double>());
        Assert.Equal(5e-4, elrg["lr"]!.GetValue<double>());
        Assert.Equal(-10, elrg["params"]!["fixed_log_var"]!.GetValue<double>());
        Assert.Equal(0, Config(preset)["val_fraction"]!.GetValue<double>());
    }

    [Fact]
    public void Resnet_preset_fixes_log_variance_at_minus_12_with_adam_1e_3_and_precision_1()
    {
        var config = Config("bnn-resnet20");
        var elrg = Elrg(config);
        Assert.Equal(-12, elrg["params"]!["fixed_log_var"]!.GetValue<double>());
        Assert.Equal(4, elrg["params"]!["rank"]!.GetValue<double>());
        Assert.Equal(1e-3, elrg["lr"]!.GetValue<double>());
        Assert.Equal(1, elrg["prior_precision"]!.GetValue<double>());
        Assert.Equal(250, config["batch_size"]!.GetValue<int>());
    }

    [Fact]
    public void Bayesian_resnet20_fixes_12_stem_entries_and_none_in_the_head()
    {
        // The reference's conv_f 12 per output channel; its Linear num_fixed 0. Trainable count: resnet20 standard 272,474
        // minus the fixed entries: stem 16·12, stage convs 16·8·6 + 32·12·6 + 64·16·6, skips 32·6 + 64·8.
        using var net = ModelCatalog.Create(new ModelOptions("resnet20-bnn", Variant.WAsym));
        var stem = net.FixedTensors.Single(f => f.Layer == "stem.weight");
        Assert.Equal(12, stem.Settings["n_fix"]);
        Assert.Equal(16 * 12, stem.FixedEntries);
        Assert.DoesNotContain(net.FixedTensors, f => f.Layer == "head.weight");
        long fixedEntries = 16 * 12 + 16 * 8 * 6 + 32 * 12 * 6 + 64 * 16 * 6 + 32 * 6 + 64 * 8;
        Assert.Equal(fixedEntries, net.FixedCount);
        Assert.Equal(272_474 - fixedEntries, net.TrainableCount);
        Assert.Equal(64 * 10, net.Layout["head.weight"].Count);
    }
}
