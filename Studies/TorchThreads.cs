using System.Runtime.InteropServices;
using Workbench.Studies.Sampling;
using static TorchSharp.torch;

namespace Workbench.Studies;

/// <summary>The size of libtorch's thread pool and why: the CPU budget (0 requested) or a request within it.</summary>
public sealed record ThreadChoice(int Count, string Source)
{
    /// <summary>
    /// The threads a request (0 = the budget) comes to. A request beyond the budget is refused: its threads would spin on
    /// cores the process does not have (see <see cref="CpuBudget"/>).
    /// </summary>
    public static ThreadChoice For(int requested, CpuBudget budget, string option = "--threads")
    {
        if (requested < 0) throw new OptionException($"{option} must be ≥ 0 (0 = the CPUs this process may use), got {requested}");
        if (requested == 0) return new(budget.Cpus, budget.Source);
        if (requested > budget.Cpus)
            throw new OptionException($"{option} {requested} exceeds the {budget.Cpus} CPU(s) this process may use ({budget.Source}): " +
                                      $"give {option} {budget.Cpus} or fewer (0 = all of them)");
        return new(requested, $"{option} {requested} (budget: {budget.Source})");
    }
}

/// <summary>
/// Sizes libtorch's process-wide thread pools. Every command that runs torch applies its thread count here, so the
/// pool is never larger than the CPU budget, and the manifest can say where the count came from.
/// </summary>
public static class TorchThreads
{
    private static readonly object Gate = new();
    private static bool _interopTried;

    /// <summary>The last choice applied in this process (torch's pool is process-global, so is this).</summary>
    public static ThreadChoice? Applied { get; private set; }

    /// <summary>Applies a request (0 = the CPU budget) to torch and returns the choice; refuses one beyond the budget.</summary>
    public static ThreadChoice Apply(int requested, string option = "--threads") => Apply(ThreadChoice.For(requested, CpuBudget.Current, option));

    public static ThreadChoice Apply(ThreadChoice choice)
    {
        lock (Gate)
        {
            set_num_threads(choice.Count);
            if (!_interopTried)
            {
                // The inter-op pool is a second pool, all cores by default; it can be sized only before any parallel work
                // started, so only the first call of a process may succeed. The workbench runs no inter-op work, so a
                // refusal (torch already used it) leaves nothing to fix.
                _interopTried = true;
                try
                {
                    set_num_interop_threads(choice.Count);
                }
                catch (ExternalException)
                {
                }
            }
            Applied = choice;
            return choice;
        }
    }

    /// <summary>Where <paramref name="torchThreads"/> came from, when it is the count applied last; null otherwise.</summary>
    public static string? SourceOf(int? torchThreads) => Applied is { } a && a.Count == torchThreads ? a.Source : null;
}
