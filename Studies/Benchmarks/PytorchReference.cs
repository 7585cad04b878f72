using System.Globalization;
using System.Text.Json.Nodes;

namespace Workbench.Studies.Benchmarks;

/// <summary>One timing of bench/pytorch_reference.py: steps per second and the thread setting it ran with.</summary>
public sealed record ReferenceMeasurement(double StepsPerSecond, int TorchThreads, int BlasThreads, long Trainable, string TorchVersion);

/// <summary>
/// The PyTorch peer of Workbench's step (bench/pytorch_reference.py), run as a child process with an interpreter that can
/// import torch. Its fastest thread setting on these machines is torch 1 thread with OpenBLAS on all the cores the
/// comparison gives Workbench (torch 2 + BLAS 2 oversubscribes).
/// </summary>
public sealed class PytorchReference
{
    public string Interpreter { get; }
    public string TorchVersion { get; }
    public string Script { get; }

    private PytorchReference(string interpreter, string torchVersion, string script)
    {
        Interpreter = interpreter; TorchVersion = torchVersion; Script = script;
    }

    /// <summary>The interpreters to try, in order: the one the user gave, python3 on PATH, the system's /usr/bin/python3.</summary>
    public static IReadOnlyList<string> Candidates(string? given) =>
        new[] { given, "python3", "/usr/bin/python3" }.OfType<string>().Where(c => c.Length > 0).Distinct().ToList();

    /// <summary>
    /// The first candidate that can <c>import torch</c> running <paramref name="script"/>; otherwise null and one line
    /// that says why each candidate was passed over and how to name one.
    /// </summary>
    public static (PytorchReference? Reference, string Line) Discover(IReadOnlyList<string> candidates, string script)
    {
        if (!File.Exists(script))
            return (null, $"PyTorch reference skipped: its script {script} is missing (give it with --reference)");
        var reasons = new List<string>();
        foreach (string candidate in candidates)
        {
            using var child = ChildProcess.TryStart(candidate, ["-c", "import torch; print(torch.__version__)"]);
            if (child is null)
            {
                reasons.Add($"{candidate}: not found");
                continue;
            }
            var (code, output, error) = child.Wait(TimeSpan.FromMinutes(2));
            if (code == 0)
            {
                string version = ChildProcess.LastLine(output);
                return (new PytorchReference(candidate, version, script), $"PyTorch reference: {candidate} (torch {version}), {script}");
            }
            reasons.Add($"{candidate}: {ChildProcess.LastLine(error)}");
        }
        return (null, $"PyTorch reference skipped: no interpreter can import torch ({string.Join("; ", reasons)}); name one with --python (make bench PYTHON=…)");
    }

    /// <summary>Times <paramref name="method"/> (sgld, psgld, sghmc) on the <paramref name="variant"/> (standard, w-asym) MLP.</summary>
    public ReferenceMeasurement Measure(string method, string variant, double seconds, int warmup, long trainingSize, double stepSize, int blasThreads)
    {
        var inv = CultureInfo.InvariantCulture;
        string[] arguments =
        [
            Script, "--method", method, "--variant", variant, "--seconds", seconds.ToString("R", inv), "--warmup", warmup.ToString(inv),
            "--train-size", trainingSize.ToString(inv), "--lr", stepSize.ToString("R", inv), "--torch-threads", "1", "--blas-threads", blasThreads.ToString(inv),
        ];
        // Set here, not left to the script's default: an OPENBLAS_NUM_THREADS in the user's environment would win there.
        using var child = ChildProcess.TryStart(Interpreter, arguments, new Dictionary<string, string> { ["OPENBLAS_NUM_THREADS"] = blasThreads.ToString(inv) })
            ?? throw new InvalidOperationException($"the PyTorch reference's interpreter {Interpreter} can no longer be started");
        var (code, output, error) = child.Wait(TimeSpan.FromSeconds(seconds + 300));
        if (code != 0)
            throw new InvalidOperationException($"the PyTorch reference failed (exit {code}): {ChildProcess.LastLine(error)} — command: {child.CommandLine}");
        var json = JsonNode.Parse(ChildProcess.LastLine(output))
            ?? throw new InvalidOperationException($"the PyTorch reference printed no result — command: {child.CommandLine}");
        return new ReferenceMeasurement((double)json["steps_per_s"]!, (int)json["torch_threads"]!, (int)json["openblas_threads"]!,
            (long)json["trainable"]!, (string?)json["torch"] ?? TorchVersion);
    }
}
