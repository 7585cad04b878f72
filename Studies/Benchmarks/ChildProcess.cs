using System.ComponentModel;
using System.Diagnostics;

namespace Workbench.Studies.Benchmarks;

/// <summary>
/// A program the benchmark starts and waits for (the PyTorch reference, a second workbench), its output captured.
/// Several can run at once: start them all, then wait for each.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _output, _error;
    public string CommandLine { get; }

    private ChildProcess(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
        _output = process.StandardOutput.ReadToEndAsync();
        _error = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Starts the program; null when it cannot be started (not found, not executable).</summary>
    public static ChildProcess? TryStart(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        string commandLine = string.Join(' ', [program, .. start.ArgumentList]);
        try
        {
            return new ChildProcess(Process.Start(start)!, commandLine);
        }
        catch (Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Waits for the end; past <paramref name="timeout"/> the process (and its children) is killed and this throws.</summary>
    public (int ExitCode, string Output, string Error) Wait(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            throw new TimeoutException($"'{CommandLine}' did not finish within {timeout.TotalSeconds:F0} s and was stopped");
        }
        _process.WaitForExit(); // flushes the redirected streams
        return (_process.ExitCode, _output.Result, _error.Result);
    }

    /// <summary>The last non-empty line of a program's output (a Python traceback's error, a JSON result).</summary>
    public static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
