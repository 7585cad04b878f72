using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Sampling;

namespace Workbench.Tests.Studies;

public sealed class StudyConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Valid = """
        {
          "name": "tiny",
          "question": "does it run?",
          "models": [ { "label": "small", "model": "mlp", "widths": [ 16 ] } ],
          "variants": [ "standard", "w-asym" ],
          "samplers": [ { "name": "sgld", "lr": 0.05 }, { "name": "elrg", "lr": 0.001, "params": { "rank": 2 } } ],
          "seeds": [ 0, 1 ],
          "chains": 2,
          "budget": { "steps": 40 },
          "batch_size": 32
        }
        """;

    /// <summary>The valid config with one change applied at a JSON path ("a.b[0].c"); null value removes the key.</summary>
    private static string With(string path, string? json)
    {
        var root = JsonNode.Parse(Valid)!;
        var parts = path.Split('.');
        JsonNode node = root;
        foreach (var part in parts[..^1]) node = Step(node, part);
        string last = parts[^1];
        if (last.EndsWith(']'))
        {
            var array = (JsonArray)Step(node, last[..last.IndexOf('[')]);
            int i = int.Parse(last[(last.IndexOf('[') + 1)..^1]);
            array[i] = json is null ? null : JsonNode.Parse(json);
        }
        else if (json is null) ((JsonObject)node).Remove(last);
        else node[last] = JsonNode.Parse(json);
        return root.ToJsonString();

        static JsonNode Step(JsonNode node, string part) => part.EndsWith(']')
            ? node[part[..part.IndexOf('[')]]![int.Parse(part[(part.IndexOf('[') + 1)..^1])]!
            : node[part]!;
    }

    [Fact]
    public void Valid_config_reads_with_defaults_and_round_trips_through_its_json()
    {
        var config = StudyConfig.Parse("study.json", Valid);
        Assert.Equal("tiny", config.Name);
        Assert.Equal([Variant.Standard, Variant.WAsym], config.Variants);
        Assert.Equal(["sgld", "elrg"], config.Samplers.Select(s => s.Label));
        Assert.Equal(2.0, config.Samplers[1].Params["rank"]);
        Assert.Equal(new StudyBudget("steps", 40, null), config.Budget);
        Assert.Equal(0.3, config.WarmupFraction);
        Assert.Equal(0.9, config.TargetAccuracy);
        // study.json is the config in full: reading it back gives the same study.
        var again = StudyConfig.Parse("study.json", config.ToJson().ToJsonString());
        Assert.Equal(config.ToJson().ToJsonString(), again.ToJson().ToJsonString());
    }

    [Theory]
    // the document
    [InlineData("{ \"name\": ", null, "not valid JSON")]
    [InlineData("[1, 2]", null, "must be a JSON object")]
    // top level
    [InlineData("name", null, "name is required")]
    [InlineData("name", "\"a/b\"", "name must be letters")]
    [InlineData("sampler", "\"sgld\"", "unknown key 'sampler'")]
    [InlineData("chains", "\"2\"", "chains must be a whole number, got \"2\"")]
    [InlineData("chains", "0", "chains must be at least 1, got 0")]
    [InlineData("chains", "1.5", "chains must be a whole number")]
    [InlineData("chain_mode", "\"parallel\"", "chain_mode must be auto, batched or sequential")]
    [InlineData("dtype", "\"float16\"", "dtype must be float32 or float64")]
    [InlineData("batch_size", "0", "batch_size must be at least 1")]
    [InlineData("warmup_fraction", "1", "warmup_fraction must be in [0, 1)")]
    [InlineData("draws", "0", "draws must be at least 1")]
    [InlineData("prior_std", "0", "prior_std must be positive")]
    [InlineData("temperature", "-1", "temperature must be positive")]
    [InlineData("target_accuracy", "1.5", "target_accuracy must be in (0, 1]")]
    [InlineData("eval_every", "0", "eval_every must be at least 1")]
    [InlineData("eval_train", "\"yes\"", "eval_train must be true or false")]
    [InlineData("function_points", "-1", "function_points must be ≥ 0")]
    [InlineData("question", "3", "question must be a string, got 3")]
    [InlineData("save_positions", "-1", "save_positions must be ≥ 0")]
    [InlineData("augment", "\"yes\"", "augment must be true or false, got \"yes\"")]
    [InlineData("augment", "1", "augment must be true or false, got 1")]
    // models
    [InlineData("models", null, "models is required")]
    [InlineData("models", "[]", "models must not be empty")]
    [InlineData("models", "{}", "models must be a list")]
    [InlineData("models[0]", "\"mlp\"", "models[0] must be a JSON object")]
    [InlineData("models[0].model", null, "models[0].model is required")]
    [InlineData("models[0].model", "\"resnet\"", "models[0].model 'resnet' is not a model")]
    [InlineData("models[0].model", "\"linreg\"", "linreg has no symmetry-reduced variants")]
    [InlineData("models[0].label", "\"a b\"", "models[0].label must be letters")]
    [InlineData("models[0].widths", "[16, 0]", "models[0].widths[1] must be a whole number ≥ 1")]
    [InlineData("models[0].activation", "\"tanh\"", "models[0].activation must be relu or gelu")]
    [InlineData("models[0].n_fix", "-1", "models[0].n_fix must be ≥ 0")]
    [InlineData("models[0].kappa", "0", "models[0].kappa must be positive")]
    [InlineData("models[0].figlu_std", "-2", "models[0].figlu_std must be positive")]
    [InlineData("models[0].figlu_std", "\"0/sqrt(d)\"", "models[0].figlu_std must be positive")]
    [InlineData("models[0].figlu_std", "\"1/sqrt(n)\"", "models[0].figlu_std must be a positive number (the sd of F's entries) or C/sqrt(d)")]
    [InlineData("models[0].figlu_std", "[1]", "models[0].figlu_std must be a positive number")]
    [InlineData("models[0].mask_seed", "-3", "models[0].mask_seed must be ≥ 0")]
    [InlineData("models[0].width", "16", "unknown key 'models[0].width'")]
    [InlineData("models", "[{\"model\": \"mlp\"}, {\"model\": \"mlp\"}]", "models[1] repeats the label 'mlp'")]
    // variants
    [InlineData("variants", "[\"wasym\"]", "variants[0] 'wasym' is not a variant")]
    [InlineData("variants", "[]", "variants must not be empty")]
    [InlineData("variants", "[\"standard\", \"standard\"]", "variants lists a variant twice")]
    // samplers
    [InlineData("samplers", null, "samplers is required")]
    [InlineData("samplers", "[]", "samplers must not be empty")]
    [InlineData("samplers[0].name", null, "samplers[0].name is required")]
    [InlineData("samplers[0].name", "\"nuts\"", "samplers[0].name 'nuts' is not a sampler")]
    [InlineData("samplers[1].params", "{\"ranks\": 2}", "samplers[1].params.ranks is not a hyperparameter of elrg")]
    [InlineData("samplers[1].params", "{\"rank\": \"2\"}", "samplers[1].params.rank must be a number")]
    [InlineData("samplers[0].lr", "0", "samplers[0].lr must be positive")]
    [InlineData("samplers[0].warmup_fraction", "-0.1", "samplers[0].warmup_fraction must be in [0, 1)")]
    [InlineData("samplers[0].prior_std", "0", "samplers[0].prior_std must be positive")]
    [InlineData("samplers[0].temperature", "0", "samplers[0].temperature must be positive")]
    [InlineData("samplers[0].step_size", "0.1", "unknown key 'samplers[0].step_size'")]
    [InlineData("samplers", "[{\"name\": \"sgld\"}, {\"name\": \"sgld\"}]", "samplers[1] repeats the label 'sgld'")]
    // seeds
    [InlineData("seeds", "[]", "seeds must not be empty")]
    [InlineData("seeds", "[1, 1]", "seeds lists a seed twice")]
    [InlineData("seeds", "[-1]", "seeds[0] must be a whole number ≥ 0")]
    // budget
    [InlineData("budget", null, "budget is required")]
    [InlineData("budget", "{}", "budget must give one of steps, epochs, grad_evals, wall_time_s")]
    [InlineData("budget", "{\"steps\": 10, \"epochs\": 2}", "budget gives steps and epochs: give exactly one")]
    [InlineData("budget", "{\"epochs\": 0}", "budget.epochs must be positive")]
    [InlineData("budget", "{\"steps\": 2.5}", "budget.steps must be a whole number")]
    [InlineData("budget", "{\"wall_time_s\": 60}", "budget.max_steps is required with wall_time_s")]
    [InlineData("budget", "{\"epochs\": 2, \"max_steps\": 10}", "budget.max_steps applies only to a wall_time_s budget")]
    [InlineData("budget", "{\"epochs\": 2, \"minutes\": 10}", "unknown key 'budget.minutes'")]
    public void Every_mistake_is_one_line_naming_the_key(string pathOrDocument, string? value, string expected)
    {
        string json = pathOrDocument.StartsWith('{') || pathOrDocument.StartsWith('[') ? pathOrDocument : With(pathOrDocument, value);
        var e = Assert.Throws<OptionException>(() => StudyConfig.Parse("study.json", json));
        Assert.StartsWith("study.json: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Full_size_replaces_top_level_keys_and_needs_a_section()
    {
        string json = With("full_size", "{\"seeds\": [0, 1, 2], \"budget\": {\"epochs\": 50}}");
        var full = StudyConfig.Parse("study.json", json, fullSize: true);
        Assert.Equal([0UL, 1, 2], full.Seeds);
        Assert.Equal(new StudyBudget("epochs", 50, null), full.Budget);
        Assert.Equal([0UL, 1], StudyConfig.Parse("study.json", json).Seeds);
        Assert.Contains("needs a 'full_size' section", Assert.Throws<OptionException>(() => StudyConfig.Parse("study.json", Valid, fullSize: true)).Message);
        Assert.Contains("unknown key 'full_size.seed'",
            Assert.Throws<OptionException>(() => StudyConfig.Parse("study.json", With("full_size", "{\"seed\": [3]}"), fullSize: true)).Message);
        Assert.Contains("chains must be at least 1",
            Assert.Throws<OptionException>(() => StudyConfig.Parse("study.json", With("full_size", "{\"chains\": 0}"), fullSize: true)).Message);
    }

    [Theory]
    // Found only against the data, the networks and the samplers — still before anything runs.
    [InlineData("data", "\"no/such/folder\"", "data:")]
    [InlineData("batch_size", "9000", "batch size 9000 (sampler 'sgld') exceeds the 8000 training examples")]
    [InlineData("samplers[1].params", "{\"rank\": 0.5}", "rank must be a whole number")]
    [InlineData("models[0]", "{\"model\": \"mlp-bnn\", \"widths\": [16]}", "model 'mlp-bnn' (standard): --widths does not apply")]
    public void Mistakes_found_against_data_networks_and_samplers_stop_the_study_before_it_starts(string path, string value, string expected)
    {
        var config = StudyConfig.Parse("study.json", With(path, value));
        string out_ = Path.Combine(_dir, "never");
        var e = Assert.Throws<OptionException>(() => ComparisonStudy.Execute(config, new StudyLaunch { Out = out_, Source = "study.json" }, TextWriter.Null));
        Assert.Contains(expected, e.Message);
        Assert.False(Directory.Exists(out_), "nothing may be written when the config is wrong");
    }

    [Fact]
    public void Grid_expands_models_variants_samplers_and_seeds_into_run_folders()
    {
        var config = StudyConfig.Parse("study.json", With("budget", "{\"epochs\": 2}")) with { SavePositions = 3 };
        var cells = ComparisonStudy.Expand(config, "S", trainingSize: 8000, "study.json");
        Assert.All(cells, c => Assert.Equal(3, c.Options.SavePositions));
        Assert.Equal(2 * 2 * 2, cells.Count);
        Assert.Equal("small-w-asym-elrg-seed1", cells[^1].Cell.Id);
        Assert.Equal(Path.Combine("S", "runs", "small-w-asym-elrg-seed1"), cells[^1].Options.Out);
        var sgld = cells[0].Options;
        // 2 epochs of 8000 examples at batch 32: 500 steps; warm-up 30 %, then about 20 draws.
        Assert.Equal(500, sgld.Steps);
        Assert.Equal(150, sgld.Warmup);
        Assert.Equal(350 / 20, sgld.Thin);
        Assert.Equal(2.0, sgld.MaxEpochs);
        Assert.Equal(Variant.Standard, sgld.Model.Variant);
        var elrg = cells[^1].Options;
        Assert.Equal((0, 1, 20), (elrg.Warmup, elrg.Thin, elrg.Draws));
        Assert.Equal(Variant.WAsym, elrg.Model.Variant);
        Assert.Equal(1UL, elrg.Seed);
    }

    [Fact]
    public void Augment_is_off_unless_set_reaches_every_run_and_refuses_full_batch_methods()
    {
        var plain = StudyConfig.Parse("study.json", Valid);
        Assert.False(plain.Augment);
        Assert.False(plain.ToJson()["augment"]!.GetValue<bool>()); // written out in full, so --print-config shows it
        Assert.All(ComparisonStudy.Expand(plain, "S", trainingSize: 8000, "study.json"), c => Assert.False(c.Options.Augment));

        var augmented = StudyConfig.Parse("study.json", With("augment", "true"));
        Assert.True(augmented.Augment);
        Assert.True(StudyConfig.Parse("study.json", augmented.ToJson().ToJsonString()).Augment);
        Assert.All(ComparisonStudy.Expand(augmented, "S", trainingSize: 8000, "study.json"), c => Assert.True(c.Options.Augment));

        var hmc = StudyConfig.Parse("study.json", With("samplers", "[{\"name\": \"sgld\"}, {\"name\": \"hmc\"}]")) with { Augment = true };
        var e = Assert.Throws<OptionException>(() => ComparisonStudy.Expand(hmc, "S", trainingSize: 8000, "study.json"));
        Assert.Contains("study.json: augment applies to minibatch methods; sampler 'hmc'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Every_shipped_preset_reads_and_so_does_its_full_size()
    {
        Assert.Contains("make-run", StudyPresets.Names);
        Assert.Contains("bnn-depth16", StudyPresets.Names);
        Assert.Contains("bnn-depth8", StudyPresets.Names);
        Assert.Contains("sgmcmc", StudyPresets.Names);
        foreach (var name in StudyPresets.Names)
        {
            var config = StudyPresets.Get(name);
            Assert.Equal(name, config.Name);
            Assert.NotEmpty(StudyPresets.Description(name));
            if (config.FullSize is not null) StudyPresets.Get(name, fullSize: true);
        }
        Assert.Equal(16, StudyPresets.Get("bnn-depth16").Models[0].Options.Depth);
        Assert.Contains("unknown preset 'nope'", Assert.Throws<OptionException>(() => StudyPresets.Get("nope")).Message);
    }
}
