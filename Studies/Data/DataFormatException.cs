namespace Workbench.Studies.Data;

/// <summary>
/// Data a user supplied cannot be used. The message is one line, "FILE: PROBLEM", fit to show as is.
/// </summary>
public sealed class DataFormatException : Exception
{
    public DataFormatException(string file, string problem, Exception? inner = null)
        : base($"{file}: {OneLine(problem)}", inner)
    {
        File = file;
        Problem = OneLine(problem);
    }

    /// <summary>The file or folder at fault, as the user named it (or an embedded resource name).</summary>
    public string File { get; }

    /// <summary>What is wrong with it, without the file name.</summary>
    public string Problem { get; }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
