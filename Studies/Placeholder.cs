namespace Workbench.Studies; internal static class Placeholder {}
