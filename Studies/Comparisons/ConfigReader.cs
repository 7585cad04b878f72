using System.Text.Json;
using System.Text.Json.Nodes;
using Workbench.Studies.Sampling;

namespace Workbench.Studies.Comparisons;

/// <summary>
/// Reads one JSON object of a config with its path for messages (<c>samplers[1].lr</c>): every value is checked for
/// its type as it is read, and <see cref="Done"/> rejects keys nobody read — so a typo is an error, not a silent default.
/// Every problem is an <see cref="OptionException"/> of one line naming the file and the key.
/// </summary>
internal sealed class ConfigReader
{
    private readonly string _source;
    private readonly string _path;
    private readonly JsonObject _node;
    private readonly HashSet<string> _read = [];

    public ConfigReader(string source, string path, JsonNode? node)
    {
        _source = source;
        _path = path;
        _node = node as JsonObject ?? throw Error(path, $"must be a JSON object, got {Describe(node)}");
    }

    /// <summary>Parses a config document; invalid JSON is one line with the position.</summary>
    public static ConfigReader Parse(string source, string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new OptionException($"{source}: not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {FirstLine(e.Message)}");
        }
        return new ConfigReader(source, "", node);
    }

    public JsonObject Node => _node;
    public bool Has(string key) => _node.ContainsKey(key) && _node[key] is not null;

    public OptionException Error(string key, string problem) => new($"{_source}: {Key(key)} {problem}");

    private string Key(string key) => _path.Length == 0 ? key : key.StartsWith('[') ? _path + key : $"{_path}.{key}";

    private JsonNode? Take(string key)
    {
        _read.Add(key);
        return _node[key];
    }

    public string? String(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        return node is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Error(key, $"must be a string, got {Describe(node)}");
    }

    public double? Number(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && double.IsFinite(d)) return d;
        throw Error(key, $"must be a number, got {Describe(node)}");
    }

    /// <summary>FiGLU's sd: a positive number, or a string such as "1/sqrt(d)" (<see cref="Architectures.FiGluScale"/>).</summary>
    public Architectures.FiGluScale? FiGluStd(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        string text = node is JsonValue v && v.GetValueKind() is JsonValueKind.Number or JsonValueKind.String ? v.ToString() : "";
        return Architectures.FiGluScale.TryParse(text, out string error) ?? throw Error(key, node is JsonValue ? error : $"must be {Architectures.FiGluScale.Forms}; got {Describe(node)}");
    }

    public long? Integer(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n)) return n;
        throw Error(key, $"must be a whole number, got {Describe(node)}");
    }

    public int? Int(string key, int minimum = int.MinValue)
    {
        long? n = Integer(key);
        if (n is null) return null;
        if (n < minimum || n > int.MaxValue) throw Error(key, minimum == 1 ? $"must be at least 1, got {n}" : $"must be ≥ {minimum}, got {n}");
        return (int)n;
    }

    public bool? Bool(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        return node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>()
            : throw Error(key, $"must be true or false, got {Describe(node)}");
    }

    public JsonArray? Array(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        return node as JsonArray ?? throw Error(key, $"must be a list [...], got {Describe(node)}");
    }

    public ConfigReader? Object(string key)
    {
        var node = Take(key);
        return node is null ? null : new ConfigReader(_source, Key(key), node);
    }

    /// <summary>The i-th element of a list read by <see cref="Array"/>, as an object.</summary>
    public ConfigReader Element(string key, JsonArray array, int i) => new(_source, $"{Key(key)}[{i}]", array[i]);

    /// <summary>A list of strings; every element checked.</summary>
    public List<string>? Strings(string key)
    {
        var array = Array(key);
        if (array is null) return null;
        return array.Select((node, i) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw Error($"{key}[{i}]", $"must be a string, got {Describe(node)}")).ToList();
    }

    /// <summary>A list of whole numbers ≥ 0; every element checked.</summary>
    public List<ulong>? Seeds(string key)
    {
        var array = Array(key);
        if (array is null) return null;
        return array.Select((node, i) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<ulong>(out var n) ? n
            : throw Error($"{key}[{i}]", $"must be a whole number ≥ 0, got {Describe(node)}")).ToList();
    }

    /// <summary>Fails on any key that was never read: one line naming it and the keys that are allowed here.</summary>
    public void Done(IEnumerable<string>? alsoAllowed = null)
    {
        var allowed = _read.Concat(alsoAllowed ?? []).ToHashSet();
        foreach (var (key, _) in _node)
            if (!allowed.Contains(key))
                throw new OptionException($"{_source}: unknown key '{Key(key)}' (allowed here: {string.Join(", ", allowed.Order())})");
    }

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "a list",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => $"\"{v.GetValue<string>()}\"",
            JsonValueKind.Number => v.ToJsonString(),
            JsonValueKind.True or JsonValueKind.False => v.ToJsonString(),
            _ => v.ToJsonString(),
        },
        _ => node.ToJsonString(),
    };

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
