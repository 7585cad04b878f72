System.Console.WriteLine(Workbench.Architectures.Smoke.OnesSum());
