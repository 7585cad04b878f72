using System.Globalization;
using Workbench.Architectures;
using Workbench.Samplers;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;

namespace Workbench.Tests.Studies;

/// <summary>`workbench sample --sampler X` works for every registered X, on linreg and on an MLP, end to end.</summary>
public sealed class EverySamplerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-every-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Samplers() => new(SamplerRegistry.Names);

    private string LinregCsv()
    {
        var random = new Random(3);
        var lines = new List<string> { "a,b,y" };
        for (int i = 0; i < 100; i++)
        {
            double a = random.NextDouble() - 0.5, b = random.NextDouble() - 0.5;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{a},{b},{2 * a - b + 0.1 * (random.NextDouble() - 0.5)}"));
        }
        string path = Path.Combine(_dir, "linreg.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Theory]
    [MemberData(nameof(Samplers))]
    public void Sampler_runs_on_linreg_and_writes_finite_draws(string sampler)
    {
        var options = new SampleOptions
        {
            Model = new ModelOptions("linreg"), Data = LinregCsv(), Target = "y", NoiseStd = 0.1, Sampler = sampler,
            StepSize = 1e-3, Chains = 2, Steps = 60, Warmup = 20, Thin = 5, BatchSize = 20, Draws = 4, Threads = 1,
            Device = "cpu", Out = Path.Combine(_dir, sampler),
        };
        var result = SamplingRun.Execute(options, TextWriter.Null);
        Assert.True(RunFolder.IsFinishedRun(result.Folder, out string reason), reason);
        var draws = ParquetTable.Read(Path.Combine(result.Folder, "draws.parquet"));
        Assert.True(draws.RowCount > 0, $"{sampler} wrote no draws");
        Assert.All(draws.ColumnAsDouble("w[0]").Concat(draws.ColumnAsDouble("w[1]")), v => Assert.True(double.IsFinite(v)));
        var manifest = Manifest.Load(result.Folder);
        Assert.Equal(sampler, manifest.Get("sampler")!["name"]!.GetValue<string>());
        Assert.Equal(80, manifest.Get("tempering")!["training_size"]!.GetValue<long>());
    }

    [Theory]
    [MemberData(nameof(Samplers))]
    public void Sampler_runs_on_a_wasym_mlp(string sampler)
    {
        var options = new SampleOptions
        {
            Model = new ModelOptions("mlp", Variant.WAsym, Widths: [8]), Sampler = sampler, StepSize = 1e-3,
            // 20 steps: a cyclical schedule (4 cycles of 5) reaches its sampling phase at steps 5, 10, 15, 20.
            Chains = 2, Steps = 20, Warmup = 4, Thin = 2, BatchSize = 16, Draws = 2, Track = 3, EvalTrain = false,
            Threads = 1, Device = "cpu", Out = Path.Combine(_dir, sampler + "-mlp"),
        };
        var result = SamplingRun.Execute(options, TextWriter.Null);
        Assert.True(RunFolder.IsFinishedRun(result.Folder, out string reason), reason);
        Assert.True(ParquetTable.Read(Path.Combine(result.Folder, "eval.parquet")).RowCount > 0);
    }

    [Fact]
    public void Cost_ledger_counts_every_gradient_evaluation()
    {
        // HMC with L = 3 leapfrog steps on the full batch: the first step also evaluates the start (L + 1), every
        // later one L; each evaluation is a full pass, so epochs equal gradient evaluations.
        var options = new SampleOptions
        {
            Model = new ModelOptions("linreg"), Data = LinregCsv(), Target = "y", NoiseStd = 0.1, Sampler = "hmc",
            StepSize = 1e-3, SamplerParameters = new Dictionary<string, double> { ["n_steps"] = 3 },
            Chains = 1, Steps = 10, Warmup = 0, Thin = 1, Threads = 1, Device = "cpu", Out = Path.Combine(_dir, "ledger"),
        };
        var result = SamplingRun.Execute(options, TextWriter.Null);
        var stats = ParquetTable.Read(Path.Combine(result.Folder, "stats.parquet"));
        Assert.Equal([4L, 7, 10, 13, 16, 19, 22, 25, 28, 31], stats.Column<long>("grad_evals"));
        Assert.Equal(31.0, stats.Column<double>("epoch")[^1], 12);
        var eval = ParquetTable.Read(Path.Combine(result.Folder, "eval.parquet"));
        Assert.Equal(31L, eval.Column<long>("grad_evals")[^1]);
    }
}
