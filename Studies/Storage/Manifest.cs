using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbench.Studies.Storage;

/// <summary>The values of a manifest's <c>status</c> field.</summary>
public static class RunStatus
{
    public const string Running = "running";
    public const string Finished = "finished";
    /// <summary>Every table is complete, but some chains diverged and were stopped (the manifest's divergences say which).</summary>
    public const string FinishedWithDivergences = "finished_with_divergences";
    public const string Failed = "failed";
}

/// <summary>
/// <c>manifest.json</c> of a run folder: what ran, from which source and libraries, on which machine, with which
/// configuration, and how it ended. Keys are snake_case. The file is rewritten atomically (temp file + rename)
/// on every change, so a reader sees either the previous or the new document, never a torn one.
/// Thread-safe: chains running in parallel may record their tables.
/// </summary>
public sealed class Manifest
{
    public const string FileName = "manifest.json";
    public const int CurrentSchemaVersion = 1;

    /// <summary>Fields the manifest itself maintains; everything else is a caller's section.</summary>
    private static readonly HashSet<string> ReservedFields =
    [
        "schema_version", "workbench_version", "run_id", "study", "command_line", "status",
        "started_utc", "ended_utc", "error", "git_commit", "package_versions", "machine", "resumed_utc",
    ];

    private static readonly JsonSerializerOptions WriteOptions = new() { WriteIndented = true };
    private static readonly JsonSerializerOptions SectionOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
    };

    private readonly JsonObject _document;
    private readonly Lock _gate = new();
    private Heartbeat? _heartbeat;

    private Manifest(string filePath, JsonObject document)
    {
        FilePath = filePath;
        _document = document;
    }

    /// <summary>Absolute path of <c>manifest.json</c>.</summary>
    public string FilePath { get; }
    public string Folder => Path.GetDirectoryName(FilePath)!;

    public int SchemaVersion => Read(() => _document["schema_version"]?.GetValue<int>() ?? 0);
    public string? RunId => ReadString("run_id");
    public string? Study => ReadString("study");
    public string? Status => ReadString("status");
    public string? Error => ReadString("error");
    public string? GitCommit => ReadString("git_commit");
    public DateTimeOffset? StartedUtc => ReadTime("started_utc");
    public DateTimeOffset? EndedUtc => ReadTime("ended_utc");

    /// <summary>Tables recorded with <see cref="SetTable"/>: name (file name without <c>.parquet</c>) → row count.</summary>
    public IReadOnlyDictionary<string, long> Tables => Read(() =>
        _document["tables"] is JsonObject tables
            ? tables.ToDictionary(p => p.Key, p => p.Value?.GetValue<long>() ?? -1)
            : new Dictionary<string, long>());

    /// <summary>
    /// Starts a run: writes <c>{runFolder}/manifest.json</c> with status <c>running</c>, provenance and the
    /// configuration. The folder must exist (see <see cref="RunFolder.Create"/>).
    /// </summary>
    public static Manifest Start(
        string runFolder,
        string study,
        JsonNode? config = null,
        IReadOnlyList<string>? commandLine = null,
        int? torchThreads = null,
        string? runId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(study);
        var folder = Path.GetFullPath(runFolder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Run folder '{folder}' does not exist; create it with RunFolder.Create first.");
        var started = DateTimeOffset.UtcNow;
        var document = new JsonObject
        {
            ["schema_version"] = CurrentSchemaVersion,
            ["workbench_version"] = Provenance.WorkbenchVersion(),
            ["run_id"] = runId ?? NewRunId(study, started),
            ["study"] = study,
            ["command_line"] = new JsonArray((commandLine ?? Environment.GetCommandLineArgs()).Select(a => (JsonNode?)a).ToArray()),
            ["status"] = RunStatus.Running,
            ["started_utc"] = FormatTime(started),
            ["ended_utc"] = null,
            ["error"] = null,
            ["git_commit"] = Provenance.GitCommit(),
            ["package_versions"] = Provenance.PackageVersions(),
            ["machine"] = Provenance.Machine(torchThreads),
            ["config"] = config?.DeepClone(),
            ["tables"] = new JsonObject(),
        };
        var manifest = new Manifest(Path.Combine(folder, FileName), document);
        manifest.Save();
        manifest.StartHeartbeat();
        return manifest;
    }

    /// <summary>Reads a manifest from a run folder or a <c>manifest.json</c> path.</summary>
    public static Manifest Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        file = Path.GetFullPath(file);
        if (!File.Exists(file)) throw new FileNotFoundException($"No {FileName} at '{file}'.", file);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(file));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{file}' is not valid JSON: {e.Message}", e);
        }
        if (node is not JsonObject document || document["workbench_version"] is null)
            throw new InvalidDataException($"'{file}' is not a Workbench manifest (no workbench_version).");
        return new Manifest(file, document);
    }

    /// <summary>Sets (or with null clears) a free-form section such as <c>config</c>, <c>seeds</c>, <c>tempering</c>, <c>data</c>, <c>masks</c>; saves.</summary>
    public void Set(string section, JsonNode? value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(section);
        if (ReservedFields.Contains(section))
            throw new ArgumentException($"'{section}' is maintained by the manifest itself; use Start, Finish or Fail.", nameof(section));
        Update(d => d[section] = value?.DeepClone());
    }

    /// <summary>Sets a section from any serializable value (records, dictionaries); property names become snake_case.</summary>
    public void SetFrom<T>(string section, T value) => Set(section, JsonSerializer.SerializeToNode(value, SectionOptions));

    /// <summary>A copy of a section (null if absent).</summary>
    public JsonNode? Get(string section) => Read(() => _document[section]?.DeepClone());

    /// <summary>Records a table of the run (<c>{name}.parquet</c> in the run folder) and its row count; saves.</summary>
    public void SetTable(string name, long rowCount)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        Update(d =>
        {
            if (d["tables"] is not JsonObject tables) d["tables"] = tables = new JsonObject();
            tables[name] = rowCount;
        });
    }

    /// <summary>Marks the run finished (or finished with diverged chains) and records the end time; saves.</summary>
    public void Finish(string status = RunStatus.Finished) => Update(d =>
    {
        if (status is not (RunStatus.Finished or RunStatus.FinishedWithDivergences))
            throw new ArgumentException($"'{status}' is not a finished status", nameof(status));
        d["status"] = status;
        d["ended_utc"] = FormatTime(DateTimeOffset.UtcNow);
        d["error"] = null;
        StopHeartbeat();
    });

    /// <summary>
    /// A resuming process takes over an interrupted run: <c>machine</c> now names this process (pid, threads), the
    /// resume time is appended to <c>resumed_utc</c> and the status stays <c>running</c>; saves.
    /// </summary>
    public void Reclaim(int? torchThreads = null) => Reclaim(torchThreads, Environment.ProcessId);

    /// <summary>A study being resumed: status back to running (whatever it was), this process its writer.</summary>
    public void Reopen(int? torchThreads = null) => Reclaim(torchThreads, Environment.ProcessId, reopen: true);

    /// <summary>Tests: as <see cref="Reclaim(int?)"/>, naming another process as the writer.</summary>
    internal void Reclaim(int? torchThreads, int pid, bool reopen = false)
    {
        Update(d => Reclaim(d, torchThreads, pid, reopen));
        if (pid == Environment.ProcessId) StartHeartbeat();
    }

    private static void Reclaim(JsonObject d, int? torchThreads, int pid, bool reopen)
    {
        if (!reopen && d["status"]?.GetValue<string>() != RunStatus.Running)
            throw new InvalidOperationException($"only a running (interrupted) run can be reclaimed; this one is '{d["status"]}'");
        d["status"] = RunStatus.Running;
        d["error"] = null;
        d["ended_utc"] = null;
        var machine = Provenance.Machine(torchThreads);
        machine["pid"] = pid;
        d["machine"] = machine;
        if (d["resumed_utc"] is not JsonArray resumed) d["resumed_utc"] = resumed = new JsonArray();
        resumed.Add((JsonNode)FormatTime(DateTimeOffset.UtcNow));
    }

    /// <summary>
    /// The writing process lets go of a running folder without ending it (a planned study, whose cells run elsewhere):
    /// <c>machine.pid</c> becomes null, so the folder reads as interrupted — nobody is writing it — and a later
    /// <c>collect</c> or <c>resume</c> can take it over; saves.
    /// </summary>
    public void Release() => Update(d =>
    {
        if (d["status"]?.GetValue<string>() != RunStatus.Running)
            throw new InvalidOperationException($"only a running folder can be released; this one is '{d["status"]}'");
        if (d["machine"] is JsonObject machine) machine["pid"] = null;
        StopHeartbeat();
    });

    /// <summary>Marks the run failed with the exception's message; saves. Call it from the study's catch, then rethrow.</summary>
    public void Fail(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Update(d =>
        {
            d["status"] = RunStatus.Failed;
            d["ended_utc"] = FormatTime(DateTimeOffset.UtcNow);
            d["error"] = $"{exception.GetType().Name}: {exception.Message}";
            StopHeartbeat();
        });
    }

    /// <summary>
    /// This process writes the folder from now on: its heartbeat (<see cref="Heartbeat"/>) beats until the run
    /// finishes, fails or is released, so <c>status</c> and <c>run-cell</c> on any node can tell it is alive.
    /// </summary>
    private void StartHeartbeat()
    {
        lock (_gate)
        {
            _heartbeat?.Stop();
            _heartbeat = Heartbeat.Start(Folder);
        }
    }

    /// <summary>The run has ended or been let go: no more beats, and no file that could read as a live writer.</summary>
    private void StopHeartbeat()
    {
        if (_heartbeat is { } beat) beat.Stop(remove: true);
        else
        {
            try { File.Delete(Path.Combine(Folder, Heartbeat.FileName)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        _heartbeat = null;
    }

    /// <summary>The document as indented JSON (what is on disk).</summary>
    public string ToJson() => Read(() => _document.ToJsonString(WriteOptions));

    private void Update(Action<JsonObject> change)
    {
        lock (_gate)
        {
            change(_document);
            Save();
        }
    }

    /// <summary>Writes the document; callers hold <see cref="_gate"/> (or own the only reference).</summary>
    private void Save() => AtomicFile.WriteStream(FilePath, stream =>
    {
        // Written whole under a temporary name and renamed: readers never see a half-written manifest.
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            _document.WriteTo(writer);
        stream.WriteByte((byte)'\n');
    });

    private T Read<T>(Func<T> read)
    {
        lock (_gate) return read();
    }

    private string? ReadString(string field) => Read(() => _document[field] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null);

    private DateTimeOffset? ReadTime(string field) =>
        ReadString(field) is { } text ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : null;

    private static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string NewRunId(string study, DateTimeOffset started) =>
        $"{study}-{started.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}-{Guid.NewGuid():N}"[..(study.Length + 24)];
}
