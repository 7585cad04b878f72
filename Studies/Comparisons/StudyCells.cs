using System.Text.Json.Nodes;
using Workbench.Studies.Storage;

namespace Workbench.Studies.Comparisons;

/// <summary>
/// One cell of a study grid: one sampling run (K chains) of one model label × variant × sampler × seed, in the run
/// folder <c>&lt;study&gt;/&lt;Folder&gt;</c> (Folder is relative to the study folder, e.g. <c>runs/bnn-d8-w-asym-elrg-seed0</c>).
/// The cells sharing (Model, Variant, Sampler) form an arm; its seeds are the repetitions that mean ± sd is taken over.
/// </summary>
public sealed record StudyCell(string Id, string Model, string Variant, string Sampler, ulong Seed, string Folder)
{
    public (string Model, string Variant, string Sampler) Arm => (Model, Variant, Sampler);

    public JsonObject ToJson() => new()
    {
        ["id"] = Id, ["model"] = Model, ["variant"] = Variant, ["sampler"] = Sampler, ["seed"] = Seed, ["folder"] = Folder,
    };

    public static StudyCell FromJson(JsonNode node) => new(
        node["id"]!.GetValue<string>(), node["model"]!.GetValue<string>(), node["variant"]!.GetValue<string>(),
        node["sampler"]!.GetValue<string>(), node["seed"]!.GetValue<ulong>(), node["folder"]!.GetValue<string>());
}

/// <summary>
/// What a study folder's manifest.json says about the study (its manifest's <c>study</c> is "study"):
/// <c>config</c> is the validated study config (also copied to study.json), <c>cells</c> the grid in run order.
/// </summary>
public sealed record StudyPlan(string Name, string Question, double TargetAccuracy, IReadOnlyList<StudyCell> Cells, JsonObject Config)
{
    public const string ManifestStudy = "study";

    /// <summary>Reads the plan of a study folder; a folder that is not a study is a one-line <see cref="Sampling.OptionException"/>.</summary>
    public static StudyPlan Read(string studyFolder)
    {
        if (!Directory.Exists(studyFolder)) throw new Sampling.OptionException($"{studyFolder}: no such folder");
        Manifest manifest;
        try
        {
            manifest = Manifest.Load(studyFolder);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new Sampling.OptionException($"{studyFolder}: not a Workbench study folder (no readable manifest.json): {e.Message}");
        }
        if (manifest.Study != ManifestStudy || manifest.Get("config") is not JsonObject config || manifest.Get("cells") is not JsonArray cells)
            throw new Sampling.OptionException($"{studyFolder}: not a study folder (its manifest's study is '{manifest.Study}'); give the folder 'workbench compare' wrote");
        return new StudyPlan(config["name"]?.GetValue<string>() ?? Path.GetFileName(Path.GetFullPath(studyFolder)),
            config["question"]?.GetValue<string>() ?? "", config["target_accuracy"]?.GetValue<double>() ?? double.NaN,
            cells.Select(c => StudyCell.FromJson(c!)).ToList(), (JsonObject)config.DeepClone());
    }
}
