using Workbench.Samplers;
using Workbench.Studies.Sampling;
using Workbench.Studies.Storage;
using Workbench.Tests.Storage;
using static TorchSharp.torch;

namespace Workbench.Tests.Samplers;

/// <summary>Bit-identity needs one torch thread; the thread count is process-wide, so these tests run alone.</summary>
[CollectionDefinition(nameof(CheckpointCollection), DisableParallelization = true)]
public sealed class CheckpointCollection;

[Collection(nameof(CheckpointCollection))]
public class CheckpointTests
{
    private const int Chains = 3, Before = 12, After = 8, Draws = 3;
    private const ulong Seed = 2024;

    public static TheoryData<string> Methods => new(SamplerRegistry.Names);

    [Theory]
    [MemberData(nameof(Methods))]
    public void Checkpoint_resumes_every_method_bit_identically(string method)
    {
        using var threads = new OneTorchThread();
        using var folder = new TempFolder();
        var path = folder.Combine("state.ckpt");
        using var problem = new LinearRegressionProblem();
        var target = problem.FullBatch(Chains);
        var context = new SamplerContext(problem.Tempering(), Before + After);

        // Uninterrupted run: N steps, checkpoint, M more steps (and draws for fitted methods) → A.
        var sampler = SamplerRegistry.Create(method, context);
        var generators = NoiseGenerators(Seed);
        using var initial = randn([Chains, problem.D], dtype: problem.Dtype, generator: generators[0]);
        using var state = sampler.Init(initial.clone());
        for (int t = 0; t < Before; t++) Step(sampler, state, target, generators);
        var writer = new StateWriter();
        state.Save(writer);
        GeneratorState.Save(writer, "noise", generators);
        CheckpointFile.Write(path, writer);
        var expected = Continue(sampler, state, target, generators);

        // From scratch: another sampler, a state at another θ₀, generators with other seeds; then the checkpoint.
        var resumedSampler = SamplerRegistry.Create(method, context);
        var resumedGenerators = NoiseGenerators(Seed + 1);
        using var resumed = resumedSampler.Init(zeros([Chains, problem.D], dtype: problem.Dtype));
        var reader = CheckpointFile.Read(path);
        resumed.Load(reader);
        GeneratorState.Load(reader, "noise", resumedGenerators);
        var actual = Continue(resumedSampler, resumed, target, resumedGenerators);

        Assert.Equal(Before + After, resumed.Iteration);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.True(expected[i] == actual[i], $"{method}: {Difference(expected[i], actual[i])}");
        foreach (var g in generators.Concat(resumedGenerators)) g.Dispose();
    }

    [Fact]
    public void Checkpoint_of_a_state_never_stepped_resumes_bit_identically()
    {
        // VI creates its factors and HMC its cache at the first step: a checkpoint taken before must not carry them.
        using var threads = new OneTorchThread();
        using var problem = new LinearRegressionProblem();
        var target = problem.FullBatch(Chains);
        foreach (var method in new[] { "elrg", "hmc" })
        {
            var sampler = SamplerRegistry.Create(method, new SamplerContext(problem.Tempering(), 10));
            var generators = NoiseGenerators(Seed);
            using var state = sampler.Init(full([Chains, problem.D], HeldScalars.Of(0.1), dtype: problem.Dtype));
            var writer = new StateWriter();
            state.Save(writer);
            GeneratorState.Save(writer, "noise", generators);
            var reader = RoundTrip(writer);
            var expected = Continue(sampler, state, target, generators);

            var resumedGenerators = NoiseGenerators(Seed + 1);
            using var resumed = sampler.Init(zeros([Chains, problem.D], dtype: problem.Dtype));
            resumed.Load(reader);
            GeneratorState.Load(reader, "noise", resumedGenerators);
            Assert.Equal(expected, Continue(sampler, resumed, target, resumedGenerators));
        }
    }

    [Fact]
    public void Minibatch_stream_resumes_with_the_same_batches()
    {
        ulong[] seeds = [11, 12, 13];
        using var stream = new MinibatchStream(50, 7, seeds);
        for (int i = 0; i < 9; i++) stream.Next().Dispose(); // past the end of the first epoch (7 batches)
        var writer = new StateWriter();
        stream.Save(writer);
        var expected = Batches(stream, 12);

        using var resumed = new MinibatchStream(50, 7, [1, 2, 3]);
        resumed.Load(RoundTrip(writer));
        Assert.Equal(expected, Batches(resumed, 12));

        using var otherBatch = new MinibatchStream(50, 5, seeds);
        var error = Assert.Throws<InvalidDataException>(() => otherBatch.Load(RoundTrip(writer)));
        Assert.Contains("batches of 7", error.Message);
    }

    [Fact]
    public void Truncated_or_corrupt_checkpoint_file_fails_naming_the_file()
    {
        using var folder = new TempFolder();
        var path = folder.Combine("state.ckpt");
        var sampler = SamplerRegistry.Create("sghmc", new SamplerContext(GaussianTarget.Tempering, 10));
        using var state = sampler.Init(ones(2, 4));
        var writer = new StateWriter();
        state.Save(writer);
        File.WriteAllText(path, "an older checkpoint");
        CheckpointFile.Write(path, writer); // replaces it
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(["iteration", "position", "velocity"], CheckpointFile.Read(path).Names.Order(StringComparer.Ordinal));
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));

        File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
        var truncated = Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path));
        Assert.Contains(path, truncated.Message);
        Assert.Contains("truncated", truncated.Message);

        File.WriteAllBytes(path, bytes[..20]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path)).Message);

        var flipped = (byte[])bytes.Clone();
        flipped[^5] ^= 0x01;
        File.WriteAllBytes(path, flipped);
        var corrupt = Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path));
        Assert.Contains(path, corrupt.Message);
        Assert.Contains("corrupt", corrupt.Message);

        File.WriteAllText(path, "not a checkpoint at all, just some text");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => CheckpointFile.Read(path)).Message);

        var missing = folder.Combine("missing.ckpt");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => CheckpointFile.Read(missing)).Message);
    }

    [Fact]
    public void Loading_a_checkpoint_of_another_shape_or_dtype_names_the_entry()
    {
        var sampler = SamplerRegistry.Create("sghmc", new SamplerContext(GaussianTarget.Tempering, 10));
        using var state = sampler.Init(ones(2, 4));
        var writer = new StateWriter();
        state.Save(writer);
        var reader = RoundTrip(writer, "three-chains.ckpt");

        using var fewer = sampler.Init(ones(3, 4));
        var shape = Assert.Throws<InvalidDataException>(() => fewer.Load(reader));
        Assert.Contains("'position'", shape.Message);
        Assert.Contains("three-chains.ckpt", shape.Message);

        using var wider = sampler.Init(ones(2, 4, dtype: ScalarType.Float64));
        Assert.Contains("'position'", Assert.Throws<InvalidDataException>(() => wider.Load(reader)).Message);

        // A method whose state lacks an entry the other wrote (sgld has no velocity) is told which one.
        var sgldWriter = new StateWriter();
        using (var sgld = SamplerRegistry.Create("sgld", new SamplerContext(GaussianTarget.Tempering, 10)).Init(ones(2, 4))) sgld.Save(sgldWriter);
        Assert.Contains("'velocity'", Assert.Throws<InvalidDataException>(() => state.Load(RoundTrip(sgldWriter))).Message);
    }

    [Fact]
    public void Scalars_and_tensors_round_trip_with_dtype_and_shape()
    {
        var writer = new StateWriter();
        using var ints = arange(HeldScalars.Zero, HeldScalars.Of(6), HeldScalars.One, dtype: ScalarType.Int32).reshape(2, 3);
        using var halves = tensor(new[] { 1.5, -0.0, double.NaN }).to_type(ScalarType.Float16);
        writer.Tensor("ints", ints);
        writer.Tensor("halves", halves);
        writer.Long("count", long.MinValue);
        writer.Double("nan", double.NaN);
        writer.Doubles("values", [double.Epsilon, -0.0, double.PositiveInfinity]);
        writer.Longs("empty", []);
        Assert.Throws<ArgumentException>(() => writer.Long("count", 1));

        var reader = RoundTrip(writer);
        using var intsBack = reader.NewTensor("ints");
        Assert.Equal(ScalarType.Int32, intsBack.dtype);
        Assert.Equal([2L, 3L], intsBack.shape);
        Assert.Equal(ints.data<int>().ToArray(), intsBack.data<int>().ToArray());
        using var halvesBack = zeros(3, dtype: ScalarType.Float16);
        reader.Tensor("halves", halvesBack);
        Assert.Equal(halves.bytes.ToArray(), halvesBack.bytes.ToArray());
        Assert.Equal(long.MinValue, reader.Long("count"));
        Assert.True(double.IsNaN(reader.Double("nan")));
        Assert.Equal(new[] { double.Epsilon, -0.0, double.PositiveInfinity }.Select(BitConverter.DoubleToInt64Bits),
            reader.Doubles("values").Select(BitConverter.DoubleToInt64Bits));
        Assert.Empty(reader.Longs("empty"));
        Assert.Contains("'count'", Assert.Throws<InvalidDataException>(() => reader.Double("count")).Message);
        Assert.Contains("'absent'", Assert.Throws<InvalidDataException>(() => reader.Long("absent")).Message);
    }

    private static Generator[] NoiseGenerators(ulong seed) =>
        Enumerable.Range(0, Chains).Select(k => new Generator(ChainSeeds.For(seed, k).Noise)).ToArray();

    private static StepInfo Step(ISampler sampler, SamplerState state, ILogLikelihood target, Generator[] generators)
    {
        using var scope = NewDisposeScope();
        return sampler.Step(state, target, generators);
    }

    /// <summary>Everything the next steps produce, as raw bits: each step's statistics and θ, then (fitted methods)
    /// a few draws.</summary>
    private static List<string> Continue(ISampler sampler, SamplerState state, ILogLikelihood target, Generator[] generators)
    {
        var trace = new List<string>();
        for (int t = 0; t < After; t++)
        {
            var info = Step(sampler, state, target, generators);
            trace.Add($"step {state.Iteration} info {Bits(info)}");
            trace.Add($"step {state.Iteration} θ {Bits(state.Position)}");
        }
        if (sampler.Kind == SamplerKind.Fitted)
            for (int d = 0; d < Draws; d++)
            {
                using var draw = sampler.Draw(state, generators);
                trace.Add($"draw {d} {Bits(draw)}");
            }
        return trace;
    }

    private static string Bits(Tensor t)
    {
        using var cpu = t.detach().cpu().contiguous();
        return Convert.ToHexString(cpu.bytes);
    }

    private static string Bits(StepInfo info)
    {
        static string Doubles(IEnumerable<double> values) => string.Join(",", values.Select(v => BitConverter.DoubleToInt64Bits(v).ToString("X")));
        return $"ll={Doubles(info.LogLikelihood)} lp={Doubles(info.Lp)} grad={Doubles(info.GradNorm)} eta={Doubles([info.StepSize])} " +
            $"div={string.Join(",", info.Diverging)} collect={info.Collect} evals={info.GradientEvaluations} " +
            string.Join(" ", info.Extra.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={Doubles(e.Value)}"));
    }

    private static string Difference(string expected, string actual)
    {
        int i = 0;
        while (i < Math.Min(expected.Length, actual.Length) && expected[i] == actual[i]) i++;
        int from = Math.Max(0, i - 40);
        return $"differs at {i}: expected …{expected[from..Math.Min(expected.Length, i + 40)]}… got …{actual[from..Math.Min(actual.Length, i + 40)]}…";
    }

    private static List<long[]> Batches(MinibatchStream stream, int count)
    {
        var batches = new List<long[]>();
        for (int i = 0; i < count; i++)
        {
            using var batch = stream.Next();
            batches.Add(batch.data<long>().ToArray());
        }
        return batches;
    }

    private static StateReader RoundTrip(StateWriter writer, string source = "memory")
    {
        using var stream = new MemoryStream();
        writer.WriteTo(stream);
        stream.Position = 0;
        return StateReader.ReadFrom(stream, source);
    }

    /// <summary>One torch thread for the test's duration (reductions split across threads may round differently).</summary>
    private sealed class OneTorchThread : IDisposable
    {
        private readonly int _previous = get_num_threads();

        public OneTorchThread() => set_num_threads(1);

        public void Dispose() => set_num_threads(_previous);
    }
}
