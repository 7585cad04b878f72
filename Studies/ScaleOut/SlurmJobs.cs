using System.ComponentModel;
using System.Diagnostics;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Studies.ScaleOut;

/// <summary>Submitting a plan's script with sbatch, and the jobs a plan folder records in slurm/jobs.txt (one id a line).</summary>
public static class SlurmJobs
{
    /// <summary>Runs <c>sbatch --parsable SCRIPT</c> and appends the job id to PLAN_DIR/slurm/jobs.txt; returns the id.</summary>
    public static string Submit(string planFolder, string script)
    {
        var (code, output, error) = Execute("sbatch", ["--parsable", script])
            ?? throw new OptionException($"sbatch: not found on PATH; install Slurm's client tools, or run with --dry-run to only write {script}");
        if (code != 0) throw new InvalidOperationException($"sbatch {script} exited {code}: {error.Trim()}");
        // --parsable prints "jobid" or "jobid;cluster".
        string id = output.Trim().Split(';')[0];
        if (id.Length == 0 || !id.All(char.IsAsciiDigit)) throw new InvalidOperationException($"sbatch printed no job id: '{output.Trim()}'");
        File.AppendAllText(Path.Combine(Path.GetFullPath(planFolder), SlurmScript.Folder, SlurmScript.JobsFile), id + "\n");
        return id;
    }

    /// <summary>The job ids PLAN_DIR/slurm/jobs.txt records, oldest first (none when nothing was submitted).</summary>
    public static IReadOnlyList<string> Recorded(string planFolder)
    {
        string file = Path.Combine(planFolder, SlurmScript.Folder, SlurmScript.JobsFile);
        return File.Exists(file) ? File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0).ToList() : [];
    }

    /// <summary>
    /// squeue's lines "ID_TASK STATE" for a job, an empty list when it left the queue (finished, or purged),
    /// or null when squeue is not installed here.
    /// </summary>
    public static IReadOnlyList<string>? QueueStates(string jobId)
    {
        if (Execute("squeue", ["-h", "-j", jobId, "-o", "%i %T"]) is not { } run) return null;
        // squeue exits 1 ("Invalid job id") once slurmctld has forgotten the job.
        return run.Code != 0 ? [] : run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Runs a Slurm client; null when it is not on PATH.</summary>
    private static (int Code, string Output, string Error)? Execute(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception)
        {
            return null;
        }
        using (process)
        {
            var error = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output, error.Result);
        }
    }
}

/// <summary>Where each cell of a planned study stands, read from its run folder (what <c>workbench status</c> prints).</summary>
public static class PlanProgress
{
    public enum CellState { Done, Running, Interrupted, Failed, Pending }

    public static IReadOnlyList<(StudyCell Cell, CellState State)> Cells(string planFolder)
    {
        var plan = StudyPlan.Read(planFolder);
        return plan.Cells.Select(c => (c, RunFolder.Condition(Path.Combine(planFolder, c.Folder)) switch
        {
            RunCondition.Finished => CellState.Done,
            RunCondition.Running => CellState.Running,
            // A cell written on another node is running while its heartbeat is fresh (RunFolder.WriterAlive).
            RunCondition.Interrupted => CellState.Interrupted,
            RunCondition.Failed => CellState.Failed,
            _ => CellState.Pending,
        })).ToList();
    }

    public static string Name(CellState state) => state.ToString().ToLowerInvariant();
}
