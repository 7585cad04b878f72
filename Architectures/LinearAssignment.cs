namespace Workbench.Architectures;

/// <summary>
/// The linear assignment problem on a square matrix: choose one column per row, each column once, minimising (or
/// maximising) the summed entries. Exact O(n³) shortest-augmenting-path method (Jonker–Volgenant form of the
/// Hungarian algorithm, with row and column potentials). No maintained .NET package offers it (STYLE.md).
/// </summary>
public static class LinearAssignment
{
    /// <param name="matrix">square n × n costs (minimise) or scores (maximise); any finite values, ties allowed.</param>
    /// <returns>assignment[row] = column; a permutation of 0 … n−1.</returns>
    public static int[] Solve(double[,] matrix, bool maximise)
    {
        int n = matrix.GetLength(0);
        if (matrix.GetLength(1) != n)
            throw new ArgumentException($"the assignment matrix must be square, got {n} × {matrix.GetLength(1)}", nameof(matrix));
        // Maximising scores is minimising their negatives.
        double sign = maximise ? -1.0 : 1.0;
        var cost = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double value = matrix[i, j];
                if (!double.IsFinite(value)) throw new ArgumentException($"assignment matrix entry [{i},{j}] is {value}; every entry must be finite", nameof(matrix));
                cost[i, j] = sign * value;
            }

        // 1-based indices; column 0 is a virtual column that holds the row being inserted.
        var u = new double[n + 1];       // row potentials
        var v = new double[n + 1];       // column potentials
        var rowOf = new int[n + 1];      // rowOf[column] = row assigned to it (0: none)
        var previous = new int[n + 1];   // previous column on the shortest alternating path
        var minReduced = new double[n + 1];
        var visited = new bool[n + 1];
        for (int row = 1; row <= n; row++)
        {
            rowOf[0] = row;
            int column = 0;
            Array.Fill(minReduced, double.PositiveInfinity);
            Array.Fill(visited, false);
            // Dijkstra on reduced costs (non-negative by the potentials) until a free column is reached.
            do
            {
                visited[column] = true;
                int i0 = rowOf[column], next = -1;
                double delta = double.PositiveInfinity;
                for (int j = 1; j <= n; j++)
                {
                    if (visited[j]) continue;
                    double reduced = cost[i0 - 1, j - 1] - u[i0] - v[j];
                    if (reduced < minReduced[j]) { minReduced[j] = reduced; previous[j] = column; }
                    if (next < 0 || minReduced[j] < delta) { delta = minReduced[j]; next = j; }
                }
                for (int j = 0; j <= n; j++)
                {
                    if (visited[j]) { u[rowOf[j]] += delta; v[j] -= delta; }
                    else minReduced[j] -= delta;
                }
                column = next;
            } while (rowOf[column] != 0);
            // Augment: flip the alternating path back to the virtual column.
            do
            {
                int before = previous[column];
                rowOf[column] = rowOf[before];
                column = before;
            } while (column != 0);
        }

        var assignment = new int[n];
        for (int j = 1; j <= n; j++) assignment[rowOf[j] - 1] = j - 1;
        return assignment;
    }

    /// <summary>Σ_i matrix[i, assignment[i]].</summary>
    public static double Total(double[,] matrix, IReadOnlyList<int> assignment)
    {
        double total = 0;
        for (int i = 0; i < assignment.Count; i++) total += matrix[i, assignment[i]];
        return total;
    }
}
