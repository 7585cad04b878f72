using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Storage;

namespace Workbench.Studies.ScaleOut;

/// <summary>
/// `compare --jobs N` / `resume STUDY_DIR --jobs N`: the cells of a study run as N child processes at a time on this
/// machine, each `workbench run-cell STUDY_DIR --index I --threads T` of the same build. torch's thread pool is
/// process-wide, so several cells at once need several processes; each gets its share T of the CPU budget. Each
/// child's output goes to STUDY_DIR/logs/&lt;cell&gt;.log; a child that fails is reported like a failed cell.
/// </summary>
public sealed record LocalJobs(WorkbenchLauncher Launcher, int Jobs, int ThreadsPerJob)
{
    public const string LogFolder = "logs";

    /// <summary>Threads of each of <paramref name="jobs"/> processes sharing <paramref name="threads"/>: at least one.</summary>
    public static int Share(int threads, int jobs) => Math.Max(1, threads / jobs);

    /// <summary>The log file of a cell's process.</summary>
    public static string LogPath(string studyFolder, StudyCell cell) => Path.Combine(studyFolder, LogFolder, cell.Id + ".log");

    /// <summary>
    /// Runs the cells (plan indices), at most <see cref="Jobs"/> at once, in plan order; returns the cells whose process
    /// failed and the number of chains that diverged in the others.
    /// </summary>
    internal (IReadOnlyList<StudyCell> Failed, int Diverged) Run(string studyFolder, IReadOnlyList<(int Index, StudyCell Cell)> cells, StudyProgress progress, TextWriter log)
    {
        Directory.CreateDirectory(Path.Combine(studyFolder, LogFolder));
        var queue = new ConcurrentQueue<(int Index, StudyCell Cell)>(cells);
        var failed = new ConcurrentBag<StudyCell>();
        int diverged = 0;
        var running = new ConcurrentDictionary<int, Process>();
        var gate = new object();
        try
        {
            var workers = Enumerable.Range(0, Math.Min(Jobs, cells.Count)).Select(_ => Task.Run(() =>
            {
                while (queue.TryDequeue(out var next))
                {
                    var (index, cell) = next;
                    string logPath = LogPath(studyFolder, cell);
                    var clock = Stopwatch.StartNew();
                    lock (gate) log.WriteLine($"  start {cell.Id} (cell {index}, {ThreadsPerJob} thread{(ThreadsPerJob == 1 ? "" : "s")}; log {logPath})");
                    int code;
                    string? lastError;
                    try
                    {
                        (code, lastError) = RunChild(studyFolder, index, logPath, running);
                    }
                    catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException)
                    {
                        // The process could not start or its log not be written: that cell failed, the others go on.
                        (code, lastError) = (-1, $"could not run {Launcher.Executable}: {e.Message}");
                    }
                    string runFolder = Path.Combine(studyFolder, cell.Folder);
                    lock (gate)
                    {
                        if (code == 0 && RunFolder.Condition(runFolder) == RunCondition.Finished)
                        {
                            int chains = Manifest.Load(runFolder).Get("divergences") is JsonArray d ? d.Count : 0;
                            diverged += chains;
                            progress.EndJob(cell, clock.Elapsed.TotalSeconds, chains);
                        }
                        else
                        {
                            failed.Add(cell);
                            string why = lastError ?? $"exited {code}";
                            progress.FailRun(cell, new InvalidOperationException($"{why} (log {logPath})"));
                        }
                    }
                }
            })).ToArray();
            Task.WaitAll(workers);
        }
        finally
        {
            // The study's own process is going (an error): its children would otherwise run on unseen.
            foreach (var child in running.Values)
            {
                try
                {
                    if (!child.HasExited) child.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
        var order = cells.Select(c => c.Cell).ToList();
        return (failed.OrderBy(order.IndexOf).ToList(), diverged);
    }

    /// <summary>Runs one cell's process to its end, its output in <paramref name="logPath"/>; the exit code and its last error line.</summary>
    private (int Code, string? LastError) RunChild(string studyFolder, int index, string logPath, ConcurrentDictionary<int, Process> running)
    {
        var start = new ProcessStartInfo(Launcher.Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in Launcher.Arguments) start.ArgumentList.Add(a);
        foreach (var a in new[] { "run-cell", Path.GetFullPath(studyFolder), "--index", index.ToString(CultureInfo.InvariantCulture),
                                  "--threads", ThreadsPerJob.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        using var file = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var fileGate = new object();
        string? lastError = null;
        using var child = new Process { StartInfo = start };
        child.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (fileGate) file.WriteLine(e.Data); };
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (fileGate)
            {
                file.WriteLine(e.Data);
                if (e.Data.Trim().Length > 0) lastError = e.Data.Trim();
            }
        };
        child.Start();
        running[index] = child;
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        child.WaitForExit();
        running.TryRemove(index, out _);
        lock (fileGate) return (child.ExitCode, lastError);
    }
}
