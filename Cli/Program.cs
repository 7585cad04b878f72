return Workbench.Cli.WorkbenchCli.Run(args, Console.Out, Console.Error);
