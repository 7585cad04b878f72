using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Workbench.Tests;

/// <summary>
/// Issue #16, item 7: no implicit TorchSharp <c>Scalar</c> anywhere in the code. TorchSharp hands a Scalar's native
/// handle to native code without keeping the object alive, so a Scalar nobody holds can be finalized — its native
/// memory freed — while native code still reads it (the project failed intermittently from it). Every Scalar must be
/// held: <c>HeldScalars.Of(x)</c>, a <c>HeldScalars</c> constant, or a <c>using</c> declaration. This test compiles the
/// whole repository with Roslyn and fails on (a) an implicit conversion to Scalar, (b) a call of a TorchSharp member
/// that makes an unheld Scalar inside (found by reading TorchSharp's IL, so a new TorchSharp version is checked
/// too: <c>Tensor.add(Tensor)</c> is <c>add(target, 1)</c>, <c>a * 2.0</c> converts 2.0, <c>square()</c> is
/// <c>pow(2)</c>), and (c) a <c>ToScalar()</c> that is not held.
/// </summary>
public sealed class NativeScalarTests
{
    private static readonly string[] ProjectFolders = ["Architectures", "Samplers", "Studies", "Cli", "tests"];

    [Fact]
    public void No_scalar_in_the_repository_is_left_to_the_finalizer()
    {
        var root = RepositoryRoot();
        var files = ProjectFolders.SelectMany(f => Directory.EnumerateFiles(Path.Combine(root, f), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.True(files.Count > 100, $"found only {files.Count} source files under {root}");
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), path: Path.GetRelativePath(root, f))).ToList();
        var findings = Scan(trees);
        Assert.True(findings.Count == 0,
            $"{findings.Count} unheld TorchSharp Scalar(s); hold each with HeldScalars.Of(x), a HeldScalars constant or 'using var':\n" + string.Join("\n", findings));
    }

    [Fact]
    public void The_scan_finds_each_kind_of_unheld_scalar()
    {
        // The scanner must be able to fail: one example of each kind it looks for, and their held forms.
        const string source = """
            using TorchSharp;
            using static TorchSharp.torch;
            static class Example
            {
                static Tensor Unheld(Tensor a, Tensor b, double lr)
                {
                    var c = a.mul(2.0);          // (a) implicit double → Scalar
                    var d = a + b;               // (b) Tensor + Tensor is add(b, 1)
                    var e = a.square();          // (b) square() is pow(2)
                    var s = lr.ToScalar();       // (c) a Scalar nobody disposes
                    return c.add_(d, s).add_(e, s);
                }
                static Tensor Held(Tensor a, Tensor b, double lr)
                {
                    using var s = lr.ToScalar();
                    return a.mul(s).add(b, s);
                }
            }
            """;
        var findings = Scan([CSharpSyntaxTree.ParseText(source, path: "Example.cs")]);
        Assert.Equal(4, findings.Count(f => f.Contains("Unheld")));
        Assert.Contains(findings, f => f.Contains("implicit") && f.Contains("2.0"));
        Assert.Contains(findings, f => f.Contains("op_Addition"));
        Assert.Contains(findings, f => f.Contains("square"));
        Assert.Contains(findings, f => f.Contains("ToScalar"));
        Assert.DoesNotContain(findings, f => f.Contains("Held("));
    }

    /// <summary>Every unheld Scalar in <paramref name="trees"/>, as "file:line (member): what".</summary>
    private static List<string> Scan(IReadOnlyList<SyntaxTree> trees)
    {
        var globalUsings = CSharpSyntaxTree.ParseText(
            "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; " +
            "global using System.Threading; global using System.Threading.Tasks; global using Xunit;", path: "GlobalUsings.cs");
        var compilation = CSharpCompilation.Create("scan", [.. trees, globalUsings], References(),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
        // Unresolved TorchSharp names would hide every finding: the scan only counts if TorchSharp's types bind.
        var unbound = compilation.GetDiagnostics().Where(d => d.Id is "CS0246" or "CS0234").Take(5).ToList();
        Assert.True(unbound.Count == 0, "the scan could not resolve types:\n" + string.Join("\n", unbound));

        var tainted = TaintedTorchSharpMembers();
        var findings = new List<string>();
        foreach (var tree in compilation.SyntaxTrees)
        {
            var model = compilation.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                string? what = null;
                if (node is ExpressionSyntax expression && model.GetConversion(expression) is { IsUserDefined: true, IsImplicit: true } conversion
                    && conversion.MethodSymbol?.ContainingType.ToDisplayString() == "TorchSharp.Scalar")
                    what = $"implicit {model.GetTypeInfo(expression).Type?.ToDisplayString()} → Scalar: {Short(expression)}";
                else if (node is InvocationExpressionSyntax or BinaryExpressionSyntax or AssignmentExpressionSyntax or ObjectCreationExpressionSyntax
                         or PrefixUnaryExpressionSyntax or MemberAccessExpressionSyntax or IdentifierNameSyntax)
                {
                    var symbol = model.GetSymbolInfo(node).Symbol;
                    if (symbol is IPropertySymbol property) symbol = property.GetMethod;
                    if (symbol is IMethodSymbol method && node is not MemberAccessExpressionSyntax { Parent: InvocationExpressionSyntax }
                        && !(node is IdentifierNameSyntax && node.Parent is MemberAccessExpressionSyntax access && access.Name == node))
                    {
                        string? id = (method.ReducedFrom ?? method).OriginalDefinition.GetDocumentationCommentId();
                        if (id is not null && tainted.Contains(id)) what = $"{method.Name} makes an unheld Scalar inside TorchSharp: {Short(node)}";
                        else if (method.Name == "ToScalar" && !Held(node)) what = $"ToScalar() not held: {Short(node)}";
                    }
                }
                if (what is null || node.Ancestors().OfType<ClassDeclarationSyntax>().Any(c => c.Identifier.Text == "HeldScalars")) continue;
                var line = node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                var member = node.Ancestors().OfType<MemberDeclarationSyntax>().FirstOrDefault() switch
                {
                    MethodDeclarationSyntax m => m.Identifier.Text,
                    ConstructorDeclarationSyntax c => c.Identifier.Text,
                    PropertyDeclarationSyntax p => p.Identifier.Text,
                    _ => "",
                };
                findings.Add($"{tree.FilePath}:{line} ({member}): {what}");
            }
        }
        return findings.Distinct().ToList();
    }

    /// <summary>A ToScalar() whose result lives as long as it is used: a using declaration or statement, or a field.</summary>
    private static bool Held(SyntaxNode call)
    {
        var expression = call.Parent is MemberAccessExpressionSyntax { Parent: InvocationExpressionSyntax invocation } ? invocation : call;
        if (expression.Parent is not EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax declaration } })
            return false;
        return declaration.Parent is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 } or UsingStatementSyntax or FieldDeclarationSyntax;
    }

    private static string Short(SyntaxNode node)
    {
        var text = node.ToString().ReplaceLineEndings(" ");
        return text.Length <= 80 ? text : text[..77] + "...";
    }

    /// <summary>The platform and every assembly next to the tests (TorchSharp, Parquet.Net, ScottPlot, xunit, ...).</summary>
    private static IEnumerable<MetadataReference> References()
    {
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var local = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll")
            .Where(f => !Path.GetFileName(f).StartsWith("Workbench.", StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith("workbench.", StringComparison.Ordinal)
                        && !Path.GetFileName(f).StartsWith("Architectures.", StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith("Samplers.", StringComparison.Ordinal)
                        && !Path.GetFileName(f).StartsWith("Studies.", StringComparison.Ordinal));
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in platform.Concat(local))
        {
            try { AssemblyName.GetAssemblyName(file); } catch (BadImageFormatException) { continue; } // native libraries
            byName.TryAdd(Path.GetFileNameWithoutExtension(file), file);
        }
        return byName.Values.Select(f => MetadataReference.CreateFromFile(f));
    }

    /// <summary>
    /// Documentation IDs of TorchSharp members that make a Scalar they never dispose (an implicit conversion or
    /// ToScalar() in their IL and no Dispose), and of every TorchSharp member that calls one of those, read from IL.
    /// </summary>
    private static HashSet<string> TaintedTorchSharpMembers()
    {
        var assembly = typeof(TorchSharp.torch).Assembly;
        var scalar = typeof(TorchSharp.Scalar);
        var makers = new HashSet<MethodBase>(scalar.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == "op_Implicit"));
        foreach (var type in assembly.GetTypes())
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == "ToScalar")) makers.Add(m);
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var calls = new Dictionary<MethodBase, List<MethodBase>>();
        var direct = new HashSet<MethodBase>();
        foreach (var type in assembly.GetTypes())
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                byte[]? il;
                try { il = method.GetMethodBody()?.GetILAsByteArray(); }
                catch (Exception e) when (e is BadImageFormatException or InvalidOperationException) { continue; }
                if (il is null) continue;
                var callees = new List<MethodBase>();
                bool makes = false, disposes = false;
                // call (0x28), callvirt (0x6F) and newobj (0x73) take a method token; a byte that only looks like one resolves to
                // nothing or to an unrelated method, which at worst marks a member as tainted that is not (a false alarm).
                for (int i = 0; i + 4 < il.Length; i++)
                {
                    if (il[i] is not (0x28 or 0x6F or 0x73)) continue;
                    MethodBase? target;
                    try
                    {
                        target = method.Module.ResolveMethod(BitConverter.ToInt32(il, i + 1),
                            type.IsGenericType ? type.GetGenericArguments() : null, method.IsGenericMethod ? method.GetGenericArguments() : null);
                    }
                    catch (Exception e) when (e is ArgumentException or BadImageFormatException or MissingMethodException or TypeLoadException) { continue; }
                    if (target is null) continue;
                    if (makers.Contains(target)) makes = true;
                    else if (target.Name == "Dispose") disposes = true;
                    else if (target.Module == method.Module) callees.Add(target);
                }
                calls[method] = callees;
                if (makes && !disposes && !makers.Contains(method)) direct.Add(method);
            }
        // Taint spreads to callers until nothing changes.
        var tainted = new HashSet<MethodBase>(direct);
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var (method, callees) in calls)
                if (!tainted.Contains(method) && !makers.Contains(method) && callees.Any(tainted.Contains)) changed |= tainted.Add(method);
        }
        return tainted.Select(DocumentationId).ToHashSet();
    }

    /// <summary>The C# documentation comment ID of a reflected method, as Roslyn's GetDocumentationCommentId writes it.</summary>
    private static string DocumentationId(MethodBase method)
    {
        var builder = new StringBuilder("M:").Append(TypeId(method.DeclaringType!, declaring: true)).Append('.')
            .Append(method.IsConstructor ? "#ctor" : method.Name);
        if (method.IsGenericMethod) builder.Append("``").Append(method.GetGenericArguments().Length);
        var parameters = method.GetParameters();
        if (parameters.Length > 0) builder.Append('(').Append(string.Join(",", parameters.Select(p => TypeId(p.ParameterType, declaring: false)))).Append(')');
        if (method is MethodInfo { Name: "op_Implicit" or "op_Explicit" } conversion) builder.Append('~').Append(TypeId(conversion.ReturnType, declaring: false));
        return builder.ToString();
    }

    private static string TypeId(Type type, bool declaring)
    {
        if (type.IsByRef) return TypeId(type.GetElementType()!, declaring) + "@";
        if (type.IsArray) return TypeId(type.GetElementType()!, declaring) + "[" + (type.GetArrayRank() > 1 ? string.Join(",", Enumerable.Repeat("0:", type.GetArrayRank())) : "") + "]";
        if (type.IsPointer) return TypeId(type.GetElementType()!, declaring) + "*";
        if (type.IsGenericMethodParameter) return "``" + type.GenericParameterPosition;
        if (type.IsGenericTypeParameter) return "`" + type.GenericParameterPosition;
        string name = type.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        string prefix = type.IsNested ? TypeId(type.DeclaringType!, declaring: true) + "." : string.IsNullOrEmpty(type.Namespace) ? "" : type.Namespace + ".";
        if (!type.IsGenericType) return prefix + name;
        // Arguments of a nested generic type belong to the innermost type that declares them.
        var arguments = type.GetGenericArguments().Skip(type.IsNested ? type.DeclaringType!.GetGenericArguments().Length : 0).ToArray();
        if (arguments.Length == 0) return prefix + name;
        if (declaring || type.IsGenericTypeDefinition) return prefix + name + "`" + arguments.Length;
        return prefix + name + "{" + string.Join(",", arguments.Select(a => TypeId(a, declaring: false))) + "}";
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Workbench.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Workbench.sln above {AppContext.BaseDirectory}");
    }
}
