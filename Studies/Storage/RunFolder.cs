using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbench.Studies.Storage;

/// <summary>A problem with an output folder that the user can fix (message is one line and says what to do).</summary>
public sealed class RunFolderException(string message) : Exception(message);

/// <summary>
/// The folder of one run: <c>manifest.json</c>, tables (<c>{name}.parquet</c>) and figures. A study folder holds
/// a manifest and/or run subfolders.
/// </summary>
public sealed class RunFolder
{
    private RunFolder(string path) => Path = path;

    /// <summary>Absolute path of the folder.</summary>
    public string Path { get; }

    /// <summary>Where table <paramref name="name"/> lives: <c>{Path}/{name}.parquet</c>.</summary>
    public string TablePath(string name) => TablePath(Path, name);

    /// <summary>A file or subfolder inside the run folder.</summary>
    public string File(string relativePath) => System.IO.Path.Combine(Path, relativePath);

    /// <summary>
    /// Creates the output folder. An existing non-empty folder is an error unless <paramref name="force"/>; with force
    /// its contents are deleted, but only if it looks like a Workbench run or study folder — never a user's other folder.
    /// </summary>
    public static RunFolder Create(string path, bool force)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = System.IO.Path.GetFullPath(path);
        if (System.IO.File.Exists(full))
            throw new RunFolderException($"Output '{path}' is a file, not a folder; choose another --out.");
        if (!Directory.Exists(full) || !Directory.EnumerateFileSystemEntries(full).Any())
        {
            try
            {
                Directory.CreateDirectory(full);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new RunFolderException($"Cannot create output folder '{path}' ({e.Message}); choose another --out.");
            }
            return Claim(full, path);
        }
        if (!force)
            throw new RunFolderException($"Output folder '{path}' already exists and is not empty; use --force to overwrite it or choose another --out.");
        if (!LooksLikeWorkbenchFolder(full))
            throw new RunFolderException(
                $"Refusing to clear '{path}': it does not look like a Workbench run or study folder (no Workbench {Manifest.FileName}); choose another --out.");
        if (Condition(full) == RunCondition.Running && WriterPid(full) != Environment.ProcessId)
            throw new RunFolderException($"Refusing to clear '{path}': a live Workbench process is still writing into it; wait for it or choose another --out.");
        ClearContents(full);
        return Claim(full, path);
    }

    /// <summary>The file whose exclusive creation makes a process the only writer of a run folder.</summary>
    public const string ClaimFile = ".workbench-claim";

    /// <summary>Two runs never write into the same folder: the first to create the claim file owns it.</summary>
    private static RunFolder Claim(string full, string path)
    {
        try
        {
            using var claim = new FileStream(System.IO.Path.Combine(full, ClaimFile), FileMode.CreateNew, FileAccess.Write);
            claim.Write(System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}@{Environment.MachineName}\n"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // CreateNew fails both when another run created the claim first and when the folder cannot be written at all
            // (a read-only mount, no permission, a full disk): only the first leaves a claim file behind.
            if (System.IO.File.Exists(System.IO.Path.Combine(full, ClaimFile)))
                throw new RunFolderException($"Output folder '{path}' was just claimed by another Workbench run; choose another --out.");
            throw new RunFolderException($"Cannot write into output folder '{path}' ({e.Message}); choose another --out.");
        }
        return new RunFolder(full);
    }

    /// <summary>
    /// Takes over an interrupted run for resumption (see <see cref="Condition"/>): a live, finished or failed run, or a
    /// folder that holds no run, is refused with a message that says which. Two resuming processes never both win:
    /// the old claim file is renamed away (only one rename of it can succeed) and a new one created for this process.
    /// </summary>
    public static RunFolder Reclaim(string path) => Reclaim(path, reopen: false);

    /// <summary>
    /// A study folder for `workbench resume`: whatever its status (a finished study may hold failed runs to run again),
    /// unless a live process is writing it. Its runs are resumed one by one with <see cref="Reclaim(string)"/>.
    /// </summary>
    public static RunFolder ReclaimStudy(string path) => Reclaim(path, reopen: true);

    private static RunFolder Reclaim(string path, bool reopen)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new RunFolderException($"'{path}' does not exist; nothing to resume.");
        var condition = Condition(full);
        // A study that ended (finished or failed) has no writer left, whatever its claim file names.
        bool ended = reopen && condition is RunCondition.Finished or RunCondition.Failed;
        if (ended) condition = RunCondition.Interrupted;
        switch (condition)
        {
            case RunCondition.NotARun:
                throw new RunFolderException($"'{path}' is not a Workbench run folder (no readable {Manifest.FileName}); nothing to resume.");
            case RunCondition.Running:
                throw new RunFolderException($"'{path}' is being written by a live Workbench process ({WriterName(full)}); wait for it to finish or stop it first.");
            case RunCondition.Finished:
                throw new RunFolderException($"'{path}' holds a finished run; nothing to resume.");
            case RunCondition.Failed:
                throw new RunFolderException($"'{path}' holds a failed run ({OneLine(Manifest.Load(full).Error)}); start it again with --force instead of resuming.");
        }
        if (!reopen && Manifest.Load(full).Status != RunStatus.Running)
            throw new RunFolderException($"'{path}' says it finished, but its tables are incomplete; it cannot be resumed (start it again with --force).");

        var claim = System.IO.Path.Combine(full, ClaimFile);
        if (System.IO.File.Exists(claim))
        {
            var before = ReadClaim(claim);
            var stale = $"{claim}.{Environment.ProcessId}.stale";
            try
            {
                System.IO.File.Move(claim, stale);
            }
            catch (FileNotFoundException)
            {
                throw new RunFolderException($"'{path}' was just claimed by another Workbench process; choose another folder or wait.");
            }
            if (ReadClaim(stale) != before || (!ended && ClaimedByLiveProcess(before)))
            {
                // Another resumer holds (or took between our read and our rename) the claim: give it back.
                System.IO.File.Move(stale, claim);
                throw new RunFolderException($"'{path}' was just claimed by another Workbench process; choose another folder or wait.");
            }
            System.IO.File.Delete(stale);
        }
        return Claim(full, path);
    }

    /// <summary>Whether claim text <c>pid@machine</c> names a live process on this machine (this one included).</summary>
    private static bool ClaimedByLiveProcess(string claim)
    {
        var text = claim.Trim();
        int at = text.IndexOf('@');
        if (at <= 0 || !int.TryParse(text[..at], out int pid)) return false;
        return text[(at + 1)..] == Environment.MachineName && ProcessAlive(pid);
    }

    private static string ReadClaim(string file)
    {
        try
        {
            return System.IO.File.ReadAllText(file);
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }

    private static string OneLine(string? message) => (message ?? "no error recorded").Split('\n')[0].Trim();

    /// <summary>
    /// Deletes everything a run wrote except its manifest and claim file (tables, their parts, checkpoint, figures):
    /// for a resumption that has to start from the first iteration.
    /// </summary>
    public void ClearOutputs()
    {
        foreach (var entry in new DirectoryInfo(Path).EnumerateFileSystemInfos())
        {
            if (entry.Name is Manifest.FileName or ClaimFile) continue;
            if (entry is DirectoryInfo directory && directory.LinkTarget is null) directory.Delete(recursive: true);
            else entry.Delete();
        }
    }

    /// <summary>An existing run folder (for readers and resumption).</summary>
    public static RunFolder Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new RunFolderException($"Run folder '{path}' does not exist.");
        return new RunFolder(full);
    }

    /// <summary>
    /// True if <paramref name="path"/> holds a Workbench manifest, or holds only subfolders that do (a study folder).
    /// </summary>
    public static bool LooksLikeWorkbenchFolder(string path) => LooksLikeWorkbenchFolder(path, depth: 0);

    /// <summary>
    /// Whether <paramref name="path"/> holds a finished run whose results can be trusted: manifest status
    /// <c>finished</c>, and every table in the manifest present as one complete file (no parts left) with the recorded
    /// row count. <paramref name="reason"/> says what is missing otherwise.
    /// </summary>
    /// <summary>
    /// What a folder holds, as a reader must treat it: a finished run, a run still being written by a live process,
    /// an interrupted one (status <c>running</c> but its writer is gone: its pid on this machine, or its heartbeat when
    /// another machine writes it — see <see cref="WriterAlive"/>), a failed one, or no Workbench run at all.
    /// </summary>
    public static RunCondition Condition(string path)
    {
        Manifest manifest;
        try
        {
            manifest = Manifest.Load(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return RunCondition.NotARun;
        }
        switch (manifest.Status)
        {
            case RunStatus.Finished or RunStatus.FinishedWithDivergences:
                return IsFinishedRun(path, out _) ? RunCondition.Finished : RunCondition.Interrupted;
            case RunStatus.Failed:
                return RunCondition.Failed;
            case RunStatus.Running:
                var machine = manifest.Get("machine");
                string? host = machine?["machine_name"]?.GetValue<string>();
                int? pid = machine?["pid"]?.GetValue<int>();
                return WriterAlive(path, host, pid, DateTimeOffset.UtcNow) ? RunCondition.Running : RunCondition.Interrupted;
            default:
                return RunCondition.NotARun;
        }
    }

    private static int? WriterPid(string full) => Manifest.Load(full).Get("machine")?["pid"]?.GetValue<int>();

    /// <summary>Where the live writer of a running folder is, for messages: "pid 123" here, "pid 123 on node7" elsewhere.</summary>
    public static string WriterName(string full)
    {
        var machine = Manifest.Load(full).Get("machine");
        string? host = machine?["machine_name"]?.GetValue<string>();
        int? pid = machine?["pid"]?.GetValue<int>();
        return host is null || host == Environment.MachineName ? $"pid {pid}" : $"pid {pid} on {host}";
    }

    /// <summary>
    /// Whether the process a running manifest names is alive. On its own machine the pid decides (a live pid whose
    /// heartbeat stopped minutes ago is a reused pid); from another machine only a fresh heartbeat of that very host
    /// and pid does (<see cref="Heartbeat"/>). A released folder (pid null) has no writer.
    /// </summary>
    internal static bool WriterAlive(string folder, string? host, int? pid, DateTimeOffset now)
    {
        if (host is null || pid is null) return false;
        var beat = Heartbeat.Read(folder);
        bool sameWriter = beat is not null && beat.Host == host && beat.Pid == pid;
        if (host == Environment.MachineName)
            return ProcessAlive(pid.Value) && !(sameWriter && beat!.Age(now) > Heartbeat.PidReusedAfter);
        return sameWriter && beat!.Age(now) <= Heartbeat.StaleAfter;
    }

    private static bool ProcessAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
    }

    public static bool IsFinishedRun(string path, out string reason)
    {
        Manifest manifest;
        try
        {
            manifest = Manifest.Load(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            reason = e.Message;
            return false;
        }
        if (manifest.Status is not (RunStatus.Finished or RunStatus.FinishedWithDivergences))
        {
            reason = $"run status is '{manifest.Status}', not '{RunStatus.Finished}'";
            return false;
        }
        foreach (var (name, rows) in manifest.Tables)
        {
            var table = TablePath(manifest.Folder, name);
            if (!System.IO.File.Exists(table))
            {
                reason = $"table '{name}' is missing ({table})";
                return false;
            }
            if (Directory.Exists(table + ParquetTableWriter.PartsSuffix))
            {
                reason = $"table '{name}' still has a parts folder";
                return false;
            }
            long actual;
            try
            {
                actual = ParquetTable.ReadRowCount(table);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or Parquet.ParquetException)
            {
                reason = $"table '{name}' is unreadable: {e.Message}";
                return false;
            }
            if (actual != rows)
            {
                reason = $"table '{name}' has {actual} rows; the manifest records {rows}";
                return false;
            }
        }
        reason = "";
        return true;
    }

    private static string TablePath(string folder, string name) =>
        System.IO.Path.Combine(folder, name.EndsWith(".parquet", StringComparison.Ordinal) ? name : name + ".parquet");

    private static bool LooksLikeWorkbenchFolder(string path, int depth)
    {
        if (IsWorkbenchManifest(System.IO.Path.Combine(path, Manifest.FileName))) return true;
        // A study folder holds run folders (and those may hold runs of their own); stop early on deep trees.
        if (depth >= 2) return false;
        var entries = Directory.EnumerateFileSystemEntries(path).ToArray();
        return entries.Length > 0 && entries.All(e =>
            Directory.Exists(e) && new DirectoryInfo(e).LinkTarget is null && LooksLikeWorkbenchFolder(e, depth + 1));
    }

    private static bool IsWorkbenchManifest(string file)
    {
        if (!System.IO.File.Exists(file)) return false;
        try
        {
            // Another tool's manifest.json (a web app's, say) must not make its folder deletable.
            return JsonNode.Parse(System.IO.File.ReadAllText(file)) is JsonObject o && o["workbench_version"] is not null;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return false;
        }
    }

    private static void ClearContents(string path)
    {
        foreach (var entry in new DirectoryInfo(path).EnumerateFileSystemInfos())
        {
            // Symbolic links are removed, never followed.
            if (entry is DirectoryInfo directory && directory.LinkTarget is null) directory.Delete(recursive: true);
            else entry.Delete();
        }
    }
}

/// <summary>How a reader must treat a folder (see <see cref="RunFolder.Condition"/>).</summary>
public enum RunCondition { NotARun, Running, Interrupted, Failed, Finished }
