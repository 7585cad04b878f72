using Workbench.Cli;

namespace Workbench.Tests.Cli;

/// <summary>`workbench` run in the test process, its exit code, standard output and standard error captured.</summary>
internal static class InProcessCli
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = WorkbenchCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
