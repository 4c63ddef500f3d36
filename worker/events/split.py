"""Whether a group of stories is two events: the best two-way split of their cosine
graph, and how much less alike the two parts are than each is within itself. Pure numpy.

The split is spectral: the stories in the order of the graph's Fiedler vector (the second
eigenvector of its normalised Laplacian), cut where the mean cosine between the two sides
is lowest against the mean of the two sides' own means. An earlier 2-means from the two
least alike stories often started from two outliers and found nothing
(``docs/decisions/events.md``).

>>> import numpy as np
>>> s = np.array([[0, .5, .5, .1, .1, .1], [.5, 0, .5, .1, .1, .1], [.5, .5, 0, .1, .1, .1],
...               [.1, .1, .1, 0, .4, .4], [.1, .1, .1, .4, 0, .4], [.1, .1, .1, .4, .4, 0]])
>>> ratio, side = best_split(s, 3)
>>> round(ratio, 3), sorted(np.flatnonzero(side).tolist()) in ([0, 1, 2], [3, 4, 5])
(0.222, True)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from worker.events.window import Vectors

# Above this many stories, the split is found on an even sample of them and the rest
# follow the side they are closer to on average: the eigenvectors cost n^3.
SAMPLE = 300


def similarities(
    vectors: Vectors, rows: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.float64]:
    """The cosine matrix of some of the stories (all by default), 0 on the diagonal."""
    if rows is None:
        rows = np.arange(vectors.rows, dtype=np.int64)
    pick = np.full(vectors.rows, -1, np.int64)
    pick[rows] = np.arange(len(rows))
    keep = pick[vectors.row] >= 0
    row, term, weight = pick[vectors.row[keep]], vectors.term[keep], vectors.weight[keep]
    terms, column = np.unique(term, return_inverse=True)
    # A term only one story has adds to its diagonal only: leave it out of the matrix.
    shared = np.bincount(column, minlength=len(terms)) > 1
    keep = shared[column]
    columns = np.cumsum(shared) - 1
    matrix = np.zeros((len(rows), int(shared.sum())), np.float64)
    matrix[row[keep], columns[column[keep]]] = weight[keep]
    out = matrix @ matrix.T
    np.fill_diagonal(out, 0.0)
    return out


def best_split(sims: npt.NDArray[np.float64], min_part: int) -> tuple[float, npt.NDArray[np.bool_]]:
    """(ratio, side): the cut of the Fiedler order with both sides of ``min_part`` or more
    whose mean cosine between the sides over the mean of the means within them is lowest;
    ``side`` marks one side. Ratio ``inf`` when there is no such cut."""
    n = len(sims)
    none = (float("inf"), np.zeros(n, np.bool_))
    if n < 2 * max(min_part, 2):
        return none
    degree = np.maximum(sims.sum(axis=1), 1e-9)
    scale = 1.0 / np.sqrt(degree)
    laplacian = np.eye(n) - scale[:, None] * sims * scale[None, :]
    _, vectors = np.linalg.eigh(laplacian)
    order = np.argsort(vectors[:, 1] * scale, kind="stable")
    # Sums of the blocks of the reordered matrix for every cut at once.
    blocks = sims[np.ix_(order, order)].cumsum(axis=0).cumsum(axis=1)
    total = blocks[-1, -1]
    k = np.arange(min_part, n - min_part + 1)
    first = blocks[k - 1, k - 1]
    between = blocks[k - 1, -1] - first
    second = total - first - 2 * between
    na, nb = k.astype(np.float64), (n - k).astype(np.float64)
    within = (first / (na * (na - 1)) + second / (nb * (nb - 1))) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(within > 0, (between / (na * nb)) / within, np.inf)
    best = int(np.argmin(ratio))
    if not np.isfinite(ratio[best]):
        return none
    side = np.zeros(n, np.bool_)
    side[order[: k[best]]] = True
    return float(ratio[best]), side


def split(vectors: Vectors, min_part: int) -> tuple[float, npt.NDArray[np.bool_]]:
    """``best_split`` of all the stories of ``vectors``, on a sample of ``SAMPLE`` when they
    are more: each story then goes to the side its mean cosine is higher with."""
    n = vectors.rows
    if n <= SAMPLE:
        return best_split(similarities(vectors), min_part)
    rows = np.linspace(0, n - 1, SAMPLE).round().astype(np.int64)
    ratio, side = best_split(similarities(vectors, rows), min_part)
    if not np.isfinite(ratio):
        return ratio, np.zeros(n, np.bool_)
    means = []
    for part in (rows[side], rows[~side]):
        term, weight = vectors.total(part)
        means.append(vectors.dot(term, weight) / len(part))
    whole = means[0] > means[1]
    if min(int(whole.sum()), int((~whole).sum())) < min_part:
        return float("inf"), np.zeros(n, np.bool_)
    return ratio, whole
