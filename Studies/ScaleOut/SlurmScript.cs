using System.Text;
using Workbench.Studies.Comparisons;
using Workbench.Studies.Sampling;

namespace Workbench.Studies.ScaleOut;

/// <summary>
/// The program every array task starts: the build the user submitted from (its host executable and workbench.dll),
/// by absolute path, so that the tasks on a shared filesystem run exactly that build.
/// </summary>
public sealed record WorkbenchLauncher(string Executable, IReadOnlyList<string> Arguments)
{
    /// <summary>
    /// The launcher of a running workbench: <c>dotnet workbench.dll</c> when the process is the dotnet host, the
    /// apphost itself when started as <c>./workbench</c>, and otherwise (a test runner hosting the CLI) the dotnet host
    /// the SDK names in DOTNET_HOST_PATH or the one on PATH, with workbench.dll.
    /// </summary>
    public static WorkbenchLauncher Of(string assemblyPath, string? processPath, string? dotnetHostPath, string? path)
    {
        string assembly = Path.GetFullPath(assemblyPath);
        string host = processPath is null ? "" : Path.GetFileNameWithoutExtension(processPath);
        if (host == "dotnet") return new(Path.GetFullPath(processPath!), [assembly]);
        if (host == Path.GetFileNameWithoutExtension(assembly)) return new(Path.GetFullPath(processPath!), []);
        string? dotnet = dotnetHostPath is { Length: > 0 } ? dotnetHostPath
            : (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists);
        if (dotnet is null) throw new OptionException("cannot find the 'dotnet' host that the Slurm tasks should run workbench.dll with: put it on PATH");
        return new(Path.GetFullPath(dotnet), [assembly]);
    }
}

/// <summary>What <c>workbench submit --slurm</c> asks of Slurm beyond one array task per cell; null = Slurm's default.</summary>
public sealed record SlurmOptions(string? Partition = null, string? Time = null, int? CpusPerTask = null, string? Memory = null, int? MaxParallel = null);

/// <summary>
/// The sbatch script that runs a planned study as one job array: task i runs <c>workbench run-cell PLAN_DIR --index i</c>,
/// at most K at a time (<c>%K</c>), each with its own log in PLAN_DIR/slurm/logs. run-cell is idempotent, so the same
/// script can be submitted again after a failure or a cancellation: finished cells are left alone.
/// </summary>
public static class SlurmScript
{
    public const string Folder = "slurm";
    public const string FileName = "submit.sbatch";
    public const string JobsFile = "jobs.txt";

    /// <summary>Writes PLAN_DIR/slurm/submit.sbatch (and the logs folder sbatch needs before a task starts); returns the script's path.</summary>
    public static string Write(string planFolder, WorkbenchLauncher launcher, SlurmOptions options)
    {
        string plan = Path.GetFullPath(planFolder);
        var study = StudyPlan.Read(plan);
        string folder = Path.Combine(plan, Folder);
        Directory.CreateDirectory(Path.Combine(folder, "logs"));
        string script = Path.Combine(folder, FileName);
        File.WriteAllText(script, Text(plan, study.Name, study.Cells.Count, launcher, options));
        return script;
    }

    public static string Text(string planFolder, string studyName, int cells, WorkbenchLauncher launcher, SlurmOptions options)
    {
        if (cells < 1) throw new OptionException($"{planFolder}: the plan has no cells; nothing to submit");
        if (options.MaxParallel is < 1) throw new OptionException($"--max-parallel must be at least 1, not {options.MaxParallel}");
        if (options.CpusPerTask is < 1) throw new OptionException($"--cpus-per-task must be at least 1, not {options.CpusPerTask}");
        string plan = Path.GetFullPath(planFolder);
        // sbatch reads #SBATCH values itself (double quotes, no shell) and expands % in --output: such paths cannot be written there.
        if (plan.IndexOfAny(['"', '%', '\n']) >= 0)
            throw new OptionException($"{plan}: a plan folder for Slurm may not contain '\"', '%' or a newline (sbatch misreads them in --output); move the plan");
        string logs = Path.Combine(plan, Folder, "logs");
        var s = new StringBuilder();
        s.Append("#!/bin/bash\n");
        s.Append($"#SBATCH --job-name={JobName(studyName)}\n");
        s.Append($"#SBATCH --array=0-{cells - 1}{(options.MaxParallel is { } k ? $"%{k}" : "")}\n");
        s.Append($"#SBATCH --output=\"{Path.Combine(logs, "%A_%a.out")}\"\n");
        s.Append($"#SBATCH --error=\"{Path.Combine(logs, "%A_%a.err")}\"\n");
        s.Append($"#SBATCH --chdir=\"{plan}\"\n");
        if (options.Partition is { } partition) s.Append($"#SBATCH --partition={partition}\n");
        if (options.Time is { } time) s.Append($"#SBATCH --time={time}\n");
        if (options.CpusPerTask is { } cpus) s.Append($"#SBATCH --cpus-per-task={cpus}\n");
        if (options.Memory is { } memory) s.Append($"#SBATCH --mem={memory}\n");
        s.Append("\n# Written by 'workbench submit': array task i runs cell i of the plan (idempotent, resumable). Every path is\n");
        s.Append("# absolute and names the build this was submitted from: the nodes must see them on a shared filesystem.\n");
        s.Append("set -euo pipefail\n");
        s.Append("exec ").Append(string.Join(' ', new[] { launcher.Executable }.Concat(launcher.Arguments).Select(Quote)));
        s.Append($" run-cell {Quote(plan)} --index \"$SLURM_ARRAY_TASK_ID\"\n");
        return s.ToString();
    }

    /// <summary>A word for bash: single quotes keep spaces, $ and backquotes literal; a ' inside is closed, escaped and reopened.</summary>
    public static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";

    /// <summary>squeue shows job names; keep the study's name, in characters every Slurm accepts.</summary>
    private static string JobName(string studyName)
    {
        string name = new(studyName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray());
        return "workbench-" + (name.Length == 0 ? "study" : name);
    }
}
