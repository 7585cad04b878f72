using System.Text.Json.Nodes;
using Workbench.Architectures;
using Workbench.Architectures.Layers;
using Workbench.Samplers;
using Workbench.Studies.Sampling;

namespace Workbench.Studies.Comparisons;

/// <summary>One network of a study: a catalog model with its shape settings, under a label unique in the study.</summary>
public sealed record StudyModel(string Label, ModelOptions Options);

/// <summary>One method of a study with its own settings; the study-wide ones apply where these are null.</summary>
public sealed record StudySampler(string Label, string Name, double? Lr, IReadOnlyDictionary<string, double> Params,
    int? BatchSize, double? WarmupFraction, int? Draws, double? PriorStd, double? Temperature)
{
    /// <summary>The per-layer prior's precision λ (N(0, 1/(λ·fan)); mfvi and elrg), overriding the study's.</summary>
    public double? PriorPrecision { get; init; }
}

/// <summary>How long each run goes: exactly one of steps, epochs, gradient evaluations (per chain) or wall time (per
/// chain group, with a step cap).</summary>
public sealed record StudyBudget(string Kind, double Value, int? MaxSteps)
{
    public static readonly IReadOnlyList<string> Kinds = ["steps", "epochs", "grad_evals", "wall_time_s"];

    public JsonObject ToJson()
    {
        var node = new JsonObject { [Kind] = Kind is "steps" or "grad_evals" ? (long)Value : Value };
        if (MaxSteps is { } cap) node["max_steps"] = cap;
        return node;
    }

    public override string ToString() => Kind switch
    {
        "steps" => $"{Value:0} steps",
        "epochs" => $"{Value:0.##} epochs",
        "grad_evals" => $"{Value:0} gradient evaluations per chain",
        _ => $"{Value:0.#} s of wall time per chain group (at most {MaxSteps} steps)",
    };
}

/// <summary>
/// A study: models × variants × samplers × seeds, K chains per run, on one data set with one budget per run. Read
/// from JSON by <see cref="Parse"/> (the format is in the README, section "Study configs"), checked completely before
/// anything runs, and written back in full by <see cref="ToJson"/> (the study folder's study.json).
/// </summary>
public sealed record StudyConfig
{
    public required string Name { get; init; }
    public string Question { get; init; } = "";
    public string Data { get; init; } = "mnist-subset";
    public required IReadOnlyList<StudyModel> Models { get; init; }
    public required IReadOnlyList<Variant> Variants { get; init; }
    public required IReadOnlyList<StudySampler> Samplers { get; init; }
    public required IReadOnlyList<ulong> Seeds { get; init; }
    public int Chains { get; init; } = 2;
    public string ChainMode { get; init; } = "auto";
    public required StudyBudget Budget { get; init; }
    public int BatchSize { get; init; } = 128;
    /// <summary>Every run's training batches randomly mirrored and cropped (--augment; image data, minibatch methods).</summary>
    public bool Augment { get; init; }
    /// <summary>Runs every cell even when the up-front estimate says it needs more memory than the process may use or
    /// more than a day (<c>yes_i_know</c>, --yes-i-know; see the README, "Resource limits").</summary>
    public bool YesIKnow { get; init; }
    /// <summary>Markov-chain samplers: share of each run's steps discarded as warm-up.</summary>
    public double WarmupFraction { get; init; } = 0.3;
    /// <summary>Draws per chain: Markov chains are thinned to about this many after warm-up; fitted methods draw this many.</summary>
    public int Draws { get; init; } = 20;
    public double PriorStd { get; init; } = 1.0;
    /// <summary>The per-layer prior's precision λ for every sampler that does not set its own (null: N(0, σ²I)).</summary>
    public double? PriorPrecision { get; init; }
    /// <summary>Share of the training rows held out as a validation split (seeded; never trained on).</summary>
    public double ValFraction { get; init; }
    public double Temperature { get; init; } = 1.0;
    /// <summary>The BMA test accuracy whose first crossing the report times (in epochs, gradient evaluations, seconds).</summary>
    public double TargetAccuracy { get; init; } = 0.9;
    public int EvalEvery { get; init; } = 1;
    public bool EvalTrain { get; init; }
    public int FunctionPoints { get; init; } = 128;
    public bool Canonical { get; init; } = true;
    public int Track { get; init; } = 8;
    public int Threads { get; init; }
    public string Dtype { get; init; } = "float32";
    public int? CheckpointEvery { get; init; }
    public int? ProgressEvery { get; init; }
    public int ProgressDraws { get; init; } = 8;
    /// <summary>Every n-th draw's full θ saved in each run (for `workbench barriers`); 0 = off.</summary>
    public int SavePositions { get; init; }
    /// <summary>Presets: the documented full-size settings (top-level keys that replace these), applied by --full-size.</summary>
    public JsonObject? FullSize { get; init; }

    private static readonly string[] TopLevelKeys =
    [
        "name", "question", "data", "models", "variants", "samplers", "seeds", "chains", "chain_mode", "budget", "batch_size", "augment",
        "warmup_fraction", "draws", "prior_std", "prior_precision", "val_fraction", "temperature", "target_accuracy", "eval_every", "eval_train", "function_points",
        "canonical", "track", "threads", "dtype", "checkpoint_every", "progress_every", "progress_draws", "save_positions", "full_size", "yes_i_know",
    ];

    /// <summary>Reads and checks a config; <paramref name="source"/> names it in messages (a file name or preset:NAME).</summary>
    public static StudyConfig Parse(string source, string json, bool fullSize = false)
    {
        var root = ConfigReader.Parse(source, json);
        if (fullSize)
        {
            if (root.Node["full_size"] is not JsonObject full)
                throw new OptionException($"{source}: --full-size needs a 'full_size' section in the config, and it has none");
            var merged = (JsonObject)root.Node.DeepClone();
            merged.Remove("full_size");
            foreach (var (key, value) in full)
            {
                if (!TopLevelKeys.Contains(key) || key == "full_size")
                    throw new OptionException($"{source}: unknown key 'full_size.{key}' (a full_size section replaces top-level keys: {string.Join(", ", TopLevelKeys.Where(k => k != "full_size"))})");
                merged[key] = value?.DeepClone();
            }
            root = new ConfigReader(source, "", merged);
        }
        return Read(root);
    }

    private static StudyConfig Read(ConfigReader r)
    {
        string name = r.String("name") ?? throw r.Error("name", "is required (it names the study folder: results/<name>)");
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || name.StartsWith('.'))
            throw r.Error("name", $"must be letters, digits, '-', '_' or '.' (it names a folder), got \"{name}\"");

        var models = ReadModels(r);
        var variants = (r.Strings("variants") ?? [.. VariantNames.All]).Select((v, i) => VariantNames.All.Contains(v) ? VariantNames.Parse(v)
            : throw r.Error($"variants[{i}]", $"'{v}' is not a variant (use {string.Join(", ", VariantNames.All)})")).ToList();
        if (variants.Count == 0) throw r.Error("variants", "must not be empty");
        if (variants.Distinct().Count() != variants.Count) throw r.Error("variants", "lists a variant twice");
        var samplers = ReadSamplers(r);
        var seeds = r.Seeds("seeds") ?? [0];
        if (seeds.Count == 0) throw r.Error("seeds", "must not be empty");
        if (seeds.Distinct().Count() != seeds.Count) throw r.Error("seeds", "lists a seed twice");

        var config = new StudyConfig
        {
            Name = name,
            Question = r.String("question") ?? "",
            Data = r.String("data") ?? "mnist-subset",
            Models = models, Variants = variants, Samplers = samplers, Seeds = seeds,
            Chains = r.Int("chains", 1) ?? 2,
            ChainMode = r.String("chain_mode") ?? "auto",
            Budget = ReadBudget(r),
            BatchSize = r.Int("batch_size", 1) ?? 128,
            Augment = r.Bool("augment") ?? false,
            YesIKnow = r.Bool("yes_i_know") ?? false,
            WarmupFraction = r.Number("warmup_fraction") ?? 0.3,
            Draws = r.Int("draws", 1) ?? 20,
            PriorStd = r.Number("prior_std") ?? 1.0,
            PriorPrecision = r.Number("prior_precision"),
            ValFraction = r.Number("val_fraction") ?? 0,
            Temperature = r.Number("temperature") ?? 1.0,
            TargetAccuracy = r.Number("target_accuracy") ?? 0.9,
            EvalEvery = r.Int("eval_every", 1) ?? 1,
            EvalTrain = r.Bool("eval_train") ?? false,
            FunctionPoints = r.Int("function_points", 0) ?? 128,
            Canonical = r.Bool("canonical") ?? true,
            Track = r.Int("track", 0) ?? 8,
            Threads = r.Int("threads", 0) ?? 0,
            Dtype = r.String("dtype") ?? "float32",
            CheckpointEvery = r.Int("checkpoint_every", 0),
            ProgressEvery = r.Int("progress_every", 0),
            ProgressDraws = r.Int("progress_draws", 1) ?? 8,
            SavePositions = r.Int("save_positions", 0) ?? 0,
            FullSize = r.Object("full_size")?.Node,
        };
        if (config.ChainMode is not ("auto" or "batched" or "sequential")) throw r.Error("chain_mode", $"must be auto, batched or sequential, got \"{config.ChainMode}\"");
        if (config.Dtype is not ("float32" or "float64")) throw r.Error("dtype", $"must be float32 or float64, got \"{config.Dtype}\"");
        CheckFraction(r, "warmup_fraction", config.WarmupFraction);
        if (!(config.PriorStd > 0)) throw r.Error("prior_std", $"must be positive, got {config.PriorStd}");
        if (config.PriorPrecision is { } precision && !(precision > 0 && double.IsFinite(precision))) throw r.Error("prior_precision", $"must be a positive number, got {precision}");
        CheckFraction(r, "val_fraction", config.ValFraction);
        if (!(config.Temperature > 0)) throw r.Error("temperature", $"must be positive, got {config.Temperature}");
        if (!(config.TargetAccuracy > 0 && config.TargetAccuracy <= 1)) throw r.Error("target_accuracy", $"must be in (0, 1], got {config.TargetAccuracy}");
        r.Done();
        return config;
    }

    private static void CheckFraction(ConfigReader r, string key, double value)
    {
        if (!(value >= 0 && value < 1)) throw r.Error(key, $"must be in [0, 1), got {value}");
    }

    private static List<StudyModel> ReadModels(ConfigReader r)
    {
        var array = r.Array("models") ?? throw r.Error("models", "is required: a list of {\"model\": NAME, ...} (models: " + string.Join(", ", ModelCatalog.Names) + ")");
        if (array.Count == 0) throw r.Error("models", "must not be empty");
        var models = new List<StudyModel>();
        for (int i = 0; i < array.Count; i++)
        {
            var m = r.Element("models", array, i);
            string model = m.String("model") ?? throw m.Error("model", $"is required (one of {string.Join(", ", ModelCatalog.Names)})");
            if (!ModelCatalog.Names.Contains(model)) throw m.Error("model", $"'{model}' is not a model (use {string.Join(", ", ModelCatalog.Names)})");
            if (model == "linreg") throw m.Error("model", "linreg has no symmetry-reduced variants; a study compares networks");
            string label = m.String("label") ?? model;
            CheckLabel(m, "label", label);
            var widths = m.Array("widths");
            string? activation = m.String("activation");
            var options = new ModelOptions(model,
                Widths: widths?.Select((w, j) => w is JsonValue v && v.TryGetValue<int>(out int n) && n >= 1 ? n
                    : throw m.Error($"widths[{j}]", $"must be a whole number ≥ 1, got {w?.ToJsonString() ?? "null"}")).ToArray(),
                Depth: m.Int("depth", 1),
                Activation: activation switch
                {
                    null => null,
                    "relu" => Activation.Relu,
                    "gelu" => Activation.Gelu,
                    _ => throw m.Error("activation", $"must be relu or gelu, got \"{activation}\""),
                },
                LayerNorm: m.Bool("layer_norm"),
                NFix: m.Int("n_fix", 0),
                Kappa: m.Number("kappa"),
                FiGluStd: m.FiGluStd("figlu_std"),
                WidthMultiplier: m.Int("width_multiplier", 1),
                MaskSeed: (ulong)(m.Integer("mask_seed") is { } seed ? seed >= 0 ? seed : throw m.Error("mask_seed", $"must be ≥ 0, got {seed}") : 0));
            if (options.Kappa is <= 0) throw m.Error("kappa", $"must be positive, got {options.Kappa}");
            m.Done();
            if (models.Any(x => x.Label == label)) throw r.Error($"models[{i}]", $"repeats the label '{label}': give each model a distinct \"label\"");
            models.Add(new StudyModel(label, options));
        }
        return models;
    }

    private static List<StudySampler> ReadSamplers(ConfigReader r)
    {
        var array = r.Array("samplers") ?? throw r.Error("samplers", "is required: a list of {\"name\": SAMPLER, ...} (samplers: " + string.Join(", ", SamplerRegistry.Names) + ")");
        if (array.Count == 0) throw r.Error("samplers", "must not be empty");
        var samplers = new List<StudySampler>();
        for (int i = 0; i < array.Count; i++)
        {
            var s = r.Element("samplers", array, i);
            string name = s.String("name") ?? throw s.Error("name", $"is required (one of {string.Join(", ", SamplerRegistry.Names)})");
            if (!SamplerRegistry.Names.Contains(name)) throw s.Error("name", $"'{name}' is not a sampler (use {string.Join(", ", SamplerRegistry.Names)})");
            string label = s.String("label") ?? name;
            CheckLabel(s, "label", label);
            var info = SamplerRegistry.Get(name);
            var parameters = new Dictionary<string, double>();
            if (s.Object("params") is { } p)
            {
                foreach (var (key, _) in p.Node)
                {
                    if (info.Hyperparameters.All(h => h.Name != key))
                        throw p.Error(key, $"is not a hyperparameter of {name} (it takes: {string.Join(", ", info.Hyperparameters.Select(h => h.Name))})");
                    parameters[key] = p.Number(key) ?? throw p.Error(key, "must be a number, got null");
                }
            }
            var sampler = new StudySampler(label, name, s.Number("lr"), parameters, s.Int("batch_size", 1), s.Number("warmup_fraction"),
                s.Int("draws", 1), s.Number("prior_std"), s.Number("temperature")) { PriorPrecision = s.Number("prior_precision") };
            if (sampler.Lr is <= 0) throw s.Error("lr", $"must be positive, got {sampler.Lr}");
            if (sampler.WarmupFraction is { } w) CheckFraction(s, "warmup_fraction", w);
            if (sampler.PriorStd is <= 0) throw s.Error("prior_std", $"must be positive, got {sampler.PriorStd}");
            if (sampler.PriorPrecision is { } precision && !(precision > 0 && double.IsFinite(precision))) throw s.Error("prior_precision", $"must be a positive number, got {precision}");
            if (sampler.Temperature is <= 0) throw s.Error("temperature", $"must be positive, got {sampler.Temperature}");
            s.Done();
            if (samplers.Any(x => x.Label == label)) throw r.Error($"samplers[{i}]", $"repeats the label '{label}': give each a distinct \"label\"");
            samplers.Add(sampler);
        }
        return samplers;
    }

    private static StudyBudget ReadBudget(ConfigReader r)
    {
        var b = r.Object("budget") ?? throw r.Error("budget", "is required: one of {\"steps\": n}, {\"epochs\": e}, {\"grad_evals\": n}, {\"wall_time_s\": s, \"max_steps\": n}");
        var given = StudyBudget.Kinds.Where(b.Has).ToList();
        if (given.Count != 1)
            throw r.Error("budget", given.Count == 0 ? "must give one of steps, epochs, grad_evals, wall_time_s" : $"gives {string.Join(" and ", given)}: give exactly one");
        string kind = given[0];
        double value = kind is "steps" or "grad_evals" ? b.Integer(kind)!.Value : b.Number(kind)!.Value;
        if (!(value > 0)) throw b.Error(kind, $"must be positive, got {value}");
        if (kind == "steps" && value > int.MaxValue) throw b.Error(kind, $"must be at most {int.MaxValue}, got {value}");
        int? maxSteps = b.Int("max_steps", 1);
        if (kind == "wall_time_s" && maxSteps is null) throw b.Error("max_steps", "is required with wall_time_s: the step cap that fixes schedules, warm-up and thinning");
        if (kind != "wall_time_s" && maxSteps is not null) throw b.Error("max_steps", "applies only to a wall_time_s budget");
        b.Done();
        return new StudyBudget(kind, value, maxSteps);
    }

    private static void CheckLabel(ConfigReader r, string key, string label)
    {
        if (label.Length == 0 || label.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw r.Error(key, $"must be letters, digits, '-', '_' or '.' (it names run folders), got \"{label}\"");
    }

    /// <summary>The config in full, defaults included: what study.json holds and the manifest records.</summary>
    public JsonObject ToJson()
    {
        var node = new JsonObject
        {
            ["name"] = Name,
            ["question"] = Question,
            ["data"] = Data,
            ["models"] = new JsonArray(Models.Select(m => (JsonNode)ModelJson(m)).ToArray()),
            ["variants"] = new JsonArray(Variants.Select(v => (JsonNode)v.ToName()).ToArray()),
            ["samplers"] = new JsonArray(Samplers.Select(s => (JsonNode)SamplerJson(s)).ToArray()),
            ["seeds"] = new JsonArray(Seeds.Select(s => (JsonNode)s).ToArray()),
            ["chains"] = Chains,
            ["chain_mode"] = ChainMode,
            ["budget"] = Budget.ToJson(),
            ["batch_size"] = BatchSize,
            ["augment"] = Augment,
            ["warmup_fraction"] = WarmupFraction,
            ["draws"] = Draws,
            ["prior_std"] = PriorStd,
            ["temperature"] = Temperature,
            ["val_fraction"] = ValFraction,
            ["target_accuracy"] = TargetAccuracy,
            ["eval_every"] = EvalEvery,
            ["eval_train"] = EvalTrain,
            ["function_points"] = FunctionPoints,
            ["canonical"] = Canonical,
            ["track"] = Track,
            ["threads"] = Threads,
            ["dtype"] = Dtype,
            ["progress_draws"] = ProgressDraws,
        };
        if (PriorPrecision is { } precision) node["prior_precision"] = precision;
        if (CheckpointEvery is { } c) node["checkpoint_every"] = c;
        if (ProgressEvery is { } p) node["progress_every"] = p;
        if (SavePositions > 0) node["save_positions"] = SavePositions;
        if (YesIKnow) node["yes_i_know"] = true;
        if (FullSize is not null) node["full_size"] = FullSize.DeepClone();
        return node;
    }

    private static JsonObject ModelJson(StudyModel m)
    {
        var o = m.Options;
        var node = new JsonObject { ["label"] = m.Label, ["model"] = o.Model };
        if (o.Widths is { } w) node["widths"] = new JsonArray(w.Select(x => (JsonNode)x).ToArray());
        if (o.Depth is { } d) node["depth"] = d;
        if (o.Activation is { } a) node["activation"] = a.ToString().ToLowerInvariant();
        if (o.LayerNorm is { } ln) node["layer_norm"] = ln;
        if (o.NFix is { } n) node["n_fix"] = n;
        if (o.Kappa is { } k) node["kappa"] = k;
        if (o.FiGluStd is { } f) node["figlu_std"] = FiGluStdJson.Write(f);
        if (o.WidthMultiplier is { } wm) node["width_multiplier"] = wm;
        node["mask_seed"] = o.MaskSeed;
        return node;
    }

    private static JsonObject SamplerJson(StudySampler s)
    {
        var node = new JsonObject { ["label"] = s.Label, ["name"] = s.Name };
        if (s.Lr is { } lr) node["lr"] = lr;
        if (s.Params.Count > 0) node["params"] = new JsonObject(s.Params.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        if (s.BatchSize is { } b) node["batch_size"] = b;
        if (s.WarmupFraction is { } w) node["warmup_fraction"] = w;
        if (s.Draws is { } d) node["draws"] = d;
        if (s.PriorStd is { } p) node["prior_std"] = p;
        if (s.PriorPrecision is { } precision) node["prior_precision"] = precision;
        if (s.Temperature is { } t) node["temperature"] = t;
        return node;
    }
}
