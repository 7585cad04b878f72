// Before any torch computation: MKL fixes its reproducibility mode on first use.
Workbench.Studies.Reproducibility.Pin();
return Workbench.Cli.WorkbenchCli.Run(args, Console.Out, Console.Error);
