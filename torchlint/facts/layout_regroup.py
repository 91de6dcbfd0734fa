"""Which dims each entry of a new shape takes, when a reshape splits some dims and merges others.

`x.reshape(B, C, n_h * n_w, P)` of a `(B * C * n_h, n_w, p_h, p_w)` tensor splits dim 0 into
`B`, `C`, `n_h` and gives `n_h` with dim 1 to one entry. Row-major order decides it: entries
take sizes from the outermost dims first, a dim's outer factors before its inner ones, so an
entry that spans several dims takes the *inner* part of its first dim, whole dims, and the
*outer* part of its last. Its elements are one run of memory (a view) exactly when those dims
are memory-adjacent in order, as for whole dims: the inner part of dim i has dim i's stride and
the outer part of dim j spans dim j's extent (checked with `stride()` and
`untyped_storage().data_ptr()`: `torch.randn(8, 2, 4, 2).transpose(1, 2).reshape(2, 2, 8, 4)`
copies, the same reshape of a contiguous `(8, 4, 2, 2)` tensor is a view).

Sizes are symbolic tokens (`B*C*n_h` as sorted factors); an entry that takes part of a dim must
take a sub-multiset of the factors left in it. An entry that has taken whole dims and still
needs factors that the next dim does not spell (its size unknown: a `chunk` piece) spans into
it: that alone proves a copy when the two dims are not memory-adjacent, and tells nothing else.
Anything else is not told: None.
"""

from __future__ import annotations


def factor_groups(dims, positions, targets, cuts=frozenset()):
    """For each target entry, the positions of the dims it takes a part of, in order; or None.

    `dims`: the receiver's dims (`.size` tokens, `.rank`); `positions`: the dims being reshaped
    (size-1 dims left out); `targets`: the new shape's tokens for them, at most one "-1"; `cuts`:
    the layout's cuts. A prefix of the groups ending in a provably copying one may be returned.
    """
    if sum(1 for t in targets if t == "-1") > 1:
        return None
    if "-1" not in targets:
        # one entry whose size is not spelled in the dims' factors (`self.patch_area` for
        # `p_h * p_w`) takes what the others leave, as `-1` would: row-major grouping is unique
        for wildcard in range(len(targets)):
            groups = _grouped(dims, positions, targets[:wildcard] + ["-1"] + targets[wildcard + 1:], cuts)
            if groups is not None:
                return groups
        return None
    return _grouped(dims, positions, targets, cuts)


def _grouped(dims, positions, targets, cuts):
    if any(t is None for t in targets if t != "-1"):
        return None
    split = targets.index("-1")
    left, right = targets[:split], targets[split + 1:]
    factors = {i: dims[i].size.split("*") if dims[i].size is not None else None for i in positions}
    queue = list(positions)
    groups = []
    proven = None  # the groups up to the first whole entry that merges dims apart in memory
    for target in left:
        taken = _take(factors, queue, target.split("*"), front=True)
        if taken is None:
            return proven
        group, partial = taken
        if partial:
            return groups + [group] if _apart(dims, group, cuts) else proven
        groups.append(group)
        if proven is None and _apart(dims, group, cuts):
            proven = list(groups)  # the entries after it cannot change which dims this one takes
    tail = []
    for target in reversed(right):
        taken = _take(factors, queue, target.split("*"), front=False)
        if taken is None:
            return proven
        group, partial = list(reversed(taken[0])), taken[1]
        if partial:
            return [group] if _apart(dims, group, cuts) else proven
        tail.append(group)
    if not queue or any(factors[i] is None for i in queue):
        return proven
    return groups + [list(queue)] + list(reversed(tail))


def _take(factors, queue, need, front: bool):
    """Take the factors `need` from the outer (front) or inner end of `queue`'s dims: `(group,
    partial)`, partial when the entry spans into a dim whose factors do not tell how much."""
    need = list(need)
    group = []
    while need:
        if not queue:
            return None
        index = queue[0] if front else queue[-1]
        left = factors[index]
        if left is not None and not left:
            queue.pop(0 if front else -1)
            continue
        if left is not None and _contains(need, left):
            group.append(index)
            for factor in left:
                need.remove(factor)
            factors[index] = []
            queue.pop(0 if front else -1)
        elif left is not None and _contains(left, need):
            group.append(index)
            remaining = list(left)
            for factor in need:
                remaining.remove(factor)
            factors[index] = remaining
            need = []
        elif group:
            return group + [index], True
        else:
            return None
    return group, False


def _apart(dims, group, cuts) -> bool:
    """Two neighbouring dims of `group` are known not to be memory-adjacent in order."""
    ranks = [dims[i].rank for i in group]
    if any(not isinstance(r, int) for r in ranks):
        return False
    return any(not (b == a + 1 and b not in cuts) for a, b in zip(ranks, ranks[1:]))


def _contains(bigger, smaller) -> bool:
    return all(bigger.count(f) >= smaller.count(f) for f in set(smaller))
