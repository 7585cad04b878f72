using Workbench.Tests.Storage;

namespace Workbench.Tests.Cli;

/// <summary>
/// Everything a user can get wrong — options, config files, data files, result folders — answered by one line on
/// standard error that names the problem, exit code 2, and no run folder left behind (issue #16). Each row is one
/// mistake; <c>{dir}</c> stands for a folder of prepared bad inputs.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public BadInputTests()
    {
        File.WriteAllText(_dir.Combine("bad.csv"), "a,b\n1,2\n3,x\n");
        File.WriteAllText(_dir.Combine("good.csv"), "a,b\n1,2\n3,4\n5,6\n7,8\n");
        File.WriteAllText(_dir.Combine("broken.json"), "{ \"name\": \"x\", ");
        File.WriteAllText(_dir.Combine("wrongtype.json"),
            """{"name":"x","models":[{"model":"mlp"}],"variants":["standard"],"samplers":[{"name":"sgld"}],"budget":{"steps":10},"chains":"two"}""");
        File.WriteAllText(_dir.Combine("notparquet.parquet"), "x");
        Directory.CreateDirectory(_dir.Combine("empty"));
        Directory.CreateDirectory(_dir.Combine("plain"));
        File.WriteAllText(_dir.Combine("plain", "file.txt"), "a user's own file");
    }

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string> Mistakes => new()
    {
        // sample: values out of range
        { "sample --chains 0", "--chains must be at least 1" },
        { "sample --chains many", "many" },
        { "sample --steps 0", "--steps must be at least 1" },
        { "sample --steps 10 --warmup 10", "--warmup must be in [0, --steps)" },
        { "sample --thin 0", "--thin must be at least 1" },
        { "sample --batch-size 0", "--batch-size must be at least 1" },
        { "sample --lr -1", "--lr must be a positive number" },
        { "sample --temperature 0", "--temperature must be a positive number" },
        { "sample --prior-std -1", "--prior-std must be a positive number" },
        { "sample --seed -1", "--seed" },
        { "sample --split-seed -3", "--split-seed must be ≥ 0" },
        { "sample --eval-every 0", "--eval-every must be at least 1" },
        { "sample --checkpoint-every -1", "--checkpoint-every must be ≥ 0" },
        { "sample --divergence-factor -1", "--divergence-factor must be a number ≥ 0" },
        { "sample --val-fraction 1", "--val-fraction must be in [0, 1)" },
        { "sample --draws 0", "--draws must be at least 1" },
        { "sample --dtype float16", "--dtype must be float32 or float64" },
        { "sample --chain-mode fast", "--chain-mode must be auto, batched or sequential" },
        { "sample --device tpu", "--device" },
        { "sample --activation tanhh", "--activation must be relu or gelu" },
        { "sample --variant triangular", "--variant" },
        { "sample --model resnet1000", "resnet1000" },
        { "sample --sampler nuts", "nuts" },
        { "sample --figlu-std abc --variant sigma-asym", "--figlu-std must be" },
        { "sample --max-wall-time -1", "--max-wall-time must be a positive number" },
        // sample: malformed lists and hyperparameters
        { "sample --model mlp --widths 32,,32", "--widths has an empty entry in '32,,32'" },
        { "sample --model mlp --widths 12,x", "--widths must be positive integers" },
        { "sample --param nonsense", "--param must be NAME=NUMBER" },
        { "sample --param step_size=abc", "--param must be NAME=NUMBER" },
        { "sample --sampler sgld --param bogus=1", "sampler 'sgld' has no hyperparameter 'bogus'" },
        // sample: options that conflict or that the run would ignore
        { "sample --lr 0.01 --param step_size=0.02", "--param step_size" },
        { "sample --n-fix 4 --variant standard", "--n-fix applies to --variant w-asym" },
        { "sample --sampler hmc --batch-size 64", "--batch-size does not apply to hmc" },
        { "sample --test-fraction 0.3", "--test-fraction applies to CSV data" },
        { "sample --lr 1e308", "overflows the noise scale" },
        // sample: resources
        { "sample --threads 100000", "--threads 100000 exceeds the" },
        { "sample --threads -1", "--threads must be ≥ 0" },
        { "sample --model mlp --track 100000000", "--track 100,000,000 exceeds the 118,794 trainable parameters" },
        { "sample --chains 100000000", "needs at least" },
        { "sample --chains 200 --steps 100000000", "--yes-i-know" },
        // data files
        { "sample --model linreg --data {dir}/bad.csv --target b", "line 3, column 'b': 'x' is not a number" },
        { "sample --model linreg --data {dir}/good.csv --target zz", "has no column named 'zz' for --target" },
        { "sample --model linreg --data {dir}/good.csv", "CSV data needs a target column" },
        { "sample --data {dir}/empty", "no MNIST-style IDX files" },
        { "sample --data {dir}/does-not-exist", "does-not-exist" },
        // study configs and study options
        { "compare --config {dir}/broken.json", "not valid JSON" },
        { "compare --config {dir}/wrongtype.json", "chains must be a whole number, got \"two\"" },
        { "compare --config {dir}/missing.json", "no such file" },
        { "compare --preset nope", "unknown preset 'nope'" },
        { "compare --seeds 1,x", "--seeds must be whole numbers" },
        { "compare --seeds 1,,2", "--seeds has an empty entry" },
        { "compare --sampler sgld,", "--sampler has an empty entry" },
        { "compare --variants standard,weird", "weird" },
        { "compare --jobs 0", "--jobs must be at least 1" },
        // training studies
        { "lmc --epochs 0", "epochs must be at least 1" },
        { "lmc --points 4", "--points must be odd" },
        { "lmc --pairs 0", "--pairs must be at least 1" },
        { "lmc --model nope", "--model must be one of" },
        { "lmc --model mlp --widths 8,,8", "--widths has an empty entry" },
        { "merge --networks 1", "--networks must be at least 2" },
        { "mli --points 1", "--points must be at least 3" },
        { "zoo --networks 0", "--networks must be at least 1" },
        { "zoo --variants standard,,w-asym", "--variants has an empty entry" },
        // result folders
        { "metanet {dir}/empty", "is not a finished zoo" },
        { "metanet {dir}/missing", "does not exist" },
        { "diagnose {dir}/notparquet.parquet", "is not a readable Parquet table of draws" },
        { "diagnose {dir}/missing", "does not exist" },
        { "diagnose {dir}/plain", "is a folder without manifest.json" },
        { "resume {dir}/plain", "is not a Workbench run folder" },
        { "resume {dir}/missing", "does not exist; nothing to resume" },
        { "plot {dir}/plain", "not a Workbench study folder" },
        { "status {dir}/plain", "not a Workbench study folder" },
        { "collect {dir}/plain", "not a Workbench study folder" },
        { "run-cell {dir}/plain --index 0", "not a Workbench study folder" },
        { "barriers {dir}/plain", "is not a run folder" },
        { "sample --out {dir}/plain --force", "does not look like a Workbench run or study folder" },
        { "sample --out {dir}/plain/file.txt", "is a file, not a folder" },
        { "bench --seconds 0", "--seconds must be positive" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void A_mistake_gets_one_line_naming_it_exit_2_and_no_run_folder(string command, string named)
    {
        var args = command.Replace("{dir}", _dir.Path).Split(' ').ToList();
        // Commands that write a run get their own output folder (unless the row is about --out itself).
        string? output = null;
        if (args[0] is "sample" or "compare" or "lmc" or "merge" or "mli" or "zoo" && !args.Contains("--out"))
        {
            output = _dir.Combine("out-" + Guid.NewGuid().ToString("N")[..8]);
            args.AddRange(["--out", output]);
        }
        var (code, _, error) = InProcessCli.Run([.. args]);
        Assert.Equal(2, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        if (output is not null) Assert.False(Directory.Exists(output), $"'{command}' was refused but left {output} behind");
        Assert.True(File.Exists(_dir.Combine("plain", "file.txt")), "a user's own folder must never be touched");
    }

    [Fact]
    public void The_table_covers_at_least_forty_mistakes() => Assert.True(Mistakes.Count() >= 40);
}
