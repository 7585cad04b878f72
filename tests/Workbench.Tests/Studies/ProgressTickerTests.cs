using Workbench.Studies;

namespace Workbench.Tests.Studies;

public sealed class ProgressTickerTests
{
    [Fact]
    public void A_line_at_most_every_ten_seconds_with_an_eta_from_the_mean_pace()
    {
        var now = TimeSpan.Zero;
        var log = new StringWriter();
        var ticker = new ProgressTicker(log, "training", total: 1000, elapsed: () => now);
        // 1 step per second: 9 steps in 9 s print nothing, the 10th second prints one line.
        for (int i = 0; i < 9; i++) { now += TimeSpan.FromSeconds(1); ticker.Advance(); }
        Assert.Equal("", log.ToString());
        now += TimeSpan.FromSeconds(1);
        ticker.Advance();
        // 10 of 1000 steps in 10 s: 990 to go at 1 s each is 16m30s.
        Assert.Equal("  training: 10/1,000 steps (1%), 10s, ETA 16m30s", log.ToString().TrimEnd());
        // The next line waits another 10 s, however many steps pass.
        for (int i = 0; i < 500; i++) { now += TimeSpan.FromMilliseconds(19); ticker.Advance(); }
        Assert.Single(log.ToString().TrimEnd().Split('\n'));
        now += TimeSpan.FromSeconds(1);
        ticker.Advance();
        Assert.Equal(2, log.ToString().TrimEnd().Split('\n').Length);
        Assert.Equal(511, ticker.Done);
    }

    [Fact]
    public void The_last_unit_prints_nothing_the_loop_reports_its_own_end()
    {
        var now = TimeSpan.Zero;
        var log = new StringWriter();
        var ticker = new ProgressTicker(log, "zoo", total: 2, unit: "networks", elapsed: () => now);
        now += TimeSpan.FromMinutes(5);
        ticker.Advance();
        Assert.Contains("1/2 networks (50%), 5m00s, ETA 5m00s", log.ToString());
        now += TimeSpan.FromMinutes(5);
        ticker.Advance();
        Assert.Single(log.ToString().TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData(0.4, "0s")]
    [InlineData(59.4, "59s")]
    [InlineData(61, "1m01s")]
    [InlineData(3599, "59m59s")]
    [InlineData(7322, "2h02m")]
    public void Durations_read_as_a_person_writes_them(double seconds, string text) => Assert.Equal(text, ProgressTicker.Duration(seconds));
}
