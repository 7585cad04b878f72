using Workbench.Studies.Benchmarks;
using Workbench.Tests.Storage;

namespace Workbench.Tests.Studies;

/// <summary>`make bench`'s arithmetic and its search for a PyTorch interpreter; nothing here is timed.</summary>
public sealed class BenchmarkTests
{
    [Fact]
    public void Step_flops_of_a_tiny_mlp_match_the_hand_count()
    {
        // 3-4-2, batch 5: forward 2·5·(3·4 + 4·2) = 200; weight gradients 200; input gradient of the second layer only 2·5·4·2 = 80.
        Assert.Equal(480, StepFlops.Mlp(5, [3, 4, 2]));
    }

    [Fact]
    public void Step_flops_of_the_papers_mnist_mlp_count_every_layer()
    {
        // Σ in·out = 401,408 + 262,144 + 262,144 + 5,120 = 930,816; without the first layer 529,408; 2·128·(2·930,816 + 529,408).
        Assert.Equal(612_106_240, StepFlops.Mlp(128, [784, 512, 512, 512, 10]));
        Assert.Equal(2.0 * 2048 * 2048 * 2048, StepFlops.SquareMatmul(2048));
    }

    [Fact]
    public void Reference_interpreters_are_tried_as_given_then_python3_then_the_system_one()
    {
        Assert.Equal(["/opt/py/bin/python", "python3", "/usr/bin/python3"], PytorchReference.Candidates("/opt/py/bin/python"));
        Assert.Equal(["python3", "/usr/bin/python3"], PytorchReference.Candidates(null));
        Assert.Equal(["python3", "/usr/bin/python3"], PytorchReference.Candidates("python3"));
    }

    [Fact]
    public void A_missing_interpreter_gives_one_line_saying_there_is_no_torch()
    {
        using var folder = new TempFolder();
        string script = folder.Combine("pytorch_reference.py");
        File.WriteAllText(script, "print('unused')\n");
        string missing = folder.Combine("no-such-python");

        var (reference, line) = PytorchReference.Discover([missing], script);

        Assert.Null(reference);
        Assert.DoesNotContain('\n', line);
        Assert.Contains("no interpreter can import torch", line);
        Assert.Contains($"{missing}: not found", line);
        Assert.Contains("--python", line);
    }

    [Fact]
    public void A_missing_reference_script_is_reported_before_any_interpreter_is_started()
    {
        using var folder = new TempFolder();
        var (reference, line) = PytorchReference.Discover(["python3"], folder.Combine("absent.py"));
        Assert.Null(reference);
        Assert.Contains("--reference", line);
    }

    [Fact]
    public void A_target_passes_on_its_side_of_the_bound()
    {
        Assert.True(new BenchmarkTarget("ratio", 1.5, 1.5).Pass);
        Assert.False(new BenchmarkTarget("ratio", 1.49, 1.5).Pass);
        Assert.True(new BenchmarkTarget("overhead", 1.10, 1.15, AtMost: true).Pass);
        Assert.False(new BenchmarkTarget("overhead", 1.20, 1.15, AtMost: true).Pass);
        Assert.Equal("≤ 1.15", new BenchmarkTarget("overhead", 1.1, 1.15, AtMost: true).Condition);
    }
}
