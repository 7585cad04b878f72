using Workbench.Studies.Storage;

namespace Workbench.Tests.Storage;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wb-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_write_that_fails_half_way_leaves_the_old_file_and_no_temporary()
    {
        var path = Path.Combine(_dir, "report.md");
        AtomicFile.WriteAllText(path, "old");
        var failure = Assert.Throws<IOException>(() => AtomicFile.Write(path, temp =>
        {
            File.WriteAllText(temp, "half of the new cont");
            throw new IOException("No space left on device");
        }));
        Assert.Equal("No space left on device", failure.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_write_replaces_the_file_whole()
    {
        var path = Path.Combine(_dir, "summary.csv");
        AtomicFile.WriteAllText(path, "a,b\n");
        AtomicFile.WriteAllText(path, "a,b\n1,2\n");
        Assert.Equal("a,b\n1,2\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
        Assert.NotEqual(0xEF, File.ReadAllBytes(path)[0]); // no byte-order mark
    }

    [Fact]
    public void An_io_failure_is_explained_with_the_free_space_and_other_failures_are_not()
    {
        var io = new IOException($"No space left on device : '{Path.Combine(_dir, "draws.parquet")}'");
        var explained = DiskSpace.Explain(io, _dir);
        Assert.IsType<IOException>(explained);
        Assert.StartsWith(io.Message, explained.Message);
        Assert.Matches(@"\((\d+(\.\d)? (bytes|KiB|MiB|GiB)) free on its file system\)$", explained.Message);
        Assert.Same(io, explained.InnerException);
        // Wrapped (as a Parquet or figure library may wrap it): still explained.
        Assert.Contains("free on its file system", DiskSpace.Explain(new InvalidOperationException("write failed", io), _dir).Message);
        // The file the user knows, not the temporary it was being written through.
        Assert.StartsWith("No space left on device : '/runs/a/trace.svg' (",
            DiskSpace.Explain(new IOException("No space left on device : '/runs/a/.trace.svg.4242.tmp'"), _dir).Message);
        Assert.StartsWith("No space left on device : '/runs/a/draws.parquet.parts/part-000003.parquet' (",
            DiskSpace.Explain(new IOException("No space left on device : '/runs/a/draws.parquet.parts/part-000003.parquet.tmp'"), _dir).Message);
        var other = new InvalidOperationException("every chain diverged");
        Assert.Same(other, DiskSpace.Explain(other, _dir));
    }
}
