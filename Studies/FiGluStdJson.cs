using System.Text.Json;
using System.Text.Json.Nodes;
using Workbench.Architectures;

namespace Workbench.Studies;

/// <summary>How configs and manifests store FiGLU's sd: a number when it is one sd for every layer, else its text
/// ("1/sqrt(d)"), so that a config written before the text form reads back unchanged.</summary>
public static class FiGluStdJson
{
    public static JsonNode? Write(FiGluScale? scale) => scale switch
    {
        null => null,
        { OverSqrtWidth: false } s => JsonValue.Create(s.Factor),
        { } s => JsonValue.Create(s.ToString()),
    };

    /// <summary>The scale a manifest or config node holds (null when absent); throws <see cref="ArgumentException"/> for anything else.</summary>
    public static FiGluScale? Read(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.Number or JsonValueKind.String => FiGluScale.Parse(v.ToString()),
        _ => throw new ArgumentException($"FiGLU sd must be {FiGluScale.Forms}; got {node.ToJsonString()}"),
    };
}
