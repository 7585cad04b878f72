using Workbench.Studies.Data;

namespace Workbench.Tests.Data;

/// <summary>Checks the contract for user mistakes: a DataFormatException, one line, naming the file.</summary>
internal static class Reported
{
    public static DataFormatException By(Action load, string fileName, params string[] alsoMentions)
    {
        var error = Assert.Throws<DataFormatException>(load);
        Assert.Contains(fileName, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\r', error.Message);
        foreach (string words in alsoMentions) Assert.Contains(words, error.Message, StringComparison.OrdinalIgnoreCase);
        return error;
    }

    public static DataFormatException By(Func<Dataset> load, string fileName, params string[] alsoMentions) =>
        By(() => { using var _ = load(); }, fileName, alsoMentions);
}
