using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace Workbench.Studies.Storage;

/// <summary>Where a run came from: source commit, library versions, machine. Read without running external tools.</summary>
public static class Provenance
{
    /// <summary>NuGet package name → assembly name, for the packages a result depends on.</summary>
    private static readonly (string Package, string Assembly)[] TrackedPackages =
    [
        ("TorchSharp", "TorchSharp"),
        ("Parquet.Net", "Parquet"),
        ("ScottPlot", "ScottPlot"),
        ("System.CommandLine", "System.CommandLine"),
        ("Microsoft.Data.Analysis", "Microsoft.Data.Analysis"),
    ];

    /// <summary>The version of Workbench itself (informational version, with the source revision when the build had one).</summary>
    public static string WorkbenchVersion() => InformationalVersion(typeof(Provenance).Assembly, keepRevision: true) ?? "unknown";

    /// <summary>
    /// The commit checked out in the git repository that contains <paramref name="startDirectory"/> (default: the
    /// current directory), read from the <c>.git</c> folder (worktrees and packed refs included); null if there is none.
    /// </summary>
    public static string? GitCommit(string? startDirectory = null)
    {
        try
        {
            var gitDir = FindGitDir(Path.GetFullPath(startDirectory ?? Directory.GetCurrentDirectory()));
            if (gitDir is null) return null;
            var head = File.ReadAllText(Path.Combine(gitDir, "HEAD")).Trim();
            if (!head.StartsWith("ref:", StringComparison.Ordinal)) return IsHash(head) ? head : null;

            var refName = head["ref:".Length..].Trim();
            var commonDir = gitDir;
            var commonDirFile = Path.Combine(gitDir, "commondir");
            if (File.Exists(commonDirFile))
                commonDir = Path.GetFullPath(Path.Combine(gitDir, File.ReadAllText(commonDirFile).Trim()));
            foreach (var dir in new[] { gitDir, commonDir })
            {
                var loose = Path.Combine(dir, refName);
                if (File.Exists(loose)) return Validated(File.ReadAllText(loose).Trim());
            }
            var packed = Path.Combine(commonDir, "packed-refs");
            if (!File.Exists(packed)) return null;
            foreach (var line in File.ReadLines(packed))
            {
                var parts = line.Split(' ', 2);
                if (parts.Length == 2 && parts[1].Trim() == refName) return Validated(parts[0]);
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Provenance is best effort: an unreadable .git must not stop a run.
            return null;
        }

        static string? Validated(string hash) => IsHash(hash) ? hash : null;
    }

    /// <summary>Versions of the tracked packages, read from their assemblies' informational versions (null if not present).</summary>
    public static JsonObject PackageVersions()
    {
        var versions = new JsonObject();
        foreach (var (package, assemblyName) in TrackedPackages)
            versions[package] = FindAssembly(assemblyName) is { } assembly ? InformationalVersion(assembly, keepRevision: false) : null;
        return versions;
    }

    /// <summary>The machine a run ran on.</summary>
    public static JsonObject Machine(int? torchThreads = null) => new()
    {
        ["os"] = RuntimeInformation.OSDescription,
        ["os_architecture"] = RuntimeInformation.OSArchitecture.ToString(),
        ["processor_count"] = Environment.ProcessorCount,
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["machine_name"] = Environment.MachineName,
        // Which process writes the run: a `running` manifest whose process is gone is an interrupted run.
        ["pid"] = Environment.ProcessId,
        ["torch_threads"] = torchThreads,
        // Why that many: the CPU budget's limiting source (affinity, cgroup quota, Slurm, OpenMP) or an explicit --threads.
        ["thread_source"] = TorchThreads.SourceOf(torchThreads),
        ["openmp_spin_count"] = Environment.GetEnvironmentVariable(Reproducibility.SpinVariable),
        ["openmp_wait_policy"] = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"),
    };

    private static string? FindGitDir(string directory)
    {
        for (var dir = new DirectoryInfo(directory); dir is not null; dir = dir.Parent)
        {
            var dotGit = Path.Combine(dir.FullName, ".git");
            if (Directory.Exists(dotGit)) return dotGit;
            if (File.Exists(dotGit))
            {
                // A worktree or submodule: ".git" is a file "gitdir: <path>".
                var line = File.ReadAllText(dotGit).Trim();
                if (!line.StartsWith("gitdir:", StringComparison.Ordinal)) return null;
                return Path.GetFullPath(Path.Combine(dir.FullName, line["gitdir:".Length..].Trim()));
            }
        }
        return null;
    }

    private static bool IsHash(string text) => text.Length is 40 or 64 && text.All(Uri.IsHexDigit);

    private static Assembly? FindAssembly(string name)
    {
        var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == name);
        if (loaded is not null) return loaded;
        try
        {
            // Loading the managed assembly reads metadata only; TorchSharp's native libraries load on first use of torch.
            return Assembly.Load(new AssemblyName(name));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return null;
        }
    }

    private static string? InformationalVersion(Assembly assembly, bool keepRevision)
    {
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                      ?? assembly.GetName().Version?.ToString();
        if (version is null || keepRevision) return version;
        var plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }
}
