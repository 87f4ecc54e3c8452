"""Node-level capacity: per pool and zone, nodes bucketed by free whole cores.

Why buckets: admission must prove that every replica lands on a real node (never "admitted but
Pending"), and with 5,000 nodes a scan per replica is too slow. Free cores per node are small
integers (at most 192 on Graviton4), so each (pool, zone) cell keeps its nodes in buckets keyed
by free cores, plus a bit mask of the non-empty buckets. The tightest node with room for a
replica is then the lowest set bit at or above the replica's cores: a couple of integer
operations, not a scan. A pool's largest free block is the highest set bit, so a hopeless
workload is rejected without touching a node.

Placement is best fit (the node with the fewest free cores that still fits), which keeps large
blocks whole for large replicas. For identical replicas the number that fit is the same in any
order, so spreading or packing never changes whether a workload fits, only where it goes.

Potential nodes (`Node.potential`: what an autoscaler is launching or could launch) live in
cells of their own, `launch_cells`, tried only after every existing node of every allowed pool:
a replica that fits now never waits for a launch.

Every change is journaled so trial placements (elastic counts, preemption what-ifs) are undone
exactly with `rollback`, without copying the cluster.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence

from .snapshot import ARM64, Node


class Cell:
    """The eligible nodes of one pool in one zone, bucketed by free cores (> 0 only)."""

    __slots__ = ("buckets", "mask", "pool", "zone")

    def __init__(self, pool: str, zone: str) -> None:
        self.pool = pool
        self.zone = zone
        self.buckets: dict[int, dict[int, None]] = {}
        self.mask = 0

    def insert(self, node: int, free: int) -> None:
        if free <= 0:
            return
        bucket = self.buckets.get(free)
        if bucket is None:
            bucket = self.buckets[free] = {}
            self.mask |= 1 << free
        bucket[node] = None

    def remove(self, node: int, free: int) -> None:
        if free <= 0:
            return
        bucket = self.buckets[free]
        del bucket[node]
        if not bucket:
            del self.buckets[free]
            self.mask ^= 1 << free

    def move(self, node: int, old: int, new: int) -> None:
        """`remove(node, old)` then `insert(node, new)`, in one call (the hot path of `take`)."""
        buckets = self.buckets
        if old > 0:
            bucket = buckets[old]
            del bucket[node]
            if not bucket:
                del buckets[old]
                self.mask ^= 1 << old
        if new > 0:
            target = buckets.get(new)
            if target is None:
                target = buckets[new] = {}
                self.mask |= 1 << new
            target[node] = None

    def largest(self) -> int:
        return self.mask.bit_length() - 1 if self.mask else 0


class Capacity:
    """Mutable free cores and memory of every node for one planning cycle."""

    def __init__(self, nodes: Sequence[Node], pools: Collection[str]) -> None:
        self.names = [n.name for n in nodes]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.cores = [n.free_cores for n in nodes]
        self.memory = [n.free_memory for n in nodes]
        self.zone = [n.zone for n in nodes]
        self.pool = [n.pool for n in nodes]
        self.eligible = [
            n.schedulable and n.arch == ARM64 and n.pool is not None and n.pool in pools
            for n in nodes
        ]
        self.potential = [n.potential for n in nodes]
        self.any_potential = any(self.potential)
        self.cell_of: list[Cell | None] = [None] * len(nodes)
        self.node_count: dict[str, int] = dict.fromkeys(pools, 0)
        self.eligible_count: dict[str, int] = dict.fromkeys(pools, 0)
        cells: dict[tuple[str, str], Cell] = {}
        launch: dict[tuple[str, str], Cell] = {}
        for i, node in enumerate(nodes):
            if node.pool is not None and node.pool in self.node_count and not node.potential:
                self.node_count[node.pool] += 1
            if not self.eligible[i]:
                continue
            pool = node.pool
            assert pool is not None
            group = launch if node.potential else cells
            if not node.potential:
                self.eligible_count[pool] += 1
            cell = group.get((pool, node.zone))
            if cell is None:
                cell = group[(pool, node.zone)] = Cell(pool, node.zone)
            self.cell_of[i] = cell
            cell.insert(i, node.free_cores)
        by_pool: dict[str, list[Cell]] = {}
        for (pool, _zone), cell in sorted(cells.items()):
            by_pool.setdefault(pool, []).append(cell)
        self.cells: dict[str, tuple[Cell, ...]] = {p: tuple(c) for p, c in by_pool.items()}
        by_pool = {}
        for (pool, _zone), cell in sorted(launch.items()):
            by_pool.setdefault(pool, []).append(cell)
        self.launch_cells: dict[str, tuple[Cell, ...]] = {p: tuple(c) for p, c in by_pool.items()}
        self.journal: list[tuple[int, int, int]] = []

    # -- mutation, journaled -------------------------------------------------------------

    def take(self, node: int, cores: int, memory: int) -> None:
        """Consume cores and memory on a node (negative amounts give them back)."""
        self.journal.append((node, cores, memory))
        self._apply(node, cores, memory)

    def _apply(self, node: int, cores: int, memory: int) -> None:
        old = self.cores[node]
        new = old - cores
        self.cores[node] = new
        self.memory[node] -= memory
        cell = self.cell_of[node]
        if cell is not None and old != new:
            cell.move(node, old, new)

    def mark(self) -> int:
        return len(self.journal)

    def rollback(self, mark: int) -> None:
        """Undo every change made since `mark`, newest first."""
        journal = self.journal
        while len(journal) > mark:
            node, cores, memory = journal.pop()
            self._apply(node, -cores, -memory)

    # -- queries -------------------------------------------------------------------------

    def _cell_groups(self, pools: Sequence[str], launch: bool) -> Iterator[tuple[Cell, ...]]:
        """Each pool's cells of existing nodes, then (with `launch`) of potential nodes."""
        for pool in pools:
            yield self.cells.get(pool, ())
        if launch and self.launch_cells:
            for pool in pools:
                yield self.launch_cells.get(pool, ())

    def largest_block(self, pools: Sequence[str], launch: bool = True) -> int:
        """Most free cores on one eligible node of these pools (potential nodes too, unless
        `launch` is False)."""
        best = 0
        cells = self.cells
        for pool in pools:
            for cell in cells.get(pool, ()):
                largest = cell.mask.bit_length() - 1
                if largest > best:
                    best = largest
        if launch and self.launch_cells:
            for pool in pools:
                for cell in self.launch_cells.get(pool, ()):
                    best = max(best, cell.mask.bit_length() - 1)
        return best

    def has_nodes(self, pools: Sequence[str]) -> bool:
        return any(self.eligible_count.get(p, 0) or p in self.launch_cells for p in pools)

    def count_fit(
        self, pools: Sequence[str], cores: int, memory: int, limit: int, launch: bool = True
    ) -> int:
        """How many replicas of this shape fit right now, counting up to `limit`.

        Exact (not a bound): identical replicas fit per node independently of each other.
        """
        total = 0
        if limit <= 0:
            return 0
        mem = self.memory
        for pool_cells in self._cell_groups(pools, launch):
            for cell in pool_cells:
                mask = cell.mask >> cores
                while mask:
                    low = mask & -mask
                    free = low.bit_length() - 1 + cores
                    per_node = free // cores
                    for node in cell.buckets[free]:
                        if memory:
                            fit = mem[node] // memory
                            if fit > per_node:
                                fit = per_node
                            if fit <= 0:
                                continue
                        else:
                            if mem[node] < 0:
                                continue
                            fit = per_node
                        total += fit
                        if total >= limit:
                            return limit
                    mask ^= low
        return total

    def _best_in_cell(
        self, cell: Cell, cores: int, memory: int, exclude: Collection[int] | None
    ) -> int:
        """The tightest node of a cell with room for one replica, or -1."""
        mem = self.memory
        mask = cell.mask >> cores
        while mask:
            low = mask & -mask
            for node in cell.buckets[low.bit_length() - 1 + cores]:
                if mem[node] >= memory and (exclude is None or node not in exclude):
                    return node
            mask ^= low
        return -1

    def _best_in_pool(
        self, cells: Sequence[Cell], cores: int, memory: int, exclude: Collection[int] | None
    ) -> int:
        """The tightest node of these cells with room for one replica (on a tie, the first
        cell's, in bucket order), or -1: the free-core sizes of all cells are walked together,
        smallest first, so a size no cell has is never looked at."""
        mask = 0
        for cell in cells:
            mask |= cell.mask
        mask >>= cores
        mem = self.memory
        while mask:
            low = mask & -mask
            free = low.bit_length() - 1 + cores
            for cell in cells:
                bucket = cell.buckets.get(free)
                if bucket is None:
                    continue
                for node in bucket:
                    if mem[node] >= memory and (exclude is None or node not in exclude):
                        return node
            mask ^= low
        return -1

    # -- placement -----------------------------------------------------------------------

    def place(
        self,
        pools: Sequence[str],
        cores: int,
        memory: int,
        count: int,
        spread: str,
        existing: Mapping[int, int],
        launch: bool = True,
    ) -> dict[int, int]:
        """Place up to `count` replicas over `pools` in preference order; return node -> replicas.

        Pool preference wins over spread (spread is a soft preference: the Deployments use
        ScheduleAnyway). "Node" puts one replica per node while nodes without one of this
        workload (`existing` included) have room, then packs; "Zone" round-robins over the
        pool's zones, least-used zone first; "None" packs best fit.
        """
        placed: dict[int, int] = {}
        remaining = count
        for pool in pools:
            if remaining <= 0:
                break
            cells = self.cells.get(pool)
            if not cells:
                continue
            if spread == "Zone":
                remaining = self._place_zones(cells, cores, memory, remaining, existing, placed)
                continue
            if spread == "Node":
                remaining = self._place_distinct(cells, cores, memory, remaining, existing, placed)
            remaining = self._place_packed(cells, cores, memory, remaining, placed)
        if launch and remaining > 0 and self.launch_cells:
            # Only now the nodes an autoscaler would launch, in pool preference order, packed
            # (fewer launches): existing nodes of every pool were preferred.
            for pool in pools:
                cells = self.launch_cells.get(pool)
                if cells and remaining > 0:
                    remaining = self._place_packed(cells, cores, memory, remaining, placed)
        return placed

    def launching(self, nodes: Mapping[int, int]) -> int:
        """Of these node -> replicas, the replicas placed on potential nodes."""
        if not self.any_potential:
            return 0  # asked for every workload each cycle: most clusters have none
        potential = self.potential
        return sum(r for n, r in nodes.items() if potential[n])

    def _place_packed(
        self, cells: Sequence[Cell], cores: int, memory: int, remaining: int, placed: dict[int, int]
    ) -> int:
        # After a node takes replicas it has the fewest free cores of any fitting node, so best
        # fit would keep choosing it: fill it in one step instead of one replica at a time.
        while remaining > 0:
            node = self._best_in_pool(cells, cores, memory, None)
            if node < 0:
                break
            fit = self.cores[node] // cores
            if memory and self.memory[node] // memory < fit:
                fit = self.memory[node] // memory
            if remaining < fit:
                fit = remaining
            self.journal.append((node, fit * cores, fit * memory))  # take(), inlined
            self._apply(node, fit * cores, fit * memory)
            placed[node] = placed.get(node, 0) + fit
            remaining -= fit
        return remaining

    def _place_distinct(
        self,
        cells: Sequence[Cell],
        cores: int,
        memory: int,
        remaining: int,
        existing: Mapping[int, int],
        placed: dict[int, int],
    ) -> int:
        used = set(existing)
        while remaining > 0:
            node = self._best_in_pool(cells, cores, memory, used)
            if node < 0:
                break
            self.journal.append((node, cores, memory))  # take(), inlined
            self._apply(node, cores, memory)
            placed[node] = placed.get(node, 0) + 1
            used.add(node)
            remaining -= 1
        return remaining

    def _place_zones(
        self,
        cells: Sequence[Cell],
        cores: int,
        memory: int,
        remaining: int,
        existing: Mapping[int, int],
        placed: dict[int, int],
    ) -> int:
        per_zone: dict[str, int] = {}
        for node, replicas in existing.items():
            per_zone[self.zone[node]] = per_zone.get(self.zone[node], 0) + replicas
        open_cells = list(cells)
        while remaining > 0 and open_cells:
            # The least-used zone; cells are sorted by zone name and the first of equals wins
            # (strict <): deterministic.
            cell = open_cells[0]
            least = per_zone.get(cell.zone, 0)
            for other in open_cells:
                used = per_zone.get(other.zone, 0)
                if used < least:
                    cell, least = other, used
            node = self._best_in_cell(cell, cores, memory, None)
            if node < 0:
                open_cells.remove(cell)
                continue
            self.journal.append((node, cores, memory))  # take(), inlined
            self._apply(node, cores, memory)
            placed[node] = placed.get(node, 0) + 1
            per_zone[cell.zone] = per_zone.get(cell.zone, 0) + 1
            remaining -= 1
        return remaining
