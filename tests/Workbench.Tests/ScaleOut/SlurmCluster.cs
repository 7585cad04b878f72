using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Workbench.Tests.ScaleOut;

/// <summary>
/// A real single-node Slurm on 127.0.0.1 for one test: munged (as the munge user), slurmctld and slurmd started in the
/// background from a slurm.conf in a temp folder, stopped by PID in reverse order on Dispose. Every client (sbatch,
/// squeue, scontrol, and those the CLI starts) finds it through SLURM_CONF, set in this process while it runs.
/// Where it cannot start (not root, no apt-get, the install fails, the daemons do not answer) the test is skipped
/// with the reason: it must never pass without a cluster.
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    /// <summary>2 variants × 2 seeds of a width-8 MLP under SGLD: 4 cells of a few steps each.</summary>
    public const string TinyStudy = """
        {
          "name": "tiny",
          "models": [ { "label": "m", "model": "mlp", "widths": [8] } ],
          "variants": [ "standard", "w-asym" ],
          "samplers": [ { "name": "sgld", "lr": 0.01 } ],
          "seeds": [ 0, 1 ],
          "chains": 2,
          "budget": { "steps": 20 },
          "batch_size": 32,
          "warmup_fraction": 0.5,
          "draws": 3,
          "eval_train": false,
          "threads": 1
        }
        """;

    private static readonly string[] Programs = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo"];
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-slurm-").FullName;
    private readonly List<Process> _daemons = [];
    private readonly string? _previousConf = Environment.GetEnvironmentVariable("SLURM_CONF");

    public string Conf => Path.Combine(_dir, "slurm.conf");
    /// <summary>What starting took: the install (0 when Slurm was there already) and the daemons until the node was idle.</summary>
    public TimeSpan Install { get; private set; }
    public TimeSpan Startup { get; private set; }

    private SlurmCluster() { }

    /// <summary>A running cluster, or a skipped test saying why there is none.</summary>
    public static SlurmCluster Start()
    {
        var cluster = new SlurmCluster();
        try
        {
            cluster.Boot();
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    private void Boot()
    {
        if (Environment.UserName != "root") throw new SkipException($"a real Slurm needs root to start its daemons (running as {Environment.UserName})");
        var clock = Stopwatch.StartNew();
        if (Programs.Any(p => Which(p) is null)) InstallSlurm();
        Install = clock.Elapsed;
        clock.Restart();

        // munged runs as munge, with the key Debian's package made; an already running munged (the machine's) is used as is.
        if (Execute("sh", "-c", "munge -n | unmunge").Code != 0)
        {
            Require(Execute("install", "-d", "-o", "munge", "-g", "munge", "/run/munge"), "create /run/munge");
            if (!File.Exists("/etc/munge/munge.key")) throw new SkipException("munge has no key /etc/munge/munge.key");
            Require(Execute("chown", "munge:munge", "/etc/munge/munge.key"), "chown the munge key");
            Require(Execute("chmod", "0600", "/etc/munge/munge.key"), "chmod the munge key");
            Daemon("setpriv", "--reuid=munge", "--regid=munge", "--init-groups", Which("munged")!, "-F");
            WaitFor(() => Execute("sh", "-c", "munge -n | unmunge").Code == 0, TimeSpan.FromSeconds(15), "munged");
        }

        // The node line from slurmd -C (it needs no config); RealMemory below what it found, or the node is drained.
        var probe = Execute(Which("slurmd")!, "-C");
        string line = probe.Output.Split('\n').FirstOrDefault(l => l.StartsWith("NodeName=")) ?? throw new SkipException($"slurmd -C printed no node line: {probe.Error.Trim()}");
        var node = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => f.Split('=', 2)).Where(f => f[0] != "RealMemory").Select(f => $"{f[0]}={f[1]}").ToList();
        long memory = long.Parse(line.Split(' ').First(f => f.StartsWith("RealMemory="))["RealMemory=".Length..]);
        foreach (var d in new[] { "state", "spool" }) Directory.CreateDirectory(Path.Combine(_dir, d));
        File.WriteAllText(Conf, $"""
            ClusterName=workbench
            SlurmctldHost=localhost
            SlurmctldPort={FreePort()}
            SlurmdPort={FreePort()}
            SlurmUser=root
            SlurmdUser=root
            AuthType=auth/munge
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            SchedulerParameters=batch_sched_delay=0
            ReturnToService=2
            MpiDefault=none
            MailProg=/bin/true
            AccountingStorageType=accounting_storage/none
            JobAcctGatherType=jobacct_gather/none
            JobCompType=jobcomp/none
            StateSaveLocation={_dir}/state
            SlurmdSpoolDir={_dir}/spool
            SlurmctldPidFile={_dir}/slurmctld.pid
            SlurmdPidFile={_dir}/slurmd.pid
            SlurmctldLogFile={_dir}/slurmctld.log
            SlurmdLogFile={_dir}/slurmd.log
            NodeName=localhost NodeAddr=127.0.0.1 {string.Join(' ', node)} RealMemory={memory * 9 / 10}
            PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP

            """);
        Environment.SetEnvironmentVariable("SLURM_CONF", Conf);
        Daemon(Which("slurmctld")!, "-D", "-f", Conf);
        Daemon(Which("slurmd")!, "-D", "-N", "localhost", "-f", Conf);
        WaitFor(() => Execute("sinfo", "-h", "-o", "%t").Output.Trim() == "idle", TimeSpan.FromSeconds(30), "slurmctld and slurmd (node idle in sinfo)");
        Startup = clock.Elapsed;
    }

    private static void InstallSlurm()
    {
        if (Which("apt-get") is null) throw new SkipException($"Slurm is not installed ({string.Join(", ", Programs.Where(p => Which(p) is null))} missing) and there is no apt-get to install it");
        string[] install = ["install", "-y", "-q", "--no-install-recommends", "slurmctld", "slurmd", "slurm-client", "munge"];
        var run = Execute("apt-get", install);
        if (run.Code != 0)
        {
            Execute("apt-get", "update", "-q"); // a fresh image has no package lists yet
            run = Execute("apt-get", install);
        }
        if (run.Code != 0) throw new SkipException($"apt-get could not install Slurm: {run.Error.Trim().Split('\n').Last()}");
        if (Programs.FirstOrDefault(p => Which(p) is null) is { } missing) throw new SkipException($"{missing} is still missing after installing Slurm");
    }

    private void Daemon(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _daemons.Add(process);
    }

    private void WaitFor(Func<bool> ready, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!ready())
        {
            if (_daemons.FirstOrDefault(d => d.HasExited) is { } dead)
                throw new SkipException($"{what}: {dead.StartInfo.FileName} exited {dead.ExitCode} while starting; {LogTail()}");
            if (clock.Elapsed > timeout) throw new SkipException($"{what} did not come up within {timeout.TotalSeconds:0} s; {LogTail()}");
            Thread.Sleep(200);
        }
    }

    private string LogTail() => string.Join(" | ", new[] { "slurmctld.log", "slurmd.log" }.Select(f => Path.Combine(_dir, f)).Where(File.Exists)
        .Select(f => $"{Path.GetFileName(f)}: {File.ReadLines(f).LastOrDefault()}"));

    /// <summary>The daemons stopped by PID, newest first (slurmd, slurmctld, munged), whatever the test did.</summary>
    public void Dispose()
    {
        for (int i = _daemons.Count - 1; i >= 0; i--)
        {
            var daemon = _daemons[i];
            if (!daemon.HasExited)
            {
                Execute("kill", "-TERM", daemon.Id.ToString()); // SIGTERM: each saves its state and exits
                if (!daemon.WaitForExit(10_000)) daemon.Kill();
                daemon.WaitForExit();
            }
            daemon.Dispose();
        }
        Environment.SetEnvironmentVariable("SLURM_CONF", _previousConf);
        Directory.Delete(_dir, recursive: true);
    }

    private static void Require((int Code, string Output, string Error) run, string what)
    {
        if (run.Code != 0) throw new SkipException($"could not {what}: {run.Error.Trim()}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin"])
            .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    public static (int Code, string Output, string Error) Execute(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(Which(program) ?? program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }
}
